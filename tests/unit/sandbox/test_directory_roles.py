"""Directory roles in the sandbox: role definitions, role assignments, and the admin-user protections of DELETE and
PATCH /users/{id}. A real server in a child process, real HTTP."""

import base64
import time
import uuid

import pytest
import requests

from tests.sandbox.client import start_sandbox

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
PRIVILEGED_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
ADMIN_ID = "2e9a4c61-7b3d-4f8e-a0c5-6d1f3b8e9a20"  # admin@northwindacct.onmicrosoft.com, a Global Administrator in the seed
SARAH = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"
PASSWORD = "Sandbox-Passw0rd!"
CONFLICT = "A conflicting object with one or more of the specified property values is present in the directory."
ASSIGNMENTS = "/roleManagement/directory/roleAssignments"
DEFINITIONS = "/roleManagement/directory/roleDefinitions"

# Microsoft Entra built-in roles reference: name -> template id.
BUILT_IN = {
    "Global Administrator": GLOBAL_ADMIN,
    "Exchange Administrator": EXCHANGE_ADMIN,
    "User Administrator": USER_ADMIN,
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "Billing Administrator": "b0f54661-2d74-4c50-afa3-1ec803f12efe",
    "License Administrator": "4d6ac14f-3453-41d0-bef9-a3e0c569773a",
    "Compliance Administrator": "17315797-102d-40b4-93e0-432062caca18",
    "SharePoint Administrator": "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
    "Teams Administrator": "69091246-20e8-4a56-aa4d-066075b2a7a8",
    "Privileged Authentication Administrator": PRIVILEGED_AUTH_ADMIN,
}


class Graph:
    def __init__(self, sandbox, token):
        self.base = sandbox.env["M365_GRAPH_URL"] + "/v1.0"
        self.http = requests.Session()
        self.http.verify = sandbox.env["M365_CA_PATH"]
        self.http.trust_env = False
        self.http.headers["Authorization"] = "Bearer " + token

    def request(self, method, path, **kwargs):
        return self.http.request(method, self.base + path, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None):
        return self.request("POST", path, json=body)

    def patch(self, path, body):
        return self.request("PATCH", path, json=body)

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
    """A Graph client for a new app with these application permissions, and the app's service principal id."""
    app = sandbox.add_app("test app %s" % uuid.uuid4(), roles)
    described = [a for a in sandbox.control("GET", "apps")["apps"] if a["client_id"] == app["client_id"]][0]
    return Graph(sandbox, sandbox.token(app["client_id"], app["client_secret"])), described["service_principal_id"]


def create_user(graph, name):
    created = graph.post("/users", {"accountEnabled": True, "displayName": name, "mailNickname": name,
                                    "userPrincipalName": "%s@northwindacct.com" % name,
                                    "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": PASSWORD}})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def assign(graph, principal_id, role_id, scope="/"):
    return graph.post(ASSIGNMENTS, {"@odata.type": "#microsoft.graph.unifiedRoleAssignment", "roleDefinitionId": role_id,
                                    "principalId": principal_id, "directoryScopeId": scope})


def error_of(response):
    return response.json()["error"]


def test_role_definitions_carry_the_built_in_template_ids(graph):
    listed = graph.get(DEFINITIONS)
    assert listed.status_code == 200
    body = listed.json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleDefinitions"
    by_name = {d["displayName"]: d for d in body["value"]}
    for name, template_id in BUILT_IN.items():
        definition = by_name[name]
        assert definition["id"] == definition["templateId"] == template_id
        assert definition["isBuiltIn"] is True and definition["isEnabled"] is True and definition["description"]
        assert definition["rolePermissions"][0]["allowedResourceActions"]
    one = graph.get("%s/%s" % (DEFINITIONS, EXCHANGE_ADMIN))
    assert one.status_code == 200 and one.json()["displayName"] == "Exchange Administrator"
    assert one.json()["@odata.context"].endswith("#roleManagement/directory/roleDefinitions/$entity")
    selected = graph.get(DEFINITIONS + "?$select=displayName,templateId").json()["value"]
    assert all(sorted(item) == ["displayName", "templateId"] for item in selected)
    missing = graph.get("%s/%s" % (DEFINITIONS, uuid.uuid4()))
    assert missing.status_code == 404 and error_of(missing)["code"] == "Request_ResourceNotFound"


