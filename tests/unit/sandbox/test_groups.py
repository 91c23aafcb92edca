"""Groups in the sandbox: the seed, GET /groups, members, transitiveMembers, memberOf, $ref writes, permissions, and the
room and shared mailboxes Exchange lists with them. In process (a fake clock) for replication lag, then over HTTPS."""

import uuid

import pytest
import requests

from tests.sandbox.client import SandboxError, start_sandbox
from tests.sandbox.errors import GraphError
from tests.sandbox.state import Tenant

ALL_STAFF = "6c2e8a4f-1d3b-4c5e-9f7a-8b0d2e4f6a15"
TAX_TEAM = "3f6a9c1e-2b4d-4e8f-a1c3-5d7e9f1b3c04"
SARAH = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"
TOM = "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13"
IT_ADMIN = "9e4b7a12-3c5d-4e6f-8a9b-0c1d2e3f4a72"
BOARDROOM = "a5c8e2f4-6b7d-4f1a-9c3e-2d4b6f8a0c83"
ADMIN = "2e9a4c61-7b3d-4f8e-a0c5-6d1f3b8e9a20"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
NOT_FOUND = "Resource '%s' does not exist or one of its queried reference-property objects are not present."
EXISTS = "One or more added object references already exist for the following modified properties: 'members'."
DENIED = "Insufficient privileges to complete the operation."
METADATA = "https://graph.microsoft.com/v1.0/$metadata#"
# The default seed's groups, in creation order: two security groups, then one of every other kind (tom.baker in each).
SEEDED = ["Tax Team", "All Staff", "Client Services", "Tax Announcements", "File Share Access", "Licensed Staff", "Head Office",
          "Helpdesk Admins"]
EVENTUAL = {"ConsistencyLevel": "eventual"}


