# -*- coding: utf-8 -*-
"""m365_access's plan and apply with fake Graph and Exchange clients: what is read, what is written, check mode, a re-run."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _graph
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError
from ansible_collections.practiceprotect.m365.plugins.modules import m365_access

TOM = {"id": "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13", "userPrincipalName": "tom.baker@northwindacct.com", "mail": "tom.baker@northwindacct.com"}
METHODS = [{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "pw"},
           {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "m", "phoneType": "mobile"},
           {"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "k", "displayName": "YubiKey"}]
RULES = [{"id": "r1", "displayName": "Forward to my Gmail", "isEnabled": True, "actions": {"forwardTo": [{"emailAddress": {"address": "tom@gmail.com"}}]}},
         {"id": "r2", "displayName": "To Sarah", "isEnabled": True,
          "actions": {"forwardTo": [{"emailAddress": {"address": "sarah.jones@northwindacct.com"}}]}}]
DEVICES = [{"Identity": "tom\\EAS\\iPhone\u00a7A1", "DeviceId": "A1", "DeviceModel": "iPhone15C2", "FriendlyName": "Tom's iPhone"}]


class Tenant:
    """What Graph and Exchange hold; the fakes below read and write it."""

    def __init__(self, mailbox=True):
        self.methods = copy.deepcopy(METHODS)
        self.rules = copy.deepcopy(RULES)
        self.devices = copy.deepcopy(DEVICES)
        self.mailbox = mailbox
        self.writes = []
        self.reads = []


class FakeGraph:
    def __init__(self, tenant):
        self.t = tenant

    def list(self, path, params=None, headers=None):
        self.t.reads.append(("GET", path))
        if path == "users":
            return [dict(TOM)]
        if path.endswith("/authentication/methods"):
            return copy.deepcopy(self.t.methods)
        if path.endswith("/messageRules"):
            return copy.deepcopy(self.t.rules)
        raise AssertionError(path)

    def request(self, method, path, body=None):
        self.t.writes.append((method, path, body))
        key = path.rsplit("/", 1)[1]
        if method == "DELETE":
            self.t.methods = [m for m in self.t.methods if m["id"] != key]
        else:
            next(r for r in self.t.rules if r["id"] == key).update(body)


class FakeExchange:
    def __init__(self, tenant):
        self.t = tenant

    def get_mailbox(self, identity):
        self.t.reads.append(("Get-Mailbox", identity))
        return {"ExternalDirectoryObjectId": TOM["id"]} if self.t.mailbox else None

    def accepted_domains(self):
        return ["northwindacct.com", "northwindacct.onmicrosoft.com"]

    def mobile_devices(self, identity):
        return copy.deepcopy(self.t.devices)

    def invoke(self, cmdlet, parameters=None):
        self.t.writes.append((cmdlet, parameters["Identity"], None))
        self.t.devices = [d for d in self.t.devices if d["Identity"] != parameters["Identity"]]


class FakeAnsible:
    def __init__(self, diff):
        self._diff = diff


class FakeModule:
    def __init__(self, tenant, check_mode=False, diff=False, **options):
        self.params = dict(user=TOM["userPrincipalName"], authentication_methods=None, mobile_devices=None,
                           disable_external_forwarding_rules=False, max_removals=10)
        self.params.update(options)
        self.check_mode = check_mode
        self.graph = FakeGraph(tenant)
        self.exchange = FakeExchange(tenant)
        self.module = FakeAnsible(diff)
        self._shared = {}

    def shared(self, name, make):
        if name not in self._shared:
            self._shared[name] = make()
        return self._shared[name]


EVERYTHING = dict(authentication_methods={"set": []}, mobile_devices={"set": []}, disable_external_forwarding_rules=True)


def run(m):
    """One person, the way Module.run runs a single object: plan, then (outside check mode) apply."""
    result, apply = m365_access.plan(m, m.params)
    if apply is not None and not m.check_mode:
        result = apply()
    return result


def test_everything_closes_and_a_rerun_changes_nothing():
    tenant = Tenant()
    result = run(FakeModule(tenant, diff=True, **EVERYTHING))
    assert result["changed"] is True
    assert [(w[0], w[1].rsplit("/", 2)[-2:] if w[0] != "Remove-MobileDevice" else w[1]) for w in tenant.writes] == [
        ("DELETE", ["phoneMethods", "m"]), ("DELETE", ["fido2Methods", "k"]), ("Remove-MobileDevice", DEVICES[0]["Identity"]),
        ("PATCH", ["messageRules", "r1"])]
    assert tenant.writes[-1][2] == {"isEnabled": False}
    assert [m["kind"] for m in result["authentication_methods"]] == ["password"]
    assert result["authentication_methods_kept"][0]["kind"] == "password"
    assert result["forwarding_rules_disabled"] == [{"id": "r1", "name": "Forward to my Gmail", "enabled": True, "to": ["tom@gmail.com"],
                                                    "read_only": False}]
    assert result["forwarding_rules"] == [dict(result["forwarding_rules_disabled"][0], enabled=False)]
    assert result["mobile_devices_removed"][0]["name"] == "Tom's iPhone" and result["mobile_devices"] == []
    assert result["diff"]["before"]["mobile_devices"] and result["diff"]["after"]["mobile_devices"] == []
    assert [c["path"] if "path" in c and c["path"] != "InvokeCommand" else c["cmdlet"] for c in result["plan"]][2] == "Remove-MobileDevice"
    tenant.writes = []
    again = run(FakeModule(tenant, **EVERYTHING))
    assert again["changed"] is False and tenant.writes == []
    assert again["forwarding_rules"][0]["enabled"] is False and again["forwarding_rules_disabled"] == []


def test_check_mode_plans_and_writes_nothing():
    tenant = Tenant()
    result = run(FakeModule(tenant, check_mode=True, **EVERYTHING))
    assert result["changed"] is True and tenant.writes == []
    assert [m["id"] for m in result["authentication_methods_removed"]] == ["m", "k"]


def test_a_person_without_a_mailbox_has_no_devices_or_rules_read():
    tenant = Tenant(mailbox=False)
    result = run(FakeModule(tenant, **EVERYTHING))
    assert result["mailbox"] is False and "mobile_devices" not in result and "forwarding_rules" not in result
    assert not [r for r in tenant.reads if r[1].endswith("messageRules")]


def test_only_methods_read_no_mailbox():
    tenant = Tenant()
    run(FakeModule(tenant, authentication_methods={"remove": ["fido2"]}))
    assert [r[0] for r in tenant.reads] == ["GET", "GET"]  # the user, the methods: no Exchange call
    assert [w[1].rsplit("/", 1)[1] for w in tenant.writes] == ["k"]


def test_bad_input_fails_before_any_read():
    tenant = Tenant()
    with pytest.raises(ValidationError):
        run(FakeModule(tenant, authentication_methods={"add": ["phone"]}))
    assert tenant.reads == [] and tenant.writes == []


# -- many leavers through main(): each person's reads go out together ----------------------------------------------------------

def leaver(i):
    return {"id": "0000%04d-5e1b-4c3a-8f6d-9b0e2a7c5d13" % i, "userPrincipalName": "leaver%02d@northwindacct.com" % i,
            "mail": "leaver%02d@northwindacct.com" % i, "displayName": "Leaver %d" % i}


class Leavers:
    """``count`` leavers, each with a phone and a key, an iPhone and a rule forwarding to Gmail, behind the fake transport's routes
    (Graph reads one person per request or per ``$batch`` item, Exchange one cmdlet per request). ``reset()`` puts them back."""

    def __init__(self, fake, count, refuse=()):
        self.fake = fake
        self.users = [leaver(i) for i in range(count)]
        self.refuse = dict(refuse)  # (kind, upn) -> the answer that refuses that read
        self.reset()
        by_id = dict((u["id"], u) for u in self.users)
        fake.graph("GET", "users", fake.users_by_key(self.users))
        mailboxes = [{"ExternalDirectoryObjectId": u["id"], "Alias": u["mail"].split("@")[0]} for u in self.users]
        fake.exchange("Get-Mailbox", fake.exo(mailboxes))
        fake.exchange("Get-AcceptedDomain", fake.exo([{"DomainName": "northwindacct.com"}]))

        def refused_or(kind, user_id, answer):
            return self.refuse.get((kind, by_id[user_id]["userPrincipalName"])) or answer()

        def user_id(request, at):
            return request.path.split("/")[at]
        fake.graph("GET", r"users/[^/]+/authentication/methods", lambda r: refused_or(
            "methods", user_id(r, 3), lambda: fake.page(copy.deepcopy(self.methods[user_id(r, 3)]))))
        fake.graph("GET", r"users/[^/]+/mailFolders/inbox/messageRules", lambda r: refused_or(
            "rules", user_id(r, 3), lambda: fake.page(copy.deepcopy(self.rules[user_id(r, 3)]))))
        fake.exchange("Get-MobileDevice", lambda r: refused_or(
            "devices", r.parameters["Mailbox"], lambda: fake.exo(copy.deepcopy(self.devices[r.parameters["Mailbox"]]))))

        def delete_method(request):
            self.methods[user_id(request, 3)] = [m for m in self.methods[user_id(request, 3)] if m["id"] != user_id(request, 6)]
            return 204, None

        def disable_rule(request):
            for rule in self.rules[user_id(request, 3)]:
                if rule["id"] == user_id(request, 7):
                    rule.update(request.json)
            return 200, {}

        def remove_device(request):
            for devices in self.devices.values():
                devices[:] = [d for d in devices if d["Identity"] != request.parameters["Identity"]]
            return fake.exo([])
        fake.graph("DELETE", r"users/[^/]+/authentication/[A-Za-z0-9]+Methods/[^/]+", delete_method)
        fake.graph("PATCH", r"users/[^/]+/mailFolders/inbox/messageRules/[^/]+", disable_rule)
        fake.exchange("Remove-MobileDevice", remove_device)

    def reset(self):
        self.methods = dict((u["id"], copy.deepcopy(METHODS)) for u in self.users)
        self.rules = dict((u["id"], copy.deepcopy(RULES)) for u in self.users)
        self.devices = dict((u["id"], [dict(DEVICES[0], Identity="%s\\EAS\\iPhone" % u["id"])]) for u in self.users)
        self.fake.requests[:] = []

    def items(self):
        return [dict(EVERYTHING, user=u["userPrincipalName"], max_removals="100%") for u in self.users]

    def reads(self, path_end):
        return [r for r in self.fake.sent("graph") if r.method == "GET" and r.path.endswith(path_end)]


def without_counts(result):
    return dict((key, value) for key, value in result.items() if not key.endswith("_requests") and key not in ("graph_batched_calls", "invocation"))


def test_many_leavers_methods_and_rules_are_read_in_batch_requests_and_devices_alongside(fake, run_module, m365_args, monkeypatch):
    tenant = Leavers(fake, 40)
    # A batch goes once every worker has a call queued, or after its window: a wide window, so that a busy machine cannot split them.
    monkeypatch.setattr(_graph._Coalescer.__init__, "__defaults__", (1.0, _graph.BATCH_LIMIT))

    result = run_module(m365_access, dict(m365_args, items=tenant.items()), check_mode=True)

    assert result["failed_items"] == [] and len(result["outcomes"]) == 40
    methods, rules = tenant.reads("/authentication/methods"), tenant.reads("/messageRules")
    assert len(methods) == 40 and len(rules) == 40
    assert all(r.batched for r in methods + rules)  # inside $batch requests, not one request each
    envelopes = [r for r in fake.requests if r.is_batch]
    assert len(envelopes) <= 6 and result["graph_batched_calls"] == 80  # 80 reads by 16 workers at once: 5 requests, not 80
    assert result["graph_requests"] == len(envelopes) + len(tenant.reads("/users"))
    assert [r.cmdlet for r in fake.sent("exchange")].count("Get-MobileDevice") == 40
    assert fake.writes() == []


def test_many_leavers_are_closed_as_the_one_after_another_reads_would(fake, run_module, m365_args):
    tenant = Leavers(fake, 24)
    sequential = run_module(m365_access, dict(m365_args, items=tenant.items(), workers=1), diff=True)
    assert not [r for r in fake.requests if r.is_batch]  # one worker: every read is its own request
    tenant.reset()

    concurrent = run_module(m365_access, dict(m365_args, items=tenant.items()), diff=True)

    assert [r for r in fake.requests if r.is_batch]
    assert without_counts(concurrent) == without_counts(sequential)
    first = concurrent["outcomes"]["leaver00@northwindacct.com"]
    assert first["changed"] is True and [m["id"] for m in first["authentication_methods_removed"]] == ["m", "k"]
    assert [r["id"] for r in first["forwarding_rules_disabled"]] == ["r1"] and len(first["mobile_devices_removed"]) == 1
    tenant.reset()
    again = run_module(m365_access, dict(m365_args, items=tenant.items()), check_mode=True)
    assert again["changed"] is True and fake.writes() == []


def test_a_leaver_whose_read_failed_fails_alone_with_the_message_of_a_read_made_alone(fake, run_module, m365_args):
    refused = {("methods", "leaver03@northwindacct.com"): fake.graph_error(403, "Authorization_RequestDenied", "Insufficient privileges."),
               ("devices", "leaver07@northwindacct.com"): fake.exo_error(400, "InvalidOperationException", "Move in progress."),
               ("rules", "leaver11@northwindacct.com"): fake.graph_error(404, "ErrorItemNotFound", "The inbox is not there.")}
    tenant = Leavers(fake, 20, refuse=refused)
    args = dict(m365_args, items=tenant.items(), fail_on_item_error=False)
    sequential = run_module(m365_access, dict(args, workers=1), check_mode=True)
    tenant.reset()

    concurrent = run_module(m365_access, args, check_mode=True)

    assert concurrent["failed_items"] == ["leaver03@northwindacct.com", "leaver07@northwindacct.com", "leaver11@northwindacct.com"]
    assert concurrent["outcomes"] == sequential["outcomes"]
    assert concurrent["outcomes"]["leaver03@northwindacct.com"]["msg"].startswith(
        "Insufficient privileges. The application lacks a Microsoft Graph permission for GET users/")
    assert concurrent["outcomes"]["leaver07@northwindacct.com"]["msg"] == "Exchange Online refused Get-MobileDevice: Move in progress."
    assert concurrent["outcomes"]["leaver11@northwindacct.com"]["status"] == 404
    assert [p for p, o in concurrent["outcomes"].items() if not o.get("failed") and o["changed"]] == [
        u["userPrincipalName"] for u in tenant.users if u["userPrincipalName"] not in concurrent["failed_items"]]
