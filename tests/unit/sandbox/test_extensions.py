"""Open extensions on users in the sandbox (openTypeExtension): create, list, get, update, delete, $expand=extensions (also
in $batch), the errors Graph gives, permissions, soft delete and restore, and the state dump. A real server, real HTTP."""

import uuid

import pytest

from tests.sandbox.errors import GraphError
from tests.sandbox.state import Tenant

SARAH = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"
SARAH_UPN = "sarah.jones@northwindacct.com"
TOM = "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13"
NAME = "com.northwindacct.leaver"
TYPE = "#microsoft.graph.openTypeExtension"
DENIED = "Insufficient privileges to complete the operation."


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_an_extension_write_lags_like_any_write():
    clock = Clock()
    tenant = Tenant(clock=clock)
    tenant.config["replication_lag_s"] = 5
    tenant.create_extension(SARAH, {"extensionName": NAME, "a": 1}, app_id="app")
    assert tenant.list_extensions(SARAH) == []  # readers still see the user as it was
    with pytest.raises(GraphError) as duplicate:
        tenant.create_extension(SARAH, {"extensionName": NAME}, app_id="app")  # the directory's own copy has it already
    assert duplicate.value.status == 400
    clock.now += 5
    assert tenant.get_extension(SARAH, NAME.upper())["a"] == 1


@pytest.fixture
def graph(graph_call):
    return graph_call


def extension(name=NAME, **properties):
    body = {"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": name}
    body.update(properties)
    return body


def error_of(response):
    return response.json()["error"]["code"], response.json()["error"]["message"]


def test_create_answers_201_with_the_extension_whose_id_is_its_name(graph):
    created = graph("POST", "/users/%s/extensions" % SARAH_UPN, extension(forwarding="tom.baker@northwindacct.com", licences=["E3"],
                                                                          seats=1, restored=False))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users('%s')/extensions/$entity" % SARAH
    assert [key for key in body if not key.startswith("@")][:2] == ["extensionName", "id"]
    assert (body["@odata.type"], body["extensionName"], body["id"]) == (TYPE, NAME, NAME)
    assert (body["forwarding"], body["licences"], body["seats"], body["restored"]) == ("tom.baker@northwindacct.com", ["E3"], 1, False)
    listed = graph("GET", "/users/%s/extensions" % SARAH).json()
    assert listed["@odata.context"].endswith("#users('%s')/extensions" % SARAH)
    assert [item["id"] for item in listed["value"]] == [NAME]
    fetched = graph("GET", "/users/%s/extensions/%s" % (SARAH, NAME))
    assert fetched.status_code == 200 and fetched.json()["licences"] == ["E3"]
    # The fully qualified name names the same extension (opentypeextension-get docs).
    assert graph("GET", "/users/%s/extensions/microsoft.graph.openTypeExtension.%s" % (SARAH, NAME)).json()["id"] == NAME


def test_a_second_create_of_the_same_name_is_refused_as_graph_refuses_it(graph):
    assert graph("POST", "/users/%s/extensions" % SARAH, extension(a=1)).status_code == 201
    again = graph("POST", "/users/%s/extensions" % SARAH, extension(a=2))
    assert again.status_code == 400
    assert error_of(again) == ("Request_BadRequest", "An extension already exists with given id.")
    assert graph("GET", "/users/%s/extensions/%s" % (SARAH, NAME)).json()["a"] == 1


def test_an_absent_extension_is_graphs_404(graph):
    for method in ("GET", "PATCH", "DELETE"):
        response = graph(method, "/users/%s/extensions/com.northwindacct.none" % SARAH, {"a": 1} if method == "PATCH" else None)
        assert response.status_code == 404, method
        assert error_of(response) == ("ResourceNotFound", "Extension with given id not found.")
        assert "request-id" in response.json()["error"]["innerError"]
    unknown_user = graph("GET", "/users/nobody@northwindacct.com/extensions")
    assert unknown_user.status_code == 404 and unknown_user.json()["error"]["code"] == "Request_ResourceNotFound"


def test_patch_replaces_the_custom_properties_and_delete_removes(graph):
    graph("POST", "/users/%s/extensions" % SARAH, extension(theme="dark", color="purple", lang="Japanese"))
    patched = graph("PATCH", "/users/%s/extensions/%s" % (SARAH, NAME), {"theme": "light", "color": None})
    assert patched.status_code == 204 and not patched.content
    body = graph("GET", "/users/%s/extensions/%s" % (SARAH, NAME)).json()
    custom = {key: value for key, value in body.items() if not key.startswith("@")}
    assert custom == {"extensionName": NAME, "id": NAME, "theme": "light", "color": None}
    renamed = graph("PATCH", "/users/%s/extensions/%s" % (SARAH, NAME), {"extensionName": "com.other", "theme": "x"})
    assert renamed.status_code == 400
    deleted = graph("DELETE", "/users/%s/extensions/%s" % (SARAH, NAME))
    assert deleted.status_code == 204
    assert graph("GET", "/users/%s/extensions" % SARAH).json()["value"] == []


def test_create_needs_a_name_and_an_open_type(graph):
    nameless = graph("POST", "/users/%s/extensions" % SARAH, {"@odata.type": "microsoft.graph.openTypeExtension", "a": 1})
    assert nameless.status_code == 400 and nameless.json()["error"]["code"] == "Request_BadRequest"
    wrong_type = graph("POST", "/users/%s/extensions" % SARAH, {"@odata.type": "microsoft.graph.user", "extensionName": NAME})
    assert wrong_type.status_code == 400
    assert graph("GET", "/users/%s/extensions" % SARAH).json()["value"] == []


