# -*- coding: utf-8 -*-
"""outbound_sync: preview, report and read-back logic without Ansible or a service."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _pp_sync as s
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

NEW = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
SAME = "1b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
RENAMED = "2b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
LEFT = "3b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
OTHER = "4b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"
TAKEN = "5b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"


def user(uid, name, display, source="CDS"):
    return {"ID": uid, "Username": name, "DisplayName": display, "SourceDsType": source}


USERS = {NEW: user(NEW, "new@x.com", "New"), SAME: user(SAME, "same@x.com", "Same"), RENAMED: user(RENAMED, "renamed@x.com", "Renamed Now"),
         LEFT: user(LEFT, "left@x.com", "Left")}


def graph(upn, display, anchor=None, enabled=True, proxies=None):
    return {"id": "g-" + upn, "userPrincipalName": upn, "displayName": display, "accountEnabled": enabled,
            "onPremisesImmutableId": anchor, "proxyAddresses": proxies or []}


def test_anchor_round_trip():
    anchor = s.anchor_of(NEW)
    assert s.user_of_anchor(anchor) == NEW and len(anchor) == 24
    assert s.user_of_anchor("not base64!") is None and s.user_of_anchor(None) is None and s.user_of_anchor("YWJj") is None


def test_addresses_applied():
    wanted = ["SMTP:a@x.com", "smtp:b@x.com"]
    assert s.addresses_applied(wanted, ["SMTP:a@x.com", "smtp:B@x.com", "smtp:a@x.onmicrosoft.com"])
    assert not s.addresses_applied(wanted, ["SMTP:b@x.com", "smtp:a@x.com"])  # wrong primary
    assert not s.addresses_applied(wanted, ["SMTP:a@x.com"])


def test_preview_classifies_like_the_job():
    graph_users = [
        graph("same@x.com", "Same", s.anchor_of(SAME), proxies=["SMTP:same@x.com"]),
        graph("renamed@x.com", "Renamed Before", s.anchor_of(RENAMED)),
        graph("left@x.com", "Left", s.anchor_of(LEFT)),
        graph("admin@x.onmicrosoft.com", "Admin"),
        graph("taken@x.com", "Taken", s.anchor_of(OTHER)),
    ]
    users = dict(USERS, **{OTHER: user(OTHER, "other@x.com", "Other")})
    users[TAKEN] = user(TAKEN, "taken@x.com", "Taken")
    values = {SAME: "SMTP:same@x.com", NEW: "SMTP:new@x.com;smtp:n@x.com"}
    out = s.preview([NEW, SAME, RENAMED, TAKEN, OTHER], users, values, graph_users)
    # taken@x.com in Microsoft 365 is anchored to other@x.com: a conflict for TAKEN, and other@x.com is still to create
    assert out == {"create": ["new@x.com", "other@x.com"], "update": [{"user": "renamed@x.com", "changes": ["displayName"]}],
                   "disable": ["left@x.com"], "unchanged": ["same@x.com"], "conflicts": ["taken@x.com"]}
    assert s.preview_changed(out)


def test_preview_subset_and_other_changes():
    graph_users = [graph("same@x.com", "Same", None, enabled=False, proxies=[]), graph("left@x.com", "Left", s.anchor_of(LEFT))]
    out = s.preview([SAME], USERS, {SAME: "SMTP:same@x.com"}, graph_users, subset_ids={SAME})
    assert out["update"] == [{"user": "same@x.com", "changes": ["accountEnabled", "onPremisesImmutableId", "proxyAddresses"]}]
    assert out["disable"] == []  # left@ is not in the subset


def test_resolve_app():
    apps = [{"ID": "a", "Name": "Office 365", "ProvCapable": True, "ProvConfigured": True, "ProvSettingEnabled": True},
            {"ID": "b", "Name": "Dropbox Business", "ProvCapable": True, "ProvConfigured": False, "ProvSettingEnabled": False},
            {"ID": "c", "Name": "Paused", "ProvCapable": True, "ProvConfigured": True, "ProvSettingEnabled": False}]
    assert s.resolve_app("office 365", apps)["ID"] == "a"
    with pytest.raises(ValidationError) as caught:
        s.resolve_app("Office365", apps)
    assert caught.value.message == ("Unknown application 'Office365'. Close matches: Office 365. Applications with outbound provisioning: "
                                    "Office 365, Paused.")
    with pytest.raises(ValidationError, match="has no outbound provisioning configured"):
        s.resolve_app("Dropbox Business", apps)
    with pytest.raises(ValidationError, match="configured but not enabled for Paused"):
        s.resolve_app("Paused", apps)


def test_job_report_sentences():
    ok = {"JobId": "j", "State": "Succeeded", "Summary": {"Created": 0, "Updated": 0, "Disabled": 0, "Deleted": 0}, "Failures": []}
    assert s.job_problem("Office 365", ok) is None and not s.job_changed(ok)
    assert s.job_changed(dict(ok, Summary={"Created": 1}))
    failed = {"JobId": "j", "State": "Failed", "Failures": [{"User": None, "Reason": "ServiceAccountMissing", "Message": "No account."}]}
    assert s.job_problem("Office 365", failed) == "The outbound provisioning job j for Office 365 failed: No account (ServiceAccountMissing)."
    users = {"JobId": "j", "State": "CompletedWithErrors",
             "Failures": [{"User": "a@x.com", "Reason": "NoLicenseAvailable", "Message": "No seat."}] * 12}
    message = s.job_problem("Office 365", users)
    assert message.startswith("Outbound provisioning for Office 365 finished with 12 user failures: a@x.com: No seat (NoLicenseAvailable); ")
    assert message.endswith("; and 2 more.")


def test_verify_state():
    skus = {"sku-1": {"skuPartNumber": "O365_BUSINESS_PREMIUM"}}
    licensed = {"id": "g1", "userPrincipalName": "a@x.com", "accountEnabled": True, "proxyAddresses": [],
                "assignedLicenses": [{"skuId": "SKU-1"}], "assignedPlans": [{"service": "exchange", "capabilityStatus": "Enabled"}]}
    unlicensed = {"id": "g2", "userPrincipalName": "b@x.com", "accountEnabled": True, "proxyAddresses": [], "assignedLicenses": [],
                  "assignedPlans": []}
    results, pending = s.verify_state({"a@x.com": ["SMTP:a@x.com"], "b@x.com": ["SMTP:b@x.com"], "c@x.com": []}, [licensed, unlicensed], skus)
    assert pending == ["a@x.com (proxy addresses not applied yet)", "c@x.com (not in Microsoft 365)"]
    assert results[0]["licenses"] == ["O365_BUSINESS_PREMIUM"] and results[1]["mailbox_licence"] is False
    licensed["proxyAddresses"] = ["SMTP:a@x.com"]
    results, pending = s.verify_state({"a@x.com": ["SMTP:a@x.com"]}, [licensed], skus)
    assert pending == [] and results[0]["addresses_applied"] is True


# -- the job API table, its override and the fallback to waiting ---------------------------------------------------------

def test_job_paths_are_one_table_overridable_per_task():
    assert s.job_paths(None) == s.JOB_PATHS
    assert s.job_paths({"start": "/Tenant/StartSync"}) == {"start": "/Tenant/StartSync", "status": "/Provisioning/GetJobStatus"}
    with pytest.raises(ValidationError) as err:
        s.job_paths({"history": "/X"})
    assert err.value.message == "job_paths: history is not a job endpoint; give start and status." and err.value.field == "job_paths"
    for bad in ("Provisioning/StartSync", "", 3, "/a b"):
        with pytest.raises(ValidationError, match="job_paths.start must be a path on the tenant's host, such as /Provisioning/StartSync."):
            s.job_paths({"start": bad})
    assert s.JOB_WRITE_RIGHTS == {"/Provisioning/StartSync": "Application Management"}


@pytest.mark.parametrize("status, message, expected", [
    (404, "The API /Provisioning/StartSync does not exist.", True),
    (404, None, True),
    (405, "Method not allowed", True),
    (501, "", True),
    (200, "Unknown method StartSync.", True),
    (200, "No such API: /Provisioning/StartSync", True),
    (200, "Outbound provisioning is disabled for application Office 365.", False),
    (200, "You are not authorized to perform this operation.", False),
    (200, "Job 7 does not exist.", False),
    (500, "An unexpected error occurred.", False),
    (403, "Forbidden", False),
])
def test_only_a_missing_endpoint_falls_back_to_waiting(status, message, expected):
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectError
    assert s.no_job_api(PracticeProtectError(message, status=status, path="/Provisioning/StartSync")) is expected


# -- mode wait: what Microsoft 365 should show ---------------------------------------------------------------------------

def test_wait_expectations_take_cloud_users_in_scope_and_leavers():
    users = dict(USERS, **{OTHER: user(OTHER, "kim@x.com", "Kim", source="AzureAD")})
    expected = s.wait_expectations([NEW, LEFT, OTHER, TAKEN], [NEW, OTHER], users, {NEW: "SMTP:new@x.com;smtp:n@x.com"})
    assert expected == {"new@x.com": {"present": ["SMTP:new@x.com", "smtp:n@x.com"]}, "left@x.com": {"left": s.anchor_of(LEFT)}}


def test_wait_state_names_who_is_missing_and_why():
    expected = {"new@x.com": {"present": []}, "renamed@x.com": {"present": []}, "left@x.com": {"left": s.anchor_of(LEFT)},
                "gone@x.com": {"left": s.anchor_of(OTHER)}, "mine@x.com": {"left": s.anchor_of(TAKEN)}}
    graph_users = [dict(graph("renamed@x.com", "R", enabled=False), assignedLicenses=[]), graph("left@x.com", "L", anchor=s.anchor_of(LEFT)),
                   graph("mine@x.com", "M", anchor=s.anchor_of(SAME))]
    results, pending = s.wait_state(expected, graph_users, {})
    assert pending == ["new@x.com (not in Microsoft 365)", "renamed@x.com (blocked from signing in)",
                       "left@x.com (still enabled: the sync disables users who left the scope)"]
    assert [r["user_principal_name"] for r in results] == ["gone@x.com", "left@x.com", "mine@x.com", "new@x.com", "renamed@x.com"]
    left = next(r for r in results if r["user_principal_name"] == "left@x.com")
    assert left == {"user_principal_name": "left@x.com", "exists": True, "left_scope": True, "account_enabled": True}
    # a leaver's account blocked (by the sync or by offboarding) is done; an account the sync did not anchor is not the sync's
    graph_users[1]["accountEnabled"] = False
    assert s.wait_state({"left@x.com": expected["left@x.com"], "mine@x.com": expected["mine@x.com"]}, graph_users, {})[1] == []