def test_assignment_create_list_get_delete(graph):
    user_id = create_user(graph, "svc.one")
    created = assign(graph, user_id, EXCHANGE_ADMIN)
    assert created.status_code == 201
    body = created.json()
    expected_id = base64.urlsafe_b64encode(uuid.UUID(EXCHANGE_ADMIN).bytes_le + uuid.UUID(user_id).bytes_le).decode().rstrip("=") + "-1"
    assert list(body) == ["@odata.context", "id", "roleDefinitionId", "principalId", "directoryScopeId"]
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleAssignments/$entity"
    assert body["id"] == expected_id and body["roleDefinitionId"] == EXCHANGE_ADMIN and body["principalId"] == user_id
    assert body["directoryScopeId"] == "/"

    mine = graph.get(ASSIGNMENTS, params={"$filter": "principalId eq '%s'" % user_id}).json()["value"]
    assert mine == [{"id": expected_id, "principalId": user_id, "resourceScope": "/", "directoryScopeId": "/", "roleDefinitionId": EXCHANGE_ADMIN}]
    admins = graph.get(ASSIGNMENTS, params={"$filter": "roleDefinitionId eq '%s'" % GLOBAL_ADMIN}).json()["value"]
    assert [a["principalId"] for a in admins] == [ADMIN_ID]
    both = graph.get(ASSIGNMENTS, params={"$filter": "principalId eq '%s' and roleDefinitionId eq '%s'" % (user_id, GLOBAL_ADMIN)})
    assert both.json()["value"] == []
    assert len(graph.get(ASSIGNMENTS).json()["value"]) == 2

    one = graph.get("%s/%s" % (ASSIGNMENTS, expected_id))
    assert one.status_code == 200 and one.json()["principalId"] == user_id

    duplicate = assign(graph, user_id, EXCHANGE_ADMIN)
    assert duplicate.status_code == 400
    assert error_of(duplicate)["code"] == "Request_BadRequest" and error_of(duplicate)["message"] == CONFLICT

    assert graph.delete("%s/%s" % (ASSIGNMENTS, expected_id)).status_code == 204
    gone = graph.delete("%s/%s" % (ASSIGNMENTS, expected_id))
    assert gone.status_code == 404 and error_of(gone)["code"] == "Request_ResourceNotFound"
    assert graph.get("%s/%s" % (ASSIGNMENTS, expected_id)).status_code == 404
    assert graph.get(ASSIGNMENTS, params={"$filter": "principalId eq '%s'" % user_id}).json()["value"] == []


def test_assignment_input_errors(graph):
    user_id = create_user(graph, "svc.two")
    no_scope = graph.post(ASSIGNMENTS, {"roleDefinitionId": EXCHANGE_ADMIN, "principalId": user_id})
    assert no_scope.status_code == 400 and error_of(no_scope)["code"] == "Request_BadRequest"
    assert assign(graph, user_id, EXCHANGE_ADMIN, scope="/administrativeUnits/x").status_code == 400
    unknown_role = assign(graph, user_id, str(uuid.uuid4()))
    assert unknown_role.status_code == 404 and error_of(unknown_role)["code"] == "Request_ResourceNotFound"
    unknown_principal = assign(graph, str(uuid.uuid4()), EXCHANGE_ADMIN)
    assert unknown_principal.status_code == 404
    bad_filter = graph.get(ASSIGNMENTS, params={"$filter": "startswith(principalId,'a')"})
    assert bad_filter.status_code == 400
    assert graph.get(ASSIGNMENTS).json()["value"] == [a for a in graph.get(ASSIGNMENTS).json()["value"] if a["principalId"] == ADMIN_ID]


def test_permissions(sandbox, graph):
    user_id = create_user(graph, "svc.three")
    users_only, _ = app_graph(sandbox, ["User.ReadWrite.All"])
    refused = users_only.get(DEFINITIONS)
    assert refused.status_code == 403 and error_of(refused)["code"] == "Authorization_RequestDenied"
    assert assign(users_only, user_id, EXCHANGE_ADMIN).status_code == 403
    for role in ("RoleManagement.Read.Directory", "Directory.Read.All"):
        reader, _ = app_graph(sandbox, [role])
        assert reader.get(DEFINITIONS).status_code == 200, role
        assert reader.get(ASSIGNMENTS, params={"$filter": "principalId eq '%s'" % ADMIN_ID}).status_code == 200, role
        assert assign(reader, user_id, EXCHANGE_ADMIN).status_code == 403, role
    writer, _ = app_graph(sandbox, ["RoleManagement.ReadWrite.Directory"])
    created = assign(writer, user_id, EXCHANGE_ADMIN)
    assert created.status_code == 201
    assert writer.delete("%s/%s" % (ASSIGNMENTS, created.json()["id"])).status_code == 204


