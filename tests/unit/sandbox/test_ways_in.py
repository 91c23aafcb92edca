"""A person's ways in, in the sandbox: Graph's authentication methods (the default method goes last, the mobile number after
the alternate one), inbox rules, and Exchange's automatic replies and mobile devices. A real server, real HTTP."""

import pytest
import requests

from tests.sandbox.client import start_sandbox

TOM = "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13"
TOM_UPN = "tom.baker@northwindacct.com"
ADMIN = "admin@northwindacct.onmicrosoft.com"  # no licence: no mailbox
DEFAULT_REFUSED = "Cannot delete default method with other methods configured. Please change default method before deletion."


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(str(tmp_path_factory.mktemp("access")))
    yield running
    running.stop()


class Http:
    def __init__(self, sandbox, token):
        self.sandbox = sandbox
        self.http = requests.Session()
        self.http.verify = sandbox.env["M365_CA_PATH"]
        self.http.trust_env = False
        self.http.headers["Authorization"] = "Bearer " + token

    def graph(self, method, path, body=None):
        return self.http.request(method, self.sandbox.env["M365_GRAPH_URL"] + "/v1.0" + path, json=body, timeout=30)

    def invoke(self, name, **params):
        url = "%s/adminapi/beta/%s/InvokeCommand" % (self.sandbox.env["M365_EXCHANGE_URL"], self.sandbox.env["M365_TENANT_ID"])
        return self.http.post(url, json={"CmdletInput": {"CmdletName": name, "Parameters": params}}, timeout=30)


def graph(sandbox, roles=None):
    if roles is None:
        return Http(sandbox, sandbox.token())
    app = sandbox.add_app("access %s" % ",".join(roles), roles)
    return Http(sandbox, sandbox.token(app["client_id"], app["client_secret"]))


def exchange(sandbox):
    return Http(sandbox, sandbox.token(resource=sandbox.env["M365_EXCHANGE_URL"]))


def test_methods_are_listed_with_their_types_and_the_default_goes_last(sandbox):
    sandbox.reset()
    g = graph(sandbox)
    methods = g.graph("GET", "/users/%s/authentication/methods" % TOM_UPN).json()["value"]
    kinds = [m["@odata.type"].split(".")[-1] for m in methods]
    assert kinds[0] == "passwordAuthenticationMethod" and "microsoftAuthenticatorAuthenticationMethod" in kinds and len(methods) == 8
    authenticator = next(m for m in methods if m["@odata.type"].endswith("microsoftAuthenticatorAuthenticationMethod"))
    refused = g.graph("DELETE", "/users/%s/authentication/microsoftAuthenticatorMethods/%s" % (TOM, authenticator["id"]))
    assert refused.status_code == 400 and refused.json()["error"] == dict(refused.json()["error"], code="badRequest", message=DEFAULT_REFUSED)
    mobile = next(m for m in methods if m.get("phoneType") == "mobile")
    assert g.graph("DELETE", "/users/%s/authentication/phoneMethods/%s" % (TOM, mobile["id"])).status_code == 400  # alternate first
    for method in methods:
        kind = method["@odata.type"].split(".")[-1].replace("AuthenticationMethod", "")
        if kind in ("password", "microsoftAuthenticator") or method.get("phoneType") == "mobile":
            continue
        assert g.graph("DELETE", "/users/%s/authentication/%sMethods/%s" % (TOM, kind, method["id"])).status_code == 204, kind
    assert g.graph("DELETE", "/users/%s/authentication/phoneMethods/%s" % (TOM, mobile["id"])).status_code == 204
    assert g.graph("DELETE", "/users/%s/authentication/microsoftAuthenticatorMethods/%s" % (TOM, authenticator["id"])).status_code == 204
    left = g.graph("GET", "/users/%s/authentication/methods" % TOM).json()["value"]
    assert [m["@odata.type"] for m in left] == ["#microsoft.graph.passwordAuthenticationMethod"]
    gone = g.graph("DELETE", "/users/%s/authentication/fido2Methods/%s" % (TOM, authenticator["id"]))
    assert gone.status_code == 404
    assert g.graph("DELETE", "/users/%s/authentication/passwordMethods/%s" % (TOM, left[0]["id"])).status_code == 400  # no delete


