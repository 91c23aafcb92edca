"""End-to-end tests of the sandbox (tests/sandbox): a real server in a child process, real msal, real requests."""

import json
import time

import jwt
import msal
import pytest
import requests

from tests.sandbox.client import SandboxError, start_sandbox

USER_DEFAULT = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
                "preferredLanguage", "surname", "userPrincipalName", "id"]
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
STANDARD = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
SARAH = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"
PASSWORD = "Sandbox-Passw0rd!"
ENDSWITH_MESSAGE = ("Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query "
                    "parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information")
NOT_FOUND = "Resource '%s' does not exist or one of its queried reference-property objects are not present."


def session_for(sandbox):
    """A requests.Session trusting the sandbox CA. trust_env is off: REQUESTS_CA_BUNDLE in the environment would
    otherwise replace session.verify, and proxy variables must not catch loopback traffic."""
    session = requests.Session()
    session.verify = sandbox.env["M365_CA_PATH"]
    session.trust_env = False
    return session


class Graph:
    """A tiny Graph client for the tests: one app's token, full control over headers."""

    def __init__(self, sandbox, token):
        self.base = sandbox.env["M365_GRAPH_URL"] + "/v1.0"
        self.http = session_for(sandbox)
        self.http.headers["Authorization"] = "Bearer " + token

    def request(self, method, path, **kwargs):
        url = path if path.startswith("https://") else self.base + path
        return self.http.request(method, url, timeout=30, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, json=body, **kwargs)

    def patch(self, path, body, **kwargs):
        return self.request("PATCH", path, json=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(str(tmp_path_factory.mktemp("sandbox")))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh(sandbox):
    sandbox.reset()


@pytest.fixture(scope="module")
def tokens(sandbox):
    env = sandbox.env
    return {
        "write": sandbox.token(),
        "read": sandbox.token(env["M365_READONLY_CLIENT_ID"], env["M365_READONLY_CLIENT_SECRET"]),
    }


@pytest.fixture
def graph(sandbox, tokens):
    return Graph(sandbox, tokens["write"])


@pytest.fixture
def reader(sandbox, tokens):
    return Graph(sandbox, tokens["read"])


def new_user(name="new.hire", domain="northwindacct.com", **extra):
    body = {"accountEnabled": True, "displayName": name.replace(".", " ").title(), "mailNickname": name,
            "userPrincipalName": "%s@%s" % (name, domain),
            "passwordProfile": {"forceChangePasswordNextSignIn": True, "password": PASSWORD}}
    body.update(extra)
    return body


def error_of(response):
    return response.json()["error"]


# --------------------------------------------------------------------------------------------------------------
# Login service and msal


def msal_app(sandbox, client_id, credential):
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential, authority="%s/%s" % (sandbox.env["M365_AUTHORITY_URL"], sandbox.env["M365_TENANT_ID"]),
        instance_discovery=False, http_client=session_for(sandbox))


def test_msal_gets_tokens_with_secret_and_certificate(sandbox):
    env = sandbox.env
    result = msal_app(sandbox, env["M365_CLIENT_ID"], env["M365_CLIENT_SECRET"]).acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert result["token_type"] == "Bearer" and result["token_source"] == "identity_provider"
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == env["M365_GRAPH_URL"]
    assert claims["iss"] == "https://sts.windows.net/%s/" % env["M365_TENANT_ID"]
    assert claims["appid"] == env["M365_CLIENT_ID"] and "User.ReadWrite.All" in claims["roles"]

    with open(env["M365_CERT_CLIENT_CERTIFICATE_PATH"]) as handle:
        pem = handle.read()
    assert pem.index("PRIVATE KEY") < pem.index("CERTIFICATE-----")
    credential = {"private_key": pem, "thumbprint": env["M365_CERT_CLIENT_CERTIFICATE_THUMBPRINT"]}
    result = msal_app(sandbox, env["M365_CERT_CLIENT_ID"], credential).acquire_token_for_client([env["M365_GRAPH_URL"] + "/.default"])
    assert "access_token" in result, result.get("error_description")
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["appid"] == env["M365_CERT_CLIENT_ID"] and claims["appidacr"] == "2"
    response = Graph(sandbox, result["access_token"]).get("/users/" + SARAH)
    assert response.status_code == 200

    # The Exchange alias maps to the sandbox's Exchange URL.
    result = msal_app(sandbox, env["M365_CLIENT_ID"], env["M365_CLIENT_SECRET"]).acquire_token_for_client(
        ["https://outlook.office365.com/.default"])
    assert jwt.decode(result["access_token"], options={"verify_signature": False})["aud"] == env["M365_EXCHANGE_URL"]


