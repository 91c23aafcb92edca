"""Where real Graph and Entra's login are stricter than a lenient emulator would be: the 100-object page under $expand, the
15 clauses of an OR or `in`, version segments in $batch item URLs, an unknown resource at the token endpoint, the activated
directory roles, and the type cast that listing deleted items needs. A real server, real HTTP."""

import uuid

import pytest

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
ADMIN_ID = "2e9a4c61-7b3d-4f8e-a0c5-6d1f3b8e9a20"
SARAH = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"
TOM = "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13"
EVENTUAL = {"ConsistencyLevel": "eventual"}


@pytest.fixture
def graph(graph_call):
    return graph_call


def error_of(response):
    return response.json()["error"]["code"], response.json()["error"]["message"]


def in_filter(count):
    return "userPrincipalName in (%s)" % ",".join("'person%d@northwindacct.com'" % n for n in range(count))


# ---------------------------------------------------------------------------------------------------------------
# $expand and the page size


def test_expand_caps_a_users_page_at_100_whatever_top_says(graph, fresh_sandbox):
    fresh_sandbox.seed([{"userPrincipalName": "bulk%03d@northwindacct.com" % n} for n in range(120)])
    plain = graph("GET", "/users", params={"$top": "999", "$select": "id"}).json()
    assert len(plain["value"]) == 125 and "@odata.nextLink" not in plain
    first = graph("GET", "/users", params={"$top": "999", "$select": "id", "$expand": "manager"}).json()
    assert len(first["value"]) == 100 and "top=999" in first["@odata.nextLink"]
    second = graph("GET", first["@odata.nextLink"]).json()
    assert len(second["value"]) == 25 and "@odata.nextLink" not in second
    assert len({user["id"] for user in first["value"] + second["value"]}) == 125
    small = graph("GET", "/users", params={"$top": "40", "$select": "id", "$expand": "extensions"}).json()
    assert len(small["value"]) == 40  # a $top under 100 still counts


# ---------------------------------------------------------------------------------------------------------------
# $filter: 15 clauses


def test_in_takes_fifteen_values_outside_advanced_queries(graph):
    assert graph("GET", "/users", params={"$filter": in_filter(15)}).status_code == 200
    refused = graph("GET", "/users", params={"$filter": in_filter(16)})
    assert refused.status_code == 400
    assert error_of(refused) == ("Request_UnsupportedQuery",
                                 "Too many child clauses specified in search filter expression containing 'OR' operators: 16. Max allowed: 15.")
    chain = " or ".join("mail eq 'person%d@northwindacct.com'" % n for n in range(17))
    assert error_of(graph("GET", "/users", params={"$filter": chain}))[1].endswith("operators: 17. Max allowed: 15.")
    mixed = "accountEnabled eq true and (%s or mail eq 'x@northwindacct.com')" % in_filter(15)
    assert error_of(graph("GET", "/users", params={"$filter": mixed}))[1].endswith("operators: 16. Max allowed: 15.")
    groups = graph("GET", "/groups", params={"$filter": "displayName in (%s)" % ",".join("'g%d'" % n for n in range(16))})
    assert groups.status_code == 400 and groups.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_advanced_queries_take_more_values_up_to_a_2048_character_url(graph):
    advanced = graph("GET", "/users", params={"$filter": in_filter(30), "$count": "true"}, headers=EVENTUAL)
    assert advanced.status_code == 200, advanced.text
    assert advanced.json()["@odata.count"] == 0
    too_long = graph("GET", "/users", params={"$filter": in_filter(80), "$count": "true"}, headers=EVENTUAL)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "Request_UnsupportedQuery"


# ---------------------------------------------------------------------------------------------------------------
# $batch item URLs


