# -*- coding: utf-8 -*-
"""The plan of m365_access (plugins/module_utils/_access.py): which methods, devices and rules go, in which order, and
how a refusal of the default method is met."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _access
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError
from ansible_collections.practiceprotect.m365.plugins.module_utils._model import RemovalRefused
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

USER = {"id": "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13", "userPrincipalName": "tom.baker@northwindacct.com"}
METHODS = [
    {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod", "id": "pw"},
    {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "m", "phoneType": "mobile"},
    {"@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "id": "a", "displayName": "Tom's iPhone"},
    {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "alt", "phoneType": "alternateMobile"},
    {"@odata.type": "#microsoft.graph.hardwareOathAuthenticationMethod", "id": "hw"},
]
DEVICES = [{"Identity": "tom\\EAS\\iPhone\u00a7A1", "DeviceId": "A1", "DeviceModel": "iPhone15C2", "FriendlyName": "Tom's iPhone"},
           {"Identity": "tom\\EAS\\Outlook\u00a7B2", "DeviceId": "B2", "DeviceModel": "Outlook for Android"}]
ACCEPTED = {"northwindacct.com", "northwindacct.onmicrosoft.com"}


def rule(rule_id, to, enabled=True, action="forwardTo", read_only=False):
    return {"id": rule_id, "displayName": "rule %s" % rule_id, "isEnabled": enabled, "isReadOnly": read_only,
            "actions": {action: [{"emailAddress": {"address": address}} for address in to]}}


def spec(**options):
    return _access.build_spec(dict({"user": USER["userPrincipalName"]}, **options))


def test_every_removable_method_goes_phones_in_their_order_and_the_password_stays():
    planned = _access.plan_access(spec(authentication_methods={"set": []}, max_removals="100%"), USER, METHODS, None, None, ACCEPTED)
    assert [c["item"]["id"] for c in planned["calls"]] == ["alt", "m", "a"]
    assert planned["calls"][0]["path"] == "users/%s/authentication/phoneMethods/alt" % USER["id"]
    assert planned["calls"][2]["path"].endswith("/authentication/microsoftAuthenticatorMethods/a")
    assert [(m["kind"], m["reason"][:27]) for m in planned["methods_kept"]] == [
        ("password", "Graph cannot remove the pas"), ("other:hardwareoathauthenticationmethod", "Graph v1.0 has no delete fo")]
    assert [m["id"] for m in planned["after"]["authentication_methods"]] == ["pw", "hw"]


def test_remove_by_kind_and_set_keeps_the_kinds_named():
    removed = _access.plan_access(spec(authentication_methods={"remove": ["Phone"]}), USER, METHODS, None, None, ACCEPTED)["calls"]
    assert [c["item"]["id"] for c in removed] == ["alt", "m"]
    kept = _access.plan_access(spec(authentication_methods={"set": ["phone"]}), USER, METHODS, None, None, ACCEPTED)["calls"]
    assert [c["item"]["id"] for c in kept] == ["a"]


def test_nothing_left_to_remove_plans_no_call():
    left = [METHODS[0], METHODS[4]]
    assert _access.plan_access(spec(authentication_methods={"set": []}), USER, left, [], [], ACCEPTED)["calls"] == []


@pytest.mark.parametrize("options, message", [
    ({"authentication_methods": {"add": ["phone"]}}, "authentication_methods.add is not supported: this module only removes authentication "
                                                     "methods. People register their own methods at https://aka.ms/mysecurityinfo."),
    ({"authentication_methods": {"remove": ["sms"]}}, "authentication_methods.remove: 'sms' is not a kind of authentication method; use phone, "
                                                      "microsoftAuthenticator, fido2, softwareOath, email, windowsHelloForBusiness, "
                                                      "temporaryAccessPass, platformCredential."),
    ({"authentication_methods": {"remove": ["password"]}}, "authentication_methods.remove: Graph cannot remove the password method; it is "
                                                           "always kept. Use m365_user scramble_password to make the password unknown."),
    ({"mobile_devices": {"add": ["A1"]}}, "mobile_devices.add is not supported: this module only removes mobile devices. Devices appear when "
                                          "they first sync with the mailbox."),
    ({"mobile_devices": {"remove": [" "]}}, "mobile_devices.remove has an empty entry; give device ids (DeviceId from Get-MobileDevice)."),
    ({"authentication_methods": ["phone"]}, "authentication_methods takes add, remove or set, for example authentication_methods: {add: [...]}; "
                                            "a plain list is not accepted."),
])
def test_bad_input_is_refused_before_any_call(options, message):
    with pytest.raises(ValidationError) as caught:
        spec(**options)
    assert caught.value.message == message


def test_removals_over_the_limit_are_refused_naming_them():
    with pytest.raises(RemovalRefused) as caught:
        _access.plan_access(spec(authentication_methods={"set": []}, max_removals=2), USER, METHODS, None, None, ACCEPTED)
    assert caught.value.message.startswith("Refusing to remove 3 authentication methods from tom.baker@northwindacct.com, more than max_removals (2)")


def test_devices_by_id_or_all():
    planned = _access.plan_access(spec(mobile_devices={"set": []}), USER, None, DEVICES, None, ACCEPTED)
    assert [c["parameters"] for c in planned["calls"]] == [{"Identity": d["Identity"], "Confirm": False} for d in DEVICES]
    assert planned["after"]["mobile_devices"] == []
    only = _access.plan_access(spec(mobile_devices={"remove": ["b2", "gone"]}), USER, None, DEVICES, None, ACCEPTED)
    assert [d["device_id"] for d in only["devices_removed"]] == ["B2"]


def test_only_enabled_rules_that_forward_outside_are_disabled_and_listed():
    rules = [rule("1", ["tom@gmail.com"]), rule("2", ["sarah.jones@northwindacct.com"]), rule("3", ["books@example.com.au"], enabled=False,
                                                                                              action="redirectTo"),
             rule("4", ["/o=ExchangeLabs/ou=x/cn=Recipients/cn=sarah", "ME@Outside.example"], action="forwardAsAttachmentTo"),
             rule("5", ["x@gmail.com"], read_only=True), {"id": "6", "displayName": "Move", "isEnabled": True, "actions": {"moveToFolder": "f"}}]
    planned = _access.plan_access(spec(disable_external_forwarding_rules=True), USER, None, None, rules, ACCEPTED)
    assert [(c["method"], c["path"].rsplit("/", 1)[1], c["body"]) for c in planned["calls"]] == [("PATCH", "1", {"isEnabled": False}),
                                                                                                 ("PATCH", "4", {"isEnabled": False})]
    assert [r["to"] for r in planned["rules_disabled"]] == [["tom@gmail.com"], ["ME@Outside.example"]]
    assert [r["id"] for r in planned["rules_kept"]] == ["5"]
    assert [(r["id"], r["enabled"]) for r in planned["after"]["forwarding_rules"]] == [("1", False), ("3", False), ("4", False), ("5", True)]


class Graph:
    def __init__(self, refuse=(), gone=()):
        self.refuse = dict(refuse)
        self.gone = set(gone)
        self.calls = []

    def request(self, method, path, body=None):
        self.calls.append((method, path.rsplit("/", 1)[1]))
        key = path.rsplit("/", 1)[1]
        if key in self.gone:
            raise GraphError("gone", status=404)
        if self.refuse.get(key):
            self.refuse[key] -= 1
            raise GraphError("Cannot delete default method with other methods configured. Please change default method before deletion.",
                             status=400, code="badRequest", method=method, path=path)


def test_the_default_method_is_removed_once_the_others_are_gone():
    planned = _access.plan_access(spec(authentication_methods={"set": []}), USER, METHODS, None, None, ACCEPTED)
    graph = Graph(refuse={"a": 1})
    planned["calls"].insert(0, planned["calls"].pop())  # the default first: it is refused, then tried again last
    _access.apply_calls(graph, None, planned["calls"], "tom.baker@northwindacct.com")
    assert graph.calls == [("DELETE", "a"), ("DELETE", "alt"), ("DELETE", "m"), ("DELETE", "a")]


def test_a_method_refused_when_it_is_the_last_one_fails_naming_it():
    planned = _access.plan_access(spec(authentication_methods={"remove": ["microsoftAuthenticator"]}), USER, METHODS, None, None, ACCEPTED)
    with pytest.raises(GraphError) as caught:
        _access.apply_calls(Graph(refuse={"a": 5}), None, planned["calls"], "tom.baker@northwindacct.com")
    assert caught.value.message.startswith("Graph refused to remove tom.baker@northwindacct.com's microsoftAuthenticator method (Tom's iPhone): "
                                           "Cannot delete default method")
    assert caught.value.status == 400


def test_a_method_already_gone_counts_as_removed():
    planned = _access.plan_access(spec(authentication_methods={"remove": ["phone"]}), USER, METHODS, None, None, ACCEPTED)
    graph = Graph(gone={"alt"})
    _access.apply_calls(graph, None, planned["calls"], "tom")
    assert graph.calls == [("DELETE", "alt"), ("DELETE", "m")]