def test_login_refuses_bad_credentials_unknown_apps_and_scopes(sandbox):
    env = sandbox.env
    result = msal_app(sandbox, env["M365_CLIENT_ID"], "not-the-secret").acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert result["error"] == "invalid_client"
    assert result["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert result["error_codes"] == [7000215] and "correlation_id" in result and "trace_id" in result

    unknown = "11111111-2222-3333-4444-555555555555"
    result = msal_app(sandbox, unknown, "whatever").acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert result["error"] == "unauthorized_client" and "AADSTS700016" in result["error_description"]

    result = msal_app(sandbox, env["M365_CLIENT_ID"], env["M365_CLIENT_SECRET"]).acquire_token_for_client(["https://graph.microsoft.com/User.Read"])
    assert result["error"] == "invalid_scope" and "AADSTS1002012" in result["error_description"]

    http = session_for(sandbox)
    response = http.get("%s/%s/v2.0/.well-known/openid-configuration" % (env["M365_AUTHORITY_URL"], "00000000-0000-0000-0000-000000000000"))
    assert response.status_code == 400 and response.json()["error"] == "invalid_tenant"
    config = http.get("%s/northwindacct.com/v2.0/.well-known/openid-configuration" % env["M365_AUTHORITY_URL"]).json()
    assert config["token_endpoint"] == "%s/%s/oauth2/v2.0/token" % (env["M365_AUTHORITY_URL"], env["M365_TENANT_ID"])
    assert config["issuer"] == "%s/%s/v2.0" % (env["M365_AUTHORITY_URL"], env["M365_TENANT_ID"])


# --------------------------------------------------------------------------------------------------------------
# Users


def test_user_round_trip(graph):
    created = graph.post("/users", new_user(usageLocation="AU", jobTitle="Bookkeeper"))
    assert created.status_code == 201
    body = created.json()
    assert list(body) == ["@odata.context", "id"] + USER_DEFAULT[:-1]
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    assert body["userPrincipalName"] == "new.hire@northwindacct.com" and body["jobTitle"] == "Bookkeeper"
    assert body["businessPhones"] == [] and body["mail"] is None
    assert created.headers["request-id"] and created.headers["client-request-id"]
    user_id = body["id"]

    got = graph.get("/users/" + user_id, headers={"client-request-id": "my-correlation"})
    assert got.status_code == 200 and got.headers["client-request-id"] == "my-correlation"
    assert list(got.json()) == ["@odata.context"] + USER_DEFAULT
    selected = graph.get("/users/new.hire@northwindacct.com?$select=id,accountEnabled,usageLocation,mailNickname").json()
    assert selected == {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users(id,accountEnabled,usageLocation,mailNickname)/$entity",
                        "id": user_id, "accountEnabled": True, "usageLocation": "AU", "mailNickname": "new.hire"}
    assert "passwordProfile" not in json.dumps(graph.get("/users?$select=id,displayName").json())

    patched = graph.patch("/users/" + user_id, {"jobTitle": "Senior Bookkeeper", "accountEnabled": False})
    assert patched.status_code == 204 and patched.content == b""
    after = graph.get("/users/%s?$select=jobTitle,accountEnabled" % user_id).json()
    assert after["jobTitle"] == "Senior Bookkeeper" and after["accountEnabled"] is False

    deleted = graph.delete("/users/" + user_id)
    assert deleted.status_code == 204 and deleted.content == b""
    missing = graph.get("/users/" + user_id)
    assert missing.status_code == 404
    error = error_of(missing)
    assert error["code"] == "Request_ResourceNotFound" and error["message"] == NOT_FOUND % user_id
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}

    listed = graph.get("/directory/deletedItems/microsoft.graph.user").json()["value"]
    entry = next(item for item in listed if item["id"] == user_id)
    assert entry["userPrincipalName"] == user_id.replace("-", "") + "new.hire@northwindacct.com" and entry["deletedDateTime"]
    # The UPN is free again while the first user sits in the deleted items.
    again = graph.post("/users", new_user())
    assert again.status_code == 201
    conflict = graph.post("/directory/deletedItems/%s/restore" % user_id)
    assert conflict.status_code == 400 and error_of(conflict)["details"] == [{"target": "userPrincipalName", "code": "ObjectConflict"}]
    assert graph.delete("/users/" + again.json()["id"]).status_code == 204

    restored = graph.post("/directory/deletedItems/%s/restore" % user_id)
    assert restored.status_code == 200
    body = restored.json()
    assert body["@odata.type"] == "#microsoft.graph.user" and body["userPrincipalName"] == "new.hire@northwindacct.com"
    assert graph.get("/users/" + user_id).status_code == 200

    assert graph.delete("/users/" + user_id).status_code == 204
    assert graph.delete("/directory/deletedItems/" + user_id).status_code == 204
    assert graph.get("/directory/deletedItems/" + user_id).status_code == 404


