# -*- coding: utf-8 -*-
"""m365_access's plan and apply with fake Graph and Exchange clients: what is read, what is written, check mode, a re-run."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

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