def test_two_per_app_and_two_kilobytes_each(graph, sandbox):
    too_big = graph("POST", "/users/%s/extensions" % SARAH, extension(notes="x" * 2100))
    assert too_big.status_code == 400
    assert error_of(too_big) == ("BadRequest", "Maximum size supported for each extension is : 2 KB.")
    assert graph("POST", "/users/%s/extensions" % SARAH, extension(notes="x" * 1900)).status_code == 201
    grown = graph("PATCH", "/users/%s/extensions/%s" % (SARAH, NAME), {"notes": "x" * 2100})
    assert grown.status_code == 400 and error_of(grown)[1] == "Maximum size supported for each extension is : 2 KB."
    assert graph("POST", "/users/%s/extensions" % SARAH, extension("com.northwindacct.second")).status_code == 201
    third = graph("POST", "/users/%s/extensions" % SARAH, extension("com.northwindacct.third"))
    assert third.status_code == 400 and third.json()["error"]["code"] == "Request_BadRequest"
    # The limit is per creator app: another app may add its own two.
    app = sandbox.add_app("extension writer %s" % uuid.uuid4(), ["User.ReadWrite.All"])
    other = sandbox.graph_session(app["client_id"], app["client_secret"])
    try:
        answer = other.post(sandbox.graph_url + "/users/%s/extensions" % SARAH, json=extension("com.northwindacct.third"), timeout=30)
    finally:
        other.close()
    assert answer.status_code == 201, answer.text
    assert len(graph("GET", "/users/%s/extensions" % SARAH).json()["value"]) == 3


def test_expand_extensions_on_a_user_the_list_and_in_batch(graph):
    graph("POST", "/users/%s/extensions" % SARAH, extension(theme="dark"))
    graph("POST", "/users/%s/extensions" % SARAH, extension("com.northwindacct.other", x=1))
    one = graph("GET", "/users/%s?$select=id,displayName&$expand=extensions" % SARAH).json()
    assert one["displayName"] == "Sarah Jones" and [item["id"] for item in one["extensions"]] == [NAME, "com.northwindacct.other"]
    assert one["extensions"][0] == {"@odata.type": TYPE, "extensionName": NAME, "id": NAME, "theme": "dark"}
    filtered = graph("GET", "/users/%s?$select=id&$expand=extensions($filter=id eq '%s')" % (SARAH, NAME)).json()
    assert [item["id"] for item in filtered["extensions"]] == [NAME]
    listed = graph("GET", "/users?$select=id&$expand=extensions").json()["value"]
    by_id = {user["id"]: user["extensions"] for user in listed}
    assert len(by_id[SARAH]) == 2 and by_id[TOM] == []
    assert "extensions" not in graph("GET", "/users/%s" % SARAH).json()
    batch = graph("POST", "/$batch", {"requests": [
        {"id": "1", "method": "GET", "url": "/users/%s?$select=id&$expand=extensions" % SARAH},
        {"id": "2", "method": "POST", "url": "/users/%s/extensions" % TOM, "headers": {"Content-Type": "application/json"},
         "body": extension(theme="light")}]}).json()
    answers = {item["id"]: item for item in batch["responses"]}
    assert len(answers["1"]["body"]["extensions"]) == 2
    assert answers["2"]["status"] == 201 and answers["2"]["body"]["id"] == NAME
    assert graph("GET", "/users/%s/extensions/%s" % (TOM, NAME)).json()["theme"] == "light"


def test_extensions_outlive_soft_delete_and_restore_and_show_in_the_dump(graph, sandbox):
    graph("POST", "/users/%s/extensions" % TOM, extension(groups=["Tax Team"]))
    dumped = [user for user in sandbox.state()["users"] if user["id"] == TOM][0]
    assert dumped["_extensions"][0]["id"] == NAME and dumped["_extensions"][0]["groups"] == ["Tax Team"]
    assert dumped["_extensions"][0]["_creator"] == sandbox.env["M365_CLIENT_ID"]
    assert graph("DELETE", "/users/%s" % TOM).status_code == 204
    deleted = [user for user in sandbox.state()["users"] if user["id"] == TOM][0]
    assert deleted["_state"] == "deleted" and deleted["_extensions"][0]["groups"] == ["Tax Team"]
    assert graph("GET", "/users/%s/extensions" % TOM).status_code == 404
    assert graph("POST", "/directory/deletedItems/%s/restore" % TOM).status_code == 200
    assert graph("GET", "/users/%s/extensions/%s" % (TOM, NAME)).json()["groups"] == ["Tax Team"]


def test_permissions_and_costs(sandbox, graph):
    graph("POST", "/users/%s/extensions" % SARAH, extension(a=1))
    reader = sandbox.graph_session(sandbox.env["M365_READONLY_CLIENT_ID"], sandbox.env["M365_READONLY_CLIENT_SECRET"])
    try:
        read = reader.get(sandbox.graph_url + "/users/%s/extensions/%s" % (SARAH, NAME), timeout=30)
        write = reader.patch(sandbox.graph_url + "/users/%s/extensions/%s" % (SARAH, NAME), json={"a": 2}, timeout=30)
        create = reader.post(sandbox.graph_url + "/users/%s/extensions" % SARAH, json=extension("com.other"), timeout=30)
    finally:
        reader.close()
    assert read.status_code == 200 and read.headers["x-ms-resource-unit"] == "1"
    assert write.status_code == 403 and error_of(write) == ("Authorization_RequestDenied", DENIED)
    assert create.status_code == 403
    expanded = graph("GET", "/users/%s?$expand=extensions" % SARAH)
    assert expanded.headers["x-ms-resource-unit"] == "3"  # GET users/{id} is 2 RU, $expand adds 1
    writes = [entry for entry in sandbox.log() if entry["write"] and "/extensions" in entry["path"]]
    assert [entry["status"] for entry in writes] == [201, 403, 403]