def test_create_and_update_errors(graph):
    conflict = graph.post("/users", new_user("sarah.jones"))
    assert conflict.status_code == 400
    error = error_of(conflict)
    assert error["code"] == "Request_BadRequest"
    assert error["message"] == "Another object with the same value for property userPrincipalName already exists."
    assert error["details"] == [{"target": "userPrincipalName", "code": "ObjectConflict"}]

    for domain in ("northwind-legacy.com", "contoso.com"):
        unverified = graph.post("/users", new_user(domain=domain))
        assert unverified.status_code == 400
        assert error_of(unverified)["message"] == ("The domain portion of the userPrincipalName property is invalid. You must use one of the "
                                                   "verified domain names in your organization.")

    for password in ("short1!", "alllowercaseletters", "New.hire-2024!"):
        weak = graph.post("/users", new_user(passwordProfile={"password": password}))
        assert weak.status_code == 400, password
        assert error_of(weak) == {**error_of(weak), "code": "Request_BadRequest", "message": (
            "The specified password does not comply with password complexity requirements. Please provide a different password.")}

    body = new_user()
    del body["mailNickname"]
    missing = graph.post("/users", body)
    assert missing.status_code == 400 and error_of(missing)["message"] == "Invalid value specified for property 'mailNickname' of resource 'User'."

    bad_select = graph.get("/users?$select=id,favouriteColour")
    assert bad_select.status_code == 400
    assert error_of(bad_select)["message"] == "Could not find a property named 'favouriteColour' on type 'microsoft.graph.user'."

    assert graph.patch("/users/" + SARAH, {"proxyAddresses": ["SMTP:x@northwindacct.com"]}).status_code == 400
    assert graph.patch("/users/" + SARAH, {"favouriteColour": "blue"}).status_code == 400
    bad_location = graph.patch("/users/" + SARAH, {"usageLocation": "XX"})
    assert bad_location.status_code == 400 and error_of(bad_location)["message"] == "One or more properties contains invalid values."
    assert graph.patch("/users/" + SARAH, {"businessPhones": ["+61 2 1111 1111", "+61 2 2222 2222"]}).status_code == 400
    assert graph.get("/nonsense").json()["error"]["message"] == "Resource not found for the segment 'nonsense'."


# --------------------------------------------------------------------------------------------------------------
# Paging, $count, advanced queries