def test_batch_item_urls_are_relative_to_the_version(graph):
    items = [{"id": "plain", "method": "GET", "url": "/users/%s?$select=id" % SARAH},
             {"id": "repeated", "method": "GET", "url": "/v1.0/users/%s" % SARAH},
             {"id": "beta", "method": "GET", "url": "beta/users/%s" % SARAH},
             {"id": "absolute", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users/%s" % SARAH}]
    answers = {item["id"]: item for item in graph("POST", "/$batch", {"requests": items}).json()["responses"]}
    assert answers["plain"]["status"] == 200 and answers["plain"]["body"]["id"] == SARAH
    for name, segment in (("repeated", "v1.0"), ("beta", "beta"), ("absolute", "v1.0")):
        assert answers[name]["status"] == 400, name
        assert (answers[name]["body"]["error"]["code"], answers[name]["body"]["error"]["message"]) == (
            "BadRequest", "Resource not found for the segment '%s'." % segment)


# ---------------------------------------------------------------------------------------------------------------
# Token endpoint


def test_an_unknown_resource_is_invalid_resource(fresh_sandbox):
    env = fresh_sandbox.env
    with fresh_sandbox.graph_session() as http:
        http.headers.pop("Authorization")
        answer = http.post("%s/%s/oauth2/v2.0/token" % (env["M365_AUTHORITY_URL"], env["M365_TENANT_ID"]), timeout=30,
                           data={"grant_type": "client_credentials", "client_id": env["M365_CLIENT_ID"],
                                 "client_secret": env["M365_CLIENT_SECRET"], "scope": "https://graph.microsoft.cm/.default"})
    body = answer.json()
    assert answer.status_code == 400 and body["error"] == "invalid_resource" and body["error_codes"] == [500011]
    assert body["error_description"].startswith("AADSTS500011: The resource principal named https://graph.microsoft.cm was not found in "
                                                "the tenant named Northwind Accounting.")


# ---------------------------------------------------------------------------------------------------------------
# Activated directory roles


def test_directory_roles_lists_the_activated_roles_with_their_members(graph, fresh_sandbox):
    listed = graph("GET", "/directoryRoles").json()
    assert listed["@odata.context"].endswith("$metadata#directoryRoles") and "@odata.nextLink" not in listed
    templates = {role["roleTemplateId"]: role for role in listed["value"]}
    assert set(templates) == {GLOBAL_ADMIN, EXCHANGE_ADMIN}  # the admin's role, and the one the seeded apps were registered with
    assert set(templates[GLOBAL_ADMIN]) == {"id", "deletedDateTime", "description", "displayName", "roleTemplateId"}
    members = graph("GET", "/directoryRoles/%s/members" % templates[GLOBAL_ADMIN]["id"]).json()["value"]
    assert [(m["@odata.type"], m["id"]) for m in members] == [("#microsoft.graph.user", ADMIN_ID)]
    by_template = graph("GET", "/directoryRoles/roleTemplateId=%s" % GLOBAL_ADMIN).json()
    assert by_template["id"] == templates[GLOBAL_ADMIN]["id"] and by_template["displayName"] == "Global Administrator"
    exchange = graph("GET", "/directoryRoles/%s/members" % templates[EXCHANGE_ADMIN]["id"]).json()["value"]
    apps = {app["service_principal_id"] for app in fresh_sandbox.control("GET", "apps")["apps"]}
    assert exchange and all(m["@odata.type"] == "#microsoft.graph.servicePrincipal" and m["id"] in apps for m in exchange)
    # An assignment activates its role, as the portal's does.
    assignment = {"principalId": SARAH, "roleDefinitionId": USER_ADMIN, "directoryScopeId": "/"}
    assigned = graph("POST", "/roleManagement/directory/roleAssignments", assignment)
    assert assigned.status_code == 201
    expanded = graph("GET", "/directoryRoles", params={"$expand": "members", "$select": "id,roleTemplateId"}).json()["value"]
    user_admin = [role for role in expanded if role["roleTemplateId"] == USER_ADMIN][0]
    assert set(user_admin) == {"id", "roleTemplateId", "members"} and [m["id"] for m in user_admin["members"]] == [SARAH]
    assert graph("GET", "/directoryRoles/%s" % uuid.uuid4()).status_code == 404
    assert graph("GET", "/directoryRoles", params={"$filter": "displayName eq 'x'"}).status_code == 400


def test_directory_roles_need_a_role_management_or_directory_permission(fresh_sandbox):
    env = fresh_sandbox.env
    with fresh_sandbox.graph_session(env["M365_READONLY_CLIENT_ID"], env["M365_READONLY_CLIENT_SECRET"]) as reader:
        refused = reader.get(fresh_sandbox.graph_url + "/directoryRoles", timeout=30)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"
    app = fresh_sandbox.add_app("role reader %s" % uuid.uuid4(), ["RoleManagement.Read.Directory"])
    with fresh_sandbox.graph_session(app["client_id"], app["client_secret"]) as reader:
        roles = reader.get(fresh_sandbox.graph_url + "/directoryRoles", timeout=30)
        members = reader.get(fresh_sandbox.graph_url + "/directoryRoles/roleTemplateId=%s/members" % GLOBAL_ADMIN, timeout=30)
    assert roles.status_code == 200 and members.status_code == 200
    # Without a permission to read users, members come back with their id and type only.
    assert members.json()["value"][0]["id"] == ADMIN_ID and members.json()["value"][0]["userPrincipalName"] is None


# ---------------------------------------------------------------------------------------------------------------
# Deleted items: the type cast


def test_deleted_items_need_the_user_cast(graph):
    assert graph("DELETE", "/users/%s" % TOM).status_code == 204
    untyped = graph("GET", "/directory/deletedItems")
    assert untyped.status_code == 400
    assert error_of(untyped) == ("Request_UnsupportedQuery", "Searches against this resource are not supported. Only specific instances can "
                                                             "be queried.")
    for cast in ("microsoft.graph.user", "graph.user"):
        listed = graph("GET", "/directory/deletedItems/%s" % cast, params={"$select": "id,userPrincipalName"})
        assert listed.status_code == 200 and [user["id"] for user in listed.json()["value"]] == [TOM], cast
        counted = graph("GET", "/directory/deletedItems/%s/$count" % cast, headers=EVENTUAL)
        assert counted.status_code == 200 and counted.text == "1", cast
    assert graph("GET", "/directory/deletedItems/%s" % TOM).json()["id"] == TOM  # one item by id needs no cast