def ref(object_id):
    return {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/%s" % object_id}


# ---------------------------------------------------------------------------------------------------------------
# In process


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def names(members):
    return [data.get("userPrincipalName") or data["displayName"] for _, data in members]


def test_seed_nests_tax_team_in_all_staff():
    tenant = Tenant()
    direct = ["sarah.jones@northwindacct.com", "boardroom@northwindacct.com", "it.admin@northwindacct.onmicrosoft.com", "Tax Team"]
    assert names(tenant.group_members(ALL_STAFF)) == direct
    assert names(tenant.transitive_members(ALL_STAFF)) == direct + ["tom.baker@northwindacct.com"]
    assert tenant.mailbox_of(BOARDROOM)["RecipientTypeDetails"] == "RoomMailbox" and tenant.get_user(BOARDROOM)["assignedLicenses"] == []
    assert tenant.get_user(BOARDROOM)["accountEnabled"] is False and tenant.get_user(BOARDROOM)["mail"] == "boardroom@northwindacct.com"
    assert tenant.mailbox_of(IT_ADMIN)["RecipientTypeDetails"] == "UserMailbox"
    assert Tenant(seed="empty").list_groups() == []


def test_a_membership_change_lags_like_any_write():
    clock = Clock()
    tenant = Tenant(clock=clock)
    tenant.config["replication_lag_s"] = 5
    tenant.remove_group_member(TAX_TEAM, TOM)
    assert names(tenant.group_members(TAX_TEAM)) == ["tom.baker@northwindacct.com"]  # readers still see the old membership
    with pytest.raises(GraphError) as again:
        tenant.remove_group_member(TAX_TEAM, TOM)  # the directory's own copy has changed already
    assert again.value.status == 404
    clock.now += 5
    assert tenant.group_members(TAX_TEAM) == [] and names(tenant.transitive_members(ALL_STAFF))[-1] == "Tax Team"


def test_cycles_and_deleted_members():
    tenant = Tenant()
    tenant.add_group_member(TAX_TEAM, ALL_STAFF)  # a cycle: every object is still listed once
    assert len(names(tenant.transitive_members(TAX_TEAM))) == len(set(names(tenant.transitive_members(TAX_TEAM)))) == 5
    tenant.delete_user(TOM)
    assert "tom.baker@northwindacct.com" not in names(tenant.transitive_members(ALL_STAFF))
    assert [g["displayName"] for _, g in tenant.member_of(SARAH)] == ["All Staff"]
    tenant.restore_deleted(TOM)
    assert names(tenant.group_members(TAX_TEAM))[0] == "tom.baker@northwindacct.com"  # UNCONFIRMED: memberships come back


# ---------------------------------------------------------------------------------------------------------------
# Over HTTPS


class Graph:
    def __init__(self, sandbox, token):
        self.base = sandbox.env["M365_GRAPH_URL"] + "/v1.0"
        self.http = requests.Session()
        self.http.verify = sandbox.env["M365_CA_PATH"]
        self.http.trust_env = False
        self.http.headers["Authorization"] = "Bearer " + token

    def request(self, method, path, **kwargs):
        url = path if path.startswith("https://") else self.base + path
        return self.http.request(method, url, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def ok(self, path, **kwargs):
        response = self.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path, body=None):
        return self.request("POST", path, json=body)

    def delete(self, path):
        return self.request("DELETE", path)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(str(tmp_path_factory.mktemp("sandbox")))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh(sandbox):
    sandbox.reset()


@pytest.fixture
def graph(sandbox):
    return Graph(sandbox, sandbox.token())


def app_graph(sandbox, roles):
    app = sandbox.add_app("groups test %s" % uuid.uuid4(), roles)
    return Graph(sandbox, sandbox.token(app["client_id"], app["client_secret"]))


def error_of(response, status):
    assert response.status_code == status, response.text
    return response.json()["error"]["code"], response.json()["error"]["message"]


def upns(body):
    return [item.get("userPrincipalName") for item in body["value"]]


def test_list_groups_with_filter_select_paging_and_count(sandbox, graph):
    body = graph.ok("/groups")
    assert body["@odata.context"] == METADATA + "groups" and [g["displayName"] for g in body["value"]] == SEEDED
    staff = body["value"][1]
    assert staff["id"] == ALL_STAFF and staff["securityEnabled"] is True and staff["mailEnabled"] is False and staff["groupTypes"] == []
    assert "_members" not in staff and "members" not in staff
    one = graph.ok("/groups", params={"$filter": "displayName eq 'all staff'", "$select": "id,displayName"})
    assert one == {"@odata.context": METADATA + "groups(id,displayName)", "value": [{"id": ALL_STAFF, "displayName": "All Staff"}]}
    both = graph.ok("/groups", params={"$filter": "displayName in ('Tax Team','Nobody') or id eq '%s'" % ALL_STAFF, "$select": "id"})
    assert sorted(g["id"] for g in both["value"]) == sorted([ALL_STAFF, TAX_TEAM])
    assert [g["displayName"] for g in graph.ok("/groups", params={"$filter": "startswith(displayName,'Tax')"})["value"]] == ["Tax Team", "Tax Announcements"]
    sandbox.seed([], [{"displayName": "Extra %d" % i} for i in range(3)])
    pages = [graph.ok("/groups", params={"$top": "2", "$select": "displayName"})]
    while "@odata.nextLink" in pages[-1]:
        pages.append(graph.ok(pages[-1]["@odata.nextLink"]))
    assert [g["displayName"] for page in pages for g in page["value"]] == SEEDED + ["Extra 0", "Extra 1", "Extra 2"]
    assert [len(page["value"]) for page in pages] == [2, 2, 2, 2, 2, 1]
    counted = graph.ok("/groups", params={"$count": "true", "$filter": "displayName ne 'Tax Team'"}, headers=EVENTUAL)
    assert counted["@odata.count"] == len(SEEDED) + 3 - 1
    assert error_of(graph.get("/groups", params={"$filter": "displayName ne 'Tax Team'"}), 400)[0] == "Request_UnsupportedQuery"
    assert error_of(graph.get("/groups", params={"$filter": "jobTitle eq 'x'"}), 400) == (
        "Request_UnsupportedQuery", "Unsupported or invalid query filter clause specified for property 'jobTitle' of resource 'Group'.")
    assert error_of(graph.get("/groups", params={"$select": "nonsense"}), 400)[1] == \
        "Could not find a property named 'nonsense' on type 'microsoft.graph.group'."


def test_get_group_and_unknown_ids(graph):
    body = graph.ok("/groups/%s" % TAX_TEAM, params={"$select": "displayName,description"})
    assert body == {"@odata.context": METADATA + "groups(displayName,description)/$entity", "displayName": "Tax Team",
                    "description": "Tax practice staff"}
    missing = str(uuid.uuid4())
    for path in ("/groups/%s", "/groups/%s/members", "/groups/%s/transitiveMembers"):
        assert error_of(graph.get(path % missing), 404) == ("Request_ResourceNotFound", NOT_FOUND % missing)
    assert error_of(graph.get("/groups/%s" % SARAH), 404)[0] == "Request_ResourceNotFound"  # a user is not a group


def test_members_direct_cast_and_transitive(graph):
    direct = graph.ok("/groups/%s/members" % ALL_STAFF)
    assert direct["@odata.context"] == METADATA + "directoryObjects"
    assert [(m["@odata.type"], m["id"]) for m in direct["value"]] == [
        ("#microsoft.graph.user", SARAH), ("#microsoft.graph.user", BOARDROOM), ("#microsoft.graph.user", IT_ADMIN),
        ("#microsoft.graph.group", TAX_TEAM)]
    assert direct["value"][0]["displayName"] == "Sarah Jones" and "accountEnabled" not in direct["value"][0]  # the user default set
    assert direct["value"][3]["displayName"] == "Tax Team"
    users = graph.ok("/groups/%s/members/microsoft.graph.user" % ALL_STAFF, params={"$select": "userPrincipalName,accountEnabled"})
    assert users["@odata.context"] == METADATA + "users(userPrincipalName,accountEnabled)"
    assert [(u["userPrincipalName"], u["accountEnabled"]) for u in users["value"]] == [
        ("sarah.jones@northwindacct.com", True), ("boardroom@northwindacct.com", False), ("it.admin@northwindacct.onmicrosoft.com", True)]
    groups = graph.ok("/groups/%s/members/microsoft.graph.group" % ALL_STAFF, params={"$select": "id"})
    assert groups["value"] == [{"@odata.type": "#microsoft.graph.group", "id": TAX_TEAM}]
    # Reference 1.2: an OData cast on a transitive list is an advanced query.
    code, _ = error_of(graph.get("/groups/%s/transitiveMembers/microsoft.graph.user" % ALL_STAFF), 400)
    assert code == "Request_UnsupportedQuery"
    everyone = graph.ok("/groups/%s/transitiveMembers/microsoft.graph.user" % ALL_STAFF, params={"$count": "true", "$select": "id"},
                        headers=EVENTUAL)
    assert everyone["@odata.count"] == 4 and [u["id"] for u in everyone["value"]] == [SARAH, BOARDROOM, IT_ADMIN, TOM]
    mixed = graph.ok("/groups/%s/transitiveMembers" % ALL_STAFF, params={"$select": "id,displayName"})
    assert [m["displayName"] for m in mixed["value"]] == ["Sarah Jones", "Boardroom", "IT Admin", "Tax Team", "Tom Baker"]
    paged = graph.ok("/groups/%s/transitiveMembers/microsoft.graph.user" % ALL_STAFF, params={"$count": "true", "$top": "3"}, headers=EVENTUAL)
    rest = graph.ok(paged["@odata.nextLink"], headers=EVENTUAL)
    assert len(paged["value"]) == 3 and [u["id"] for u in rest["value"]] == [TOM] and "@odata.count" not in rest
    # $filter on a relationship needs advanced mode too (reference 6.3).
    assert error_of(graph.get("/groups/%s/members" % ALL_STAFF, params={"$filter": "accountEnabled eq true"}), 400)[0] == \
        "Request_UnsupportedQuery"
    enabled = graph.ok("/groups/%s/transitiveMembers/microsoft.graph.user" % ALL_STAFF,
                       params={"$count": "true", "$filter": "accountEnabled eq true", "$select": "id"}, headers=EVENTUAL)
    assert [u["id"] for u in enabled["value"]] == [SARAH, IT_ADMIN, TOM] and enabled["@odata.count"] == 3
    assert error_of(graph.get("/groups/%s/members" % ALL_STAFF, params={"$orderby": "displayName"}), 400)[0] == "Request_BadRequest"


def test_member_of_lists_direct_groups_and_directory_roles(graph):
    tom = graph.ok("/users/tom.baker@northwindacct.com/memberOf")
    assert tom["@odata.context"] == METADATA + "directoryObjects"
    assert [(m["@odata.type"], m["displayName"]) for m in tom["value"]] == [("#microsoft.graph.group", name) for name in SEEDED
                                                                            if name != "All Staff"]  # not transitive
    assert [m["displayName"] for m in graph.ok("/users/%s/memberOf" % SARAH)["value"]] == ["All Staff"]
    admin = graph.ok("/users/%s/memberOf" % ADMIN)["value"]
    assert [(m["@odata.type"], m["roleTemplateId"], m["displayName"]) for m in admin] == [
        ("#microsoft.graph.directoryRole", GLOBAL_ADMIN, "Global Administrator")]
    assert error_of(graph.get("/users/nobody@northwindacct.com/memberOf"), 404)[0] == "Request_ResourceNotFound"


def test_read_permissions_and_limited_information(sandbox):
    user_reader = app_graph(sandbox, ["User.Read.All"])
    for path in ("/groups", "/groups/%s" % ALL_STAFF, "/groups/%s/members" % ALL_STAFF):
        assert error_of(user_reader.get(path), 403) == ("Authorization_RequestDenied", DENIED), path
    # memberOf with User.Read.All: the group's id and type only (Graph's limited information for inaccessible objects).
    limited = user_reader.ok("/users/%s/memberOf" % TOM)["value"][0]
    assert limited["@odata.type"] == "#microsoft.graph.group" and limited["id"] == TAX_TEAM and limited["displayName"] is None
    both = app_graph(sandbox, ["User.Read.All", "GroupMember.Read.All"])
    assert both.ok("/users/%s/memberOf" % TOM)["value"][0]["displayName"] == "Tax Team"
    # Members with GroupMember.Read.All alone: users show id and type only; groups in full.
    member_reader = app_graph(sandbox, ["GroupMember.Read.All"])
    members = member_reader.ok("/groups/%s/members" % ALL_STAFF)["value"]
    assert members[0]["id"] == SARAH and members[0]["userPrincipalName"] is None and members[0]["@odata.type"] == "#microsoft.graph.user"
    assert members[3]["displayName"] == "Tax Team"
    assert both.ok("/groups/%s/members" % ALL_STAFF)["value"][0]["userPrincipalName"] == "sarah.jones@northwindacct.com"
    for roles in (["Group.Read.All"], ["Directory.Read.All"]):
        assert app_graph(sandbox, roles).get("/groups/%s/transitiveMembers" % ALL_STAFF).status_code == 200, roles
    # Writes need GroupMember.ReadWrite.All (or Group.ReadWrite.All, Directory.ReadWrite.All).
    assert error_of(both.post("/groups/%s/members/$ref" % TAX_TEAM, ref(SARAH)), 403)[0] == "Authorization_RequestDenied"
    assert error_of(both.delete("/groups/%s/members/%s/$ref" % (TAX_TEAM, TOM)), 403)[0] == "Authorization_RequestDenied"
    writer = app_graph(sandbox, ["GroupMember.ReadWrite.All"])
    assert writer.post("/groups/%s/members/$ref" % TAX_TEAM, ref(SARAH)).status_code == 204
    assert app_graph(sandbox, ["Group.ReadWrite.All"]).delete("/groups/%s/members/%s/$ref" % (TAX_TEAM, SARAH)).status_code == 204


def test_add_and_remove_members_through_ref(sandbox, graph):
    sandbox.seed([{"userPrincipalName": "amy.lee@northwindacct.com", "displayName": "Amy Lee"}])
    amy = [u for u in sandbox.state()["users"] if u["userPrincipalName"] == "amy.lee@northwindacct.com"][0]["id"]
    mark = sandbox.log()[-1]["seq"]
    added = graph.post("/groups/%s/members/$ref" % TAX_TEAM, ref(amy))
    assert added.status_code == 204 and added.content == b""
    assert error_of(graph.post("/groups/%s/members/$ref" % TAX_TEAM, ref(amy)), 400) == ("Request_BadRequest", EXISTS)
    missing = str(uuid.uuid4())
    assert error_of(graph.post("/groups/%s/members/$ref" % TAX_TEAM, ref(missing)), 404) == ("Request_ResourceNotFound", NOT_FOUND % missing)
    assert error_of(graph.post("/groups/%s/members/$ref" % missing, ref(amy)), 404) == ("Request_ResourceNotFound", NOT_FOUND % missing)
    assert error_of(graph.post("/groups/%s/members/$ref" % TAX_TEAM, {"@odata.id": "nonsense"}), 400)[0] == "BadRequest"
    assert error_of(graph.post("/groups/%s/members/$ref" % TAX_TEAM, ref(TAX_TEAM)), 400)[0] == "Request_BadRequest"
    # A user is also named by /users/{id}; a group can be added to a group.
    users_ref = {"@odata.id": "https://graph.microsoft.com/v1.0/users/%s" % SARAH}
    assert graph.post("/groups/%s/members/$ref" % TAX_TEAM, users_ref).status_code == 204
    sandbox.seed([], [{"displayName": "Partners"}])
    partners = [g for g in sandbox.state()["groups"] if g["displayName"] == "Partners"][0]["id"]
    assert graph.post("/groups/%s/members/$ref" % partners, ref(TAX_TEAM)).status_code == 204
    assert [u["id"] for u in graph.ok("/groups/%s/transitiveMembers/microsoft.graph.user" % partners, params={"$count": "true"},
                                      headers=EVENTUAL)["value"]] == [TOM, amy, SARAH]
    removed = graph.delete("/groups/%s/members/%s/$ref" % (TAX_TEAM, amy))
    assert removed.status_code == 204
    assert error_of(graph.delete("/groups/%s/members/%s/$ref" % (TAX_TEAM, amy)), 404) == ("Request_ResourceNotFound", NOT_FOUND % amy)
    assert [m["id"] for m in graph.ok("/groups/%s/members" % TAX_TEAM)["value"]] == [TOM, SARAH]
    writes = [(e["method"], e["path"], e["status"]) for e in sandbox.writes(since=mark)]
    assert writes[0] == ("POST", "/v1.0/groups/%s/members/$ref" % TAX_TEAM, 204)
    assert ("DELETE", "/v1.0/groups/%s/members/%s/$ref" % (TAX_TEAM, amy), 204) in writes
    assert [e for e in sandbox.log(since=mark) if e["method"] == "POST" and e["path"].endswith("/$ref")][0]["body_keys"] == ["@odata.id"]


def test_emptying_a_group(sandbox, graph):
    for member in graph.ok("/groups/%s/members" % ALL_STAFF, params={"$select": "id"})["value"]:
        assert graph.delete("/groups/%s/members/%s/$ref" % (ALL_STAFF, member["id"])).status_code == 204
    assert graph.ok("/groups/%s/members" % ALL_STAFF)["value"] == []
    assert graph.ok("/groups/%s/transitiveMembers/microsoft.graph.user" % ALL_STAFF, params={"$count": "true"}, headers=EVENTUAL) == {
        "@odata.context": METADATA + "users", "@odata.count": 0, "value": []}
    assert graph.ok("/groups/%s" % ALL_STAFF)["displayName"] == "All Staff"  # the group stays, empty
    assert [g["members"] for g in sandbox.state()["groups"] if g["id"] == ALL_STAFF] == [[]]
    assert graph.ok("/users/%s/memberOf" % SARAH)["value"] == []
    sandbox.reset()
    assert len(graph.ok("/groups/%s/members" % ALL_STAFF)["value"]) == 4  # reset brings the seed back


def test_group_routes_in_batch(graph):
    answer = graph.post("/$batch", {"requests": [
        {"id": "1", "method": "GET", "url": "/groups/%s/members?$select=id" % TAX_TEAM},
        {"id": "2", "method": "DELETE", "url": "/groups/%s/members/%s/$ref" % (TAX_TEAM, TOM)}]})
    assert answer.status_code == 200
    statuses = dict((r["id"], r["status"]) for r in answer.json()["responses"])
    assert statuses == {"1": 200, "2": 204}


def test_seed_control_for_groups_and_mailbox_types(sandbox, graph):
    created = sandbox.seed([{"userPrincipalName": "kit@northwindacct.com", "mailboxType": "EquipmentMailbox", "accountEnabled": False},
                            {"userPrincipalName": "reception@northwindacct.com", "mailboxType": "SharedMailbox"}],
                           [{"displayName": "Front Office", "members": ["kit@northwindacct.com", "RECEPTION@northwindacct.com", "tax team"]}])
    assert len(created["created"]) == 3
    front = [g for g in sandbox.state()["groups"] if g["displayName"] == "Front Office"][0]
    assert [(m["type"], m["name"]) for m in front["members"]] == [
        ("user", "kit@northwindacct.com"), ("user", "reception@northwindacct.com"), ("group", "Tax Team")]
    kinds = dict((m["UserPrincipalName"], m["RecipientTypeDetails"]) for m in sandbox.state()["mailboxes"])
    assert kinds["kit@northwindacct.com"] == "EquipmentMailbox" and kinds["reception@northwindacct.com"] == "SharedMailbox"
    with pytest.raises(SandboxError) as bad_member:
        sandbox.seed([], [{"displayName": "Broken", "members": ["nobody@northwindacct.com"]}])
    assert "No user or group nobody@northwindacct.com" in str(bad_member.value)
    with pytest.raises(SandboxError):
        sandbox.seed([{"userPrincipalName": "x@northwindacct.com", "mailboxType": "Mailbox"}])


def test_exchange_lists_every_mailbox_type_in_one_call(sandbox):
    sandbox.seed([{"userPrincipalName": "kit@northwindacct.com", "mailboxType": "EquipmentMailbox"},
                  {"userPrincipalName": "reception@northwindacct.com", "mailboxType": "SharedMailbox"}])
    http = requests.Session()
    http.verify = sandbox.env["M365_CA_PATH"]
    http.trust_env = False
    token = sandbox.token(resource=sandbox.env["M365_EXCHANGE_URL"])
    url = "%s/adminapi/beta/%s/InvokeCommand?$select=UserPrincipalName,RecipientTypeDetails,IsResource,ResourceType" % (
        sandbox.env["M365_EXCHANGE_URL"], sandbox.env["M365_TENANT_ID"])
    body = {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}}
    answer = http.post(url, json=body, headers={"Authorization": "Bearer " + token}, timeout=30)
    assert answer.status_code == 200, answer.text
    listed = dict((m["UserPrincipalName"], (m["RecipientTypeDetails"], m["IsResource"], m["ResourceType"])) for m in answer.json()["value"])
    assert listed == {"sarah.jones@northwindacct.com": ("UserMailbox", False, None), "tom.baker@northwindacct.com": ("UserMailbox", False, None),
                      "it.admin@northwindacct.onmicrosoft.com": ("UserMailbox", False, None),
                      "boardroom@northwindacct.com": ("RoomMailbox", True, "Room"),
                      "kit@northwindacct.com": ("EquipmentMailbox", True, "Equipment"),
                      "reception@northwindacct.com": ("SharedMailbox", False, None)}
    rooms = http.post(url, json={"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"RecipientTypeDetails": "RoomMailbox"}}},
                      headers={"Authorization": "Bearer " + token}, timeout=30).json()["value"]
    assert [m["UserPrincipalName"] for m in rooms] == ["boardroom@northwindacct.com"]
    http.close()


def test_graph_refuses_member_writes_to_groups_it_does_not_own(sandbox, graph):
    ids = dict((g["displayName"], g["id"]) for g in graph.ok("/groups")["value"])
    for name, message in (("Tax Announcements", "Cannot Update a mail-enabled security groups and or distribution list."),
                          ("File Share Access", "Cannot Update a mail-enabled security groups and or distribution list."),
                          ("Licensed Staff", "Cannot add or remove members of a group with dynamic membership."),
                          ("Head Office", "Unable to update the specified properties for on-premises mastered Directory Sync objects or "
                                          "objects currently undergoing migration.")):
        assert error_of(graph.post("/groups/%s/members/$ref" % ids[name], ref(SARAH)), 400) == ("Request_BadRequest", message), name
        assert error_of(graph.delete("/groups/%s/members/%s/$ref" % (ids[name], TOM)), 400)[1] == message, name
    # A Microsoft 365 group (a team's) takes $ref writes.
    assert graph.post("/groups/%s/members/$ref" % ids["Client Services"], ref(SARAH)).status_code == 204
    # A role-assignable group: also RoleManagement.ReadWrite.Directory.
    writer = app_graph(sandbox, ["GroupMember.ReadWrite.All"])
    assert error_of(writer.post("/groups/%s/members/$ref" % ids["Helpdesk Admins"], ref(SARAH)), 403)[0] == "Authorization_RequestDenied"
    both = app_graph(sandbox, ["GroupMember.ReadWrite.All", "RoleManagement.ReadWrite.Directory"])
    assert both.post("/groups/%s/members/$ref" % ids["Helpdesk Admins"], ref(SARAH)).status_code == 204
    groups = graph.ok("/users/%s/memberOf/microsoft.graph.group" % SARAH, params={"$select": "displayName,groupTypes"})
    assert groups["@odata.context"] == METADATA + "groups(displayName,groupTypes)"
    assert [g["displayName"] for g in groups["value"]] == ["All Staff", "Client Services", "Helpdesk Admins"]
