# -*- coding: utf-8 -*-
"""A federated joiner on a tenant with token-based provisioning: the sync writes only what Practice Protect controls, the
role gives the licences, the aliases and the primary address in Microsoft 365; a re-run changes nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from tests.integration.plugins.modules.pp_support import pp_state
from tests.integration.roles.test_onboard_user import inventory, outcome, playbook, users_by_upn

OFFICE365_APP = "5a2e7f9c-1b3d-4e6f-8a0b-2c4d6e8f0a1b"
MIA = "mia.nguyen@northwindacct.com"


def token_tenant(sandbox):
    """The sandbox tenant switched to token-based provisioning, with the app registration Practice Protect signs in with."""
    sandbox.configure(pp_provisioning_method="token")
    registered = sandbox.control("POST", "seed", json={"applications": [{"displayName": "Practice Protect", "roles": ["User.ReadWrite.All"]}]})
    sandbox.control("POST", "pp/seed", json={"apps": {OFFICE365_APP: {"client_id": registered["applications"][0]["appId"]}}})


def test_a_federated_joiner_on_a_token_based_tenant_gets_the_licence_and_aliases_asked_for(sandbox, run_playbook, tmp_path):
    token_tenant(sandbox)
    hosts = inventory(tmp_path, {"mia.nguyen": {
        "onboard_deployment": "federated", "onboard_password_delivery": "none",
        "person": {"upn": MIA, "given_name": "Mia", "surname": "Nguyen", "primary_address": "mia@northwindacct.com",
                   "aliases": ["m.nguyen@northwindacct.com"], "licenses": ["O365_BUSINESS_PREMIUM"]}}})
    run = run_playbook(playbook("onboard.yml"), inventory=hosts, expect_rc=0)
    assert outcome(run, "mia.nguyen").endswith("onboarded"), outcome(run, "mia.nguyen")
    mia = users_by_upn(sandbox)[MIA]
    skus = dict((s["skuId"], s["skuPartNumber"]) for s in sandbox.state()["skus"])
    assert [skus[lic["skuId"]] for lic in mia["assignedLicenses"]] == ["O365_BUSINESS_PREMIUM"]
    assert "SMTP:mia@northwindacct.com" in mia["proxyAddresses"] and "smtp:m.nguyen@northwindacct.com" in mia["proxyAddresses"]
    assert mia["onPremisesImmutableId"] and mia["displayName"] == "Mia Nguyen"
    # Practice Protect holds no proxyAddresses attribute for her: that tenant's sync would ignore it.
    pp_mia = [u for u in pp_state(sandbox)["users"] if u["Name"].lower() == MIA][0]
    assert not [v for k, v in (pp_mia.get("Attributes") or {}).items() if "proxy" in k.lower() and v]
    steps = " | ".join(run.result("Report the joiner", "mia.nguyen")["steps"])
    assert "Microsoft 365 licences: assigned O365_BUSINESS_PREMIUM" in steps and "aliases: added" in steps

    mark = sandbox.log()[-1]["seq"]
    again = run_playbook(playbook("onboard.yml"), inventory=hosts, expect_rc=0)
    assert again.changed("mia.nguyen") == 0, outcome(again, "mia.nguyen")
    assert sandbox.writes(since=mark) == []


def test_token_based_is_the_default_and_the_licence_defaults_to_onboard_default_licenses(sandbox, run_playbook, tmp_path):
    token_tenant(sandbox)
    hosts = inventory(tmp_path, {"liam.wilson": {
        "onboard_deployment": "federated", "onboard_password_delivery": "none",
        "person": {"upn": "liam.wilson@northwindacct.com", "given_name": "Liam", "surname": "Wilson"}}})
    run = run_playbook(playbook("onboard.yml"), inventory=hosts, expect_rc=0)
    liam = users_by_upn(sandbox)["liam.wilson@northwindacct.com"]
    skus = dict((s["skuId"], s["skuPartNumber"]) for s in sandbox.state()["skus"])
    assert [skus[lic["skuId"]] for lic in liam["assignedLicenses"]] == ["O365_BUSINESS_PREMIUM"]  # the test inventory's default
    assert run.result("Report the joiner", "liam.wilson")["msg"].endswith("onboarded")