def test_methods_need_their_permission(sandbox):
    sandbox.reset()
    reader = graph(sandbox, ["User.Read.All", "UserAuthenticationMethod.Read.All"])
    assert reader.graph("GET", "/users/%s/authentication/methods" % TOM).status_code == 200
    assert reader.graph("DELETE", "/users/%s/authentication/fido2Methods/-2_GRUg2-HYz6_1YG4YRAQ2" % TOM).status_code == 403
    assert graph(sandbox, ["User.ReadWrite.All"]).graph("GET", "/users/%s/authentication/methods" % TOM).status_code == 403


def test_inbox_rules_are_listed_and_disabled(sandbox):
    sandbox.reset()
    g = graph(sandbox)
    rules = g.graph("GET", "/users/%s/mailFolders/inbox/messageRules" % TOM).json()["value"]
    assert [r["displayName"] for r in rules][:2] == ["Forward to my Gmail", "Clients to Sarah"]
    patched = g.graph("PATCH", "/users/%s/mailFolders/inbox/messageRules/%s" % (TOM, rules[0]["id"]), {"isEnabled": False})
    assert patched.status_code == 200 and patched.json()["isEnabled"] is False
    assert g.graph("PATCH", "/users/%s/mailFolders/inbox/messageRules/%s" % (TOM, rules[0]["id"]), {"colour": "red"}).status_code == 400
    assert g.graph("GET", "/users/%s/mailFolders/inbox/messageRules" % ADMIN).json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"
    denied = graph(sandbox, ["User.Read.All"]).graph("GET", "/users/%s/mailFolders/inbox/messageRules" % TOM)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "ErrorAccessDenied"
    reader = graph(sandbox, ["MailboxSettings.Read"])
    assert reader.graph("PATCH", "/users/%s/mailFolders/inbox/messageRules/%s" % (TOM, rules[0]["id"]), {"isEnabled": True}).status_code == 403


def test_automatic_replies_and_mobile_devices_in_exchange(sandbox):
    sandbox.reset()
    exo = exchange(sandbox)
    before = exo.invoke("Get-MailboxAutoReplyConfiguration", Identity=TOM).json()["value"][0]
    assert before["AutoReplyState"] == "Disabled"
    done = exo.invoke("Set-MailboxAutoReplyConfiguration", Identity=TOM, AutoReplyState="Scheduled", InternalMessage="Tom has left.",
                      ExternalMessage="Tom has left.", ExternalAudience="All", StartTime="2026-12-24T17:00:00+11:00", EndTime="2027-01-31T17:00:00+11:00")
    assert done.status_code == 200
    after = exo.invoke("Get-MailboxAutoReplyConfiguration", Identity=TOM_UPN).json()["value"][0]
    assert after["AutoReplyState"] == "Scheduled" and "Tom has left." in after["InternalMessage"] and after["InternalMessage"].startswith("<html>")
    assert after["StartTime"] == "2026-12-24T06:00:00"
    backwards = exo.invoke("Set-MailboxAutoReplyConfiguration", Identity=TOM, AutoReplyState="Scheduled", StartTime="2027-01-31T00:00:00Z",
                           EndTime="2026-12-24T00:00:00Z")
    assert backwards.status_code == 400
    devices = exo.invoke("Get-MobileDevice", Mailbox=TOM_UPN).json()["value"]
    assert sorted(d["DeviceId"] for d in devices) == ["6F1D2C3B4A5E6F70", "ApplF17ZQ0A3N72J"]
    assert exo.invoke("Remove-MobileDevice", Identity=devices[0]["Identity"], Confirm=False).status_code == 200
    assert exo.invoke("Remove-MobileDevice", Identity=devices[0]["Identity"], Confirm=False).status_code == 404
    assert len(exo.invoke("Get-MobileDevice", Mailbox=TOM).json()["value"]) == 1