def test_paging_count_and_advanced_queries(sandbox, graph):
    # 245 + the seed's 5 users = 250.
    sandbox.seed([{"userPrincipalName": "bulk%03d@northwindacct.com" % n, "displayName": "Bulk %03d" % n} for n in range(245)])
    first = graph.get("/users?$top=100&$select=id,userPrincipalName")
    assert first.status_code == 200
    pages, link, ids = [first.json()], first.json().get("@odata.nextLink"), []
    assert link.startswith(sandbox.env["M365_GRAPH_URL"] + "/v1.0/users?") and "$top=100" in link and "$skiptoken=" in link
    while link:
        page = graph.get(link).json()
        pages.append(page)
        link = page.get("@odata.nextLink")
    assert [len(page["value"]) for page in pages] == [100, 100, 50]
    for page in pages:
        ids += [item["id"] for item in page["value"]]
        assert "@odata.count" not in page
    assert len(set(ids)) == 250

    # $count=true without the header is silently ignored; with it, the count comes on the first page only.
    assert "@odata.count" not in graph.get("/users?$count=true&$top=5").json()
    eventual = {"ConsistencyLevel": "eventual"}
    counted = graph.get("/users?$count=true&$top=100", headers=eventual).json()
    assert counted["@odata.count"] == 250
    assert "@odata.count" not in graph.get(counted["@odata.nextLink"], headers=eventual).json()

    no_header = graph.get("/users/$count")
    assert no_header.status_code == 400 and error_of(no_header) == {**error_of(no_header), "code": "Request_BadRequest",
                                                                    "message": "$count is not currently supported."}
    count = graph.get("/users/$count", headers=eventual)
    assert count.status_code == 200 and count.text == "250" and count.headers["content-type"].startswith("text/plain")

    query = "/users?$filter=endswith(userPrincipalName,'7@northwindacct.com')&$count=true&$top=10"
    refused = graph.get(query)
    assert refused.status_code == 400
    assert error_of(refused)["code"] == "Request_UnsupportedQuery" and error_of(refused)["message"] == ENDSWITH_MESSAGE
    advanced = graph.get(query, headers=eventual).json()
    assert advanced["@odata.count"] == 24 and len(advanced["value"]) == 10
    # The next page needs the header again.
    assert graph.get(advanced["@odata.nextLink"]).status_code == 400
    assert len(graph.get(advanced["@odata.nextLink"], headers=eventual).json()["value"]) == 10

    assert graph.get("/users?$filter=startswith(displayName,'Bulk 01')").json()["value"].__len__() == 10
    ordered = graph.get("/users?$orderby=displayName desc&$top=1&$select=displayName").json()["value"]
    assert ordered == [{"displayName": "Tom Baker"}]
    assert graph.get("/users?$top=1000").status_code == 400
    assert graph.get("/users?$top=0").status_code == 400


# --------------------------------------------------------------------------------------------------------------
# Licences


def consumed(graph, sku_id):
    skus = graph.get("/subscribedSkus").json()["value"]
    return next(sku["consumedUnits"] for sku in skus if sku["skuId"] == sku_id)