def test_deleting_or_resetting_an_admin_needs_more_than_user_readwrite_all(sandbox, graph):
    users_only, principal = app_graph(sandbox, ["User.ReadWrite.All"])
    user_id = create_user(graph, "svc.four")
    created = assign(graph, user_id, EXCHANGE_ADMIN)
    # A user holding an admin role: no delete, no password reset, no sign-in block; other properties are fine.
    refused = users_only.delete("/users/" + user_id)
    assert refused.status_code == 403 and error_of(refused) == {
        "code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation.",
        "innerError": error_of(refused)["innerError"]}
    assert users_only.patch("/users/" + user_id, {"passwordProfile": {"password": "An0ther-Passw0rd!"}}).status_code == 403
    assert users_only.patch("/users/" + user_id, {"accountEnabled": False}).status_code == 403
    assert users_only.patch("/users/" + user_id, {"jobTitle": "Service account"}).status_code == 204
    assert users_only.delete("/users/" + ADMIN_ID).status_code == 403
    # Without the role the user is an ordinary user again.
    assert graph.delete("%s/%s" % (ASSIGNMENTS, created.json()["id"])).status_code == 204
    assert users_only.patch("/users/" + user_id, {"passwordProfile": {"password": "An0ther-Passw0rd!"}}).status_code == 204
    # An app whose service principal holds Privileged Authentication Administrator may act on admins.
    assert assign(graph, user_id, GLOBAL_ADMIN).status_code == 201
    assert assign(graph, principal, PRIVILEGED_AUTH_ADMIN).status_code == 201
    assert users_only.patch("/users/" + user_id, {"passwordProfile": {"password": "Th1rd-Passw0rd!"}}).status_code == 204
    assert users_only.delete("/users/" + user_id).status_code == 204


def test_deleting_a_user_removes_its_assignments_and_restore_does_not_return_them(sandbox, graph):
    user_id = create_user(graph, "svc.five")
    assert assign(graph, user_id, GLOBAL_ADMIN).status_code == 201
    assert assign(graph, SARAH, USER_ADMIN).status_code == 201
    admin_app = [a for a in sandbox.control("GET", "apps")["apps"] if a["client_id"] == sandbox.env["M365_CLIENT_ID"]][0]
    sandbox_state = sandbox.state()
    assert {a["principalId"] for a in sandbox_state["role_assignments"]} == {ADMIN_ID, user_id, SARAH}
    # The main app needs a sensitive-action role on its service principal to delete a Global Administrator.
    assert assign(graph, admin_app["service_principal_id"], PRIVILEGED_AUTH_ADMIN).status_code == 201
    assert graph.delete("/users/" + user_id).status_code == 204
    assert graph.get(ASSIGNMENTS, params={"$filter": "principalId eq '%s'" % user_id}).json()["value"] == []
    restored = graph.post("/directory/deletedItems/%s/restore" % user_id)
    assert restored.status_code == 200
    assert graph.get(ASSIGNMENTS, params={"$filter": "principalId eq '%s'" % user_id}).json()["value"] == []
    assert [a["roleDefinitionId"] for a in graph.get(ASSIGNMENTS, params={"$filter": "principalId eq '%s'" % SARAH}).json()["value"]] \
        == [USER_ADMIN]
    sandbox.reset()
    assert [(a["principalId"], a["roleDefinitionId"]) for a in sandbox.state()["role_assignments"]] == [(ADMIN_ID, GLOBAL_ADMIN)]


def test_assignment_to_a_new_user_waits_for_replication(sandbox, graph):
    sandbox.configure(replication_lag_s=1.0)
    user_id = create_user(graph, "svc.six")
    lagging = assign(graph, user_id, EXCHANGE_ADMIN)
    assert lagging.status_code == 404 and error_of(lagging)["code"] == "Request_ResourceNotFound"
    time.sleep(1.2)
    assert assign(graph, user_id, EXCHANGE_ADMIN).status_code == 201