def test_assign_license_seats_and_errors(graph):
    skus = graph.get("/subscribedSkus").json()["value"]
    e3 = next(sku for sku in skus if sku["skuId"] == E3)
    assert e3["id"] == "5f0c6a3e-2b7d-4c1a-9e8f-3d6b1a2c4e50_" + E3 and e3["consumedUnits"] == 2 and e3["prepaidUnits"]["enabled"] == 2
    user = graph.post("/users", new_user(usageLocation="AU")).json()
    path = "/users/%s/assignLicense" % user["id"]
    seeded = consumed(graph, STANDARD)  # the seed's it.admin holds one

    assigned = graph.post(path, {"addLicenses": [{"disabledPlans": [], "skuId": STANDARD}], "removeLicenses": []})
    assert assigned.status_code == 200
    assert assigned.json()["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    assert assigned.json()["mail"] == "new.hire@northwindacct.com"
    assert consumed(graph, STANDARD) == seeded + 1
    mailbox = graph.get("/users/%s?$select=mail,proxyAddresses,assignedLicenses" % user["id"]).json()
    assert mailbox["proxyAddresses"] == ["SMTP:new.hire@northwindacct.com", "smtp:new.hire@northwindacct.onmicrosoft.com"]
    assert mailbox["assignedLicenses"] == [{"disabledPlans": [], "skuId": STANDARD}]

    full = graph.post(path, {"addLicenses": [{"disabledPlans": [], "skuId": E3}], "removeLicenses": []})
    assert full.status_code == 400
    assert error_of(full) == {**error_of(full), "code": "Request_BadRequest",
                              "message": "Subscription with SKU %s does not have any available licenses." % E3}
    assert consumed(graph, E3) == 2

    nowhere = graph.post("/users", new_user("no.location")).json()
    located = graph.post("/users/%s/assignLicense" % nowhere["id"], {"addLicenses": [{"disabledPlans": [], "skuId": STANDARD}], "removeLicenses": []})
    assert located.status_code == 400
    assert error_of(located)["message"] == "License assignment cannot be done for user with invalid usage location."

    not_guid = graph.post(path, {"addLicenses": [{"skuId": "ENTERPRISEPACK"}], "removeLicenses": []})
    assert not_guid.status_code == 400 and error_of(not_guid)["message"].startswith("Cannot convert a primitive value to the expected type 'Edm.Guid'.")
    unknown = "00000000-1111-2222-3333-444444444444"
    assert error_of(graph.post(path, {"addLicenses": [{"skuId": unknown}], "removeLicenses": []}))["message"] == (
        "License %s does not correspond to a valid company License." % unknown)
    assert error_of(graph.post(path, {"addLicenses": [], "removeLicenses": [E3]}))["message"] == "User does not have a corresponding license."

    removed = graph.post(path, {"addLicenses": [], "removeLicenses": [STANDARD]})
    assert removed.status_code == 200 and consumed(graph, STANDARD) == seeded
    # Deleting a licensed user frees the seat.
    assert graph.post(path, {"addLicenses": [{"skuId": STANDARD}], "removeLicenses": []}).status_code == 200
    assert graph.delete("/users/" + user["id"]).status_code == 204 and consumed(graph, STANDARD) == seeded


# --------------------------------------------------------------------------------------------------------------
# $batch and permissions


def test_batch(sandbox, graph, reader):
    too_many = graph.post("/$batch", {"requests": [{"id": str(n), "method": "GET", "url": "/users/" + SARAH} for n in range(21)]})
    assert too_many.status_code == 400 and error_of(too_many)["message"] == "The batch request must not contain more than 20 requests."
    duplicate = graph.post("/$batch", {"requests": [{"id": "a", "method": "GET", "url": "/domains"}, {"id": "A", "method": "GET", "url": "/domains"}]})
    assert duplicate.status_code == 400

    sandbox.clear_log()
    requests_ = [{"id": str(n), "method": "GET", "url": "users/%s?$select=id" % SARAH} for n in range(1, 9)]
    requests_ += [
        {"id": "9", "method": "GET", "url": "/users/nobody@northwindacct.com"},
        {"id": "10", "method": "PATCH", "url": "/users/nobody@northwindacct.com", "headers": {"Content-Type": "application/json"},
         "body": {"jobTitle": "x"}, "dependsOn": ["9"]},
        {"id": "11", "method": "POST", "url": "/users", "headers": {"Content-Type": "application/json"}, "body": new_user()},
        {"id": "12", "method": "PATCH", "url": "/users/new.hire@northwindacct.com", "headers": {"Content-Type": "application/json"},
         "body": {"jobTitle": "Clerk"}, "dependsOn": ["11"]},
    ]
    response = graph.post("/$batch", {"requests": requests_})
    assert response.status_code == 200
    items = response.json()["responses"]
    assert sorted(item["id"] for item in items) == sorted(item["id"] for item in requests_)
    assert [item["id"] for item in items] != [item["id"] for item in requests_]  # shuffled (seeded)
    by_id = {item["id"]: item for item in items}
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["id"] == SARAH
    assert by_id["9"]["status"] == 404 and by_id["9"]["body"]["error"]["code"] == "Request_ResourceNotFound"
    assert by_id["10"]["status"] == 424
    assert by_id["11"]["status"] == 201 and by_id["12"]["status"] == 204 and "body" not in by_id["12"]
    assert graph.get("/users/new.hire@northwindacct.com?$select=jobTitle").json()["jobTitle"] == "Clerk"

    log = sandbox.log()
    parent = next(entry for entry in log if entry["path"] == "/v1.0/$batch")
    assert parent["write"] is False and parent["batch"] is None and parent["body_keys"] == ["requests"]
    children = [entry for entry in log if entry["batch"] == parent["seq"]]
    assert len(children) == 12 and sum(entry["write"] for entry in children) == 3
    assert sorted(entry["status"] for entry in children if entry["write"]) == [201, 204, 424]

    mixed = reader.post("/$batch", {"requests": [
        {"id": "read", "method": "GET", "url": "/users/" + SARAH},
        {"id": "write", "method": "POST", "url": "/users", "headers": {"Content-Type": "application/json"}, "body": new_user("other")},
    ]}).json()["responses"]
    statuses = {item["id"]: item["status"] for item in mixed}
    assert statuses == {"read": 200, "write": 403}


def test_read_only_app_cannot_write(reader):
    assert reader.get("/users").status_code == 200
    refused = reader.post("/users", new_user())
    assert refused.status_code == 403
    error = error_of(refused)
    assert error["code"] == "Authorization_RequestDenied" and error["message"] == "Insufficient privileges to complete the operation."
    assert reader.get("/users/new.hire@northwindacct.com").status_code == 404


# --------------------------------------------------------------------------------------------------------------
# Realism


def test_latency(sandbox, graph):
    sandbox.configure(latency_ms=300)
    started = time.monotonic()
    assert graph.get("/domains").status_code == 200
    assert time.monotonic() - started >= 0.3
    sandbox.configure(latency_ms=0)


def test_replication_lag(sandbox, graph):
    sandbox.configure(replication_lag_s=1.0)
    created = graph.post("/users", new_user())
    assert created.status_code == 201 and created.json()["userPrincipalName"] == "new.hire@northwindacct.com"
    user_id = created.json()["id"]
    assert graph.get("/users/" + user_id).status_code == 404
    assert graph.patch("/users/" + user_id, {"jobTitle": "x"}).status_code == 404
    assert user_id not in [user["id"] for user in graph.get("/users").json()["value"]]
    time.sleep(1.1)
    assert graph.get("/users/" + user_id).status_code == 200
    assert graph.patch("/users/" + user_id, {"jobTitle": "Clerk"}).status_code == 204
    # Readers see the previous version until the lag has passed.
    assert graph.get("/users/%s?$select=jobTitle" % user_id).json()["jobTitle"] is None


def test_throttling(sandbox, graph):
    # 10 RU per 3 s (10 s window x 0.3): five GET /users (2 RU each) pass, the sixth waits well under a second.
    sandbox.configure(throttle={"enabled": True, "ru_limit": 10, "time_scale": 0.3, "write_limit": 2})
    answers = [graph.get("/users") for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    assert answers[0].headers["x-ms-resource-unit"] == "2"
    assert "x-ms-throttle-limit-percentage" not in answers[0].headers and float(answers[4].headers["x-ms-throttle-limit-percentage"]) > 0.8
    throttled = answers[5]
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    assert throttled.headers["x-ms-throttle-scope"] == "Tenant_Application/Read/%s/%s" % (sandbox.env["M365_CLIENT_ID"], sandbox.env["M365_TENANT_ID"])
    error = throttled.json()["error"]
    assert error["code"] == "TooManyRequests" and error["message"] == "Please retry again later."
    assert error["innerError"]["code"] == "429" and error["innerError"]["status"] == "429"
    time.sleep(int(throttled.headers["Retry-After"]))
    assert graph.get("/users").status_code == 200

    sandbox.configure(throttle={"ru_limit": 1000})  # new limits start new buckets; now only the write limit (2 per 45 s) bites
    writes = [graph.patch("/users/" + SARAH, {"jobTitle": "Auditor %d" % n}) for n in range(3)]
    assert [answer.status_code for answer in writes] == [204, 204, 429]
    assert writes[2].headers["x-ms-throttle-information"] == "WriteLimitExceeded"
    assert int(writes[2].headers["Retry-After"]) >= 1


def test_faults(sandbox, graph):
    sandbox.configure(faults=[{"path": "^/v1.0/domains$", "kind": "status", "status": 503, "retry_after": 2, "count": 1}])
    failed = graph.get("/domains")
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert failed.json()["error"]["code"] == "serviceNotAvailable"
    assert graph.get("/domains").status_code == 200

    sandbox.configure(faults=[{"path": "^/v1.0/users$", "method": "POST", "kind": "reset_before", "count": 1}])
    with pytest.raises(requests.ConnectionError):
        graph.post("/users", new_user())
    assert graph.get("/users/new.hire@northwindacct.com").status_code == 404

    sandbox.configure(faults=[{"path": "^/v1.0/users$", "method": "POST", "kind": "reset_after", "count": 1}])
    with pytest.raises(requests.ConnectionError):
        graph.post("/users", new_user())
    assert graph.get("/users/new.hire@northwindacct.com").status_code == 200  # the write happened
    assert graph.post("/users", new_user()).status_code == 400  # and a blind retry meets the conflict
    faults = [entry["fault"] for entry in sandbox.log() if entry["fault"]]
    assert faults == ["status", "reset_before", "reset_after"]


def test_tokens_expire_and_must_match_the_audience(sandbox):
    env = sandbox.env
    sandbox.configure(token_lifetime_s=1)
    token = sandbox.token()
    short = Graph(sandbox, token)
    assert short.get("/domains").status_code == 200
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert expires - time.time() <= 2
    time.sleep(max(0, expires - time.time()) + 0.1)
    expired = short.get("/domains")
    assert expired.status_code == 401
    assert error_of(expired)["code"] == "InvalidAuthenticationToken"
    assert error_of(expired)["message"] == "Access token has expired or is not yet valid."

    exchange_token = sandbox.token(resource=env["M365_EXCHANGE_URL"])
    wrong = Graph(sandbox, exchange_token).get("/domains")
    assert wrong.status_code == 401 and error_of(wrong)["message"] == "Access token validation failure. Invalid audience."
    assert Graph(sandbox, "").get("/domains").status_code == 401


# --------------------------------------------------------------------------------------------------------------
# Control API and request log


def test_control_api_and_log(sandbox, graph):
    url = sandbox.env["SANDBOX_CONTROL_URL"] + "/_sandbox/state"
    http = session_for(sandbox)
    assert http.get(url).status_code == 401
    assert http.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    with pytest.raises(SandboxError):
        sandbox.configure(latency_ms=-1)

    sandbox.clear_log()
    token = sandbox.token()
    writer = Graph(sandbox, token)
    assert writer.post("/users", new_user()).status_code == 201
    assert writer.get("/users?$top=1").status_code == 200
    entries = sandbox.log()
    login = next(entry for entry in entries if entry["service"] == "login")
    assert "client_secret" in login["body_keys"] and login["write"] is False
    post = next(entry for entry in entries if entry["method"] == "POST" and entry["service"] == "graph")
    assert post["write"] is True and post["status"] == 201 and post["app_id"] == sandbox.env["M365_CLIENT_ID"]
    assert set(post["body_keys"]) == {"accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile"}
    assert [entry["method"] for entry in sandbox.writes()] == ["POST"]
    last = entries[-1]["seq"]
    assert sandbox.log(since=last) == []

    dumped = json.dumps(entries) + json.dumps(sandbox.state())
    for secret in (PASSWORD, sandbox.env["M365_CLIENT_SECRET"], sandbox.env["SANDBOX_ADMIN_TOKEN"], token):
        assert secret not in dumped
    assert "passwordHash" not in dumped

    extra = sandbox.add_app("Licence reporting", ["Organization.Read.All"])
    licence_reader = Graph(sandbox, sandbox.token(extra["client_id"], extra["client_secret"]))
    assert licence_reader.get("/subscribedSkus").status_code == 200
    assert licence_reader.get("/users").status_code == 403
