# -*- coding: utf-8 -*-
"""outbound_sync's main() against canned Practice Protect (and, for the preview and verify_upns, Graph) answers."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import uuid

from ansible_collections.practiceprotect.m365.plugins.modules import outbound_sync

APP_KEY = "8d0e2f4a-6b8c-4d0e-9f1a-3b5c7d9e1f2a"
JOB_ID = "2693fcdb-69e4-4c7d-967c-8a3c84f4a620"
JANE_ID = "c2f1a9e4-3b7d-4e8a-9f6c-1d2e3f4a5b6c"
TOM_ID = "d3a2b0f5-4c8e-4f9b-8a7d-2e3f4a5b6c7d"
GONE_ID = "a9b8c7d6-e5f4-4a3b-8c2d-1e0f9a8b7c6d"
JANE_GRAPH_ID = "0b6f2d4e-7f1e-4c55-9a2c-2b9f5d1e8c11"
PREMIUM = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
APPS = [{"ID": APP_KEY, "Name": "Office 365", "DisplayName": "Office 365", "ProvCapable": True, "ProvConfigured": True, "ProvSettingEnabled": True},
        {"ID": "app-xero", "Name": "Xero", "DisplayName": "Xero", "ProvCapable": False, "ProvConfigured": False, "ProvSettingEnabled": False}]
USERS = [{"ID": JANE_ID, "Username": "jane.citizen@northwindacct.com", "DisplayName": "Jane Citizen", "Email": "jane.citizen@northwindacct.com",
          "SourceDsType": "CDS", "Status": "Active"},
         {"ID": TOM_ID, "Username": "tom.baker@northwindacct.com", "DisplayName": "Tom Baker", "Email": "tom.baker@northwindacct.com",
          "SourceDsType": "CDS", "Status": "Active"}]
ROLES = [{"ID": "c3d4e5f6_o365", "Name": "Office 365", "Description": "Provisioned to Microsoft 365", "ReadOnly": False}]
PROXY = "SMTP:jane@northwindacct.com;smtp:jane.citizen@northwindacct.com"


def anchor(user_id):
    return base64.b64encode(uuid.UUID(user_id).bytes_le).decode("ascii")


def job(state, created=0, updated=0, failures=()):
    return {"JobId": JOB_ID, "AppKey": APP_KEY, "State": state, "StartTime": "2024-05-06T01:00:00Z",
            "EndTime": None if state in ("Queued", "Running") else "2024-05-06T01:00:20Z",
            "Summary": {"Created": created, "Updated": updated, "Disabled": 0, "Deleted": 0, "Unchanged": 1, "Failed": len(failures)},
            "Failures": list(failures)}


def tenant(fake, states=None):
    """The app, users, scope role and its members; GetJobStatus answers ``states`` one after another (the last one stays)."""
    fake.redrock("Application", APPS)
    fake.redrock("User", USERS)
    fake.redrock("Role", ROLES)
    fake.pp("/Roles/GetRoleMembers", fake.envelope(fake.rows([{"Guid": JANE_ID, "Name": "jane.citizen@northwindacct.com", "Type": "User"},
                                                              {"Guid": TOM_ID, "Name": "tom.baker@northwindacct.com", "Type": "User"}])))
    fake.pp("/Provisioning/StartSync", fake.envelope({"JobId": JOB_ID}))
    states = list(states or [job("Succeeded", created=1)])

    def status(request):
        assert request.json == {"JobId": JOB_ID}
        return fake.envelope(states.pop(0) if len(states) > 1 else states[0])
    fake.pp("/Provisioning/GetJobStatus", status)
    fake.pp("/ExtData/GetSchema", fake.envelope({"Columns": [{"Name": "O365_ProxyAddresses", "Title": "proxyAddresses", "Type": "Text"}]}))
    fake.pp("/ExtData/GetColumns", lambda request: fake.envelope({"O365_ProxyAddresses": PROXY if request.json["ID"] == JANE_ID else None}))


def test_the_job_is_started_for_the_users_and_polled_until_it_ends(fake, run_module, pp_args):
    tenant(fake, states=[job("Queued"), job("Running"), job("Succeeded", created=1)])

    result = run_module(outbound_sync, dict(pp_args, users=["jane.citizen@northwindacct.com"], poll_interval=2))

    assert result["changed"] is True and result["job"]["State"] == "Succeeded"
    assert result["summary"]["Created"] == 1 and result["failures"] == []
    (start,) = fake.writes()
    assert start.path == "/Provisioning/StartSync" and start.json == {"AppKey": APP_KEY, "Users": [JANE_ID]}
    assert len([r for r in fake.sent("pp") if r.path == "/Provisioning/GetJobStatus"]) == 3
    assert fake.clock.sleeps == [2, 2]
    assert result["pp_requests"] == len(fake.sent("pp")) + 1 and result["graph_requests"] == 0


def test_a_job_with_nothing_to_do_reports_no_change(fake, run_module, pp_args):
    """Running the job is the module's action (it always starts one); with nothing to provision it reports no change."""
    tenant(fake, states=[job("Succeeded")])

    result = run_module(outbound_sync, dict(pp_args))

    assert result["changed"] is False and result["summary"]["Unchanged"] == 1
    assert [r.path for r in fake.writes()] == ["/Provisioning/StartSync"] and "Users" not in fake.writes()[0].json


def test_check_mode_previews_against_microsoft_365_and_starts_nothing(fake, run_module, pp_args, m365_args):
    tenant(fake)
    graph_users = [{"id": JANE_GRAPH_ID, "userPrincipalName": "jane.citizen@northwindacct.com", "displayName": "Jane Citizen",
                    "accountEnabled": True, "proxyAddresses": ["SMTP:jane.citizen@northwindacct.com"], "onPremisesImmutableId": anchor(JANE_ID)},
                   {"id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "userPrincipalName": "leaver@northwindacct.com", "displayName": "Leaver",
                    "accountEnabled": True, "proxyAddresses": [], "onPremisesImmutableId": anchor(GONE_ID)}]
    fake.graph("GET", "users", fake.page(graph_users))

    result = run_module(outbound_sync, dict(pp_args, **m365_args), check_mode=True, diff=True)

    assert result["changed"] is True and result["job"] is None and "diff" not in result
    assert result["preview"] == {"create": ["tom.baker@northwindacct.com"],
                                 "update": [{"user": "jane.citizen@northwindacct.com", "changes": ["proxyAddresses"]}],
                                 "disable": ["leaver@northwindacct.com"], "unchanged": [], "conflicts": []}
    assert fake.writes() == []
    (graph,) = fake.sent("graph")
    assert graph.query == {"$select": "id,userPrincipalName,displayName,accountEnabled,proxyAddresses,onPremisesImmutableId", "$top": "999"}


def test_check_mode_without_the_microsoft_365_connection_says_so_before_any_request(fake, run_module, pp_args):
    result = run_module(outbound_sync, dict(pp_args), check_mode=True)

    assert result["failed"] is True and result["field"] == "tenant_id"
    assert result["msg"] == ("Check mode (the preview) compares with Microsoft 365 and needs its connection: set tenant_id, client_id, "
                             "client_secret or client_certificate_path (or the M365_* environment variables).")
    assert fake.requests == []


def test_a_failed_job_fails_the_task_with_its_reason(fake, run_module, pp_args):
    failure = {"User": None, "Reason": "InsufficientPrivileges", "Message": "The service account is not a Global Administrator."}
    tenant(fake, states=[job("Failed", failures=[failure])])

    result = run_module(outbound_sync, dict(pp_args))

    assert result["failed"] is True and result["job"]["State"] == "Failed"
    assert result["msg"] == ("The outbound provisioning job %s for Office 365 failed: The service account is not a Global Administrator "
                             "(InsufficientPrivileges)." % JOB_ID)


def test_user_failures_only_warn_when_asked(fake, run_module, pp_args):
    failure = {"User": "tom.baker@northwindacct.com", "Reason": "NoLicenseAvailable", "Message": "No licence available."}
    tenant(fake, states=[job("CompletedWithErrors", created=1, failures=[failure])])

    result = run_module(outbound_sync, dict(pp_args, fail_on_user_errors=False))

    assert result["changed"] is True and result["failures"] == [failure]
    assert run_module.warnings(result) == ["Outbound provisioning for Office 365 finished with 1 user failure: tom.baker@northwindacct.com: "
                                           "No licence available (NoLicenseAvailable)."]


def test_a_job_that_does_not_finish_in_time_fails_on_the_fake_clock(fake, run_module, pp_args):
    tenant(fake, states=[job("Running")])

    result = run_module(outbound_sync, dict(pp_args, timeout=30, poll_interval=10))

    assert result["failed"] is True and result["changed"] is True and result["job"]["State"] == "Running"
    assert result["msg"].startswith("The outbound provisioning job %s for Office 365 did not finish within 30 s (state Running)." % JOB_ID)
    assert fake.clock.sleeps[:2] == [10, 10] and 29.9 < sum(fake.clock.sleeps) <= 30


def test_verify_upns_reads_microsoft_365_until_the_user_shows(fake, run_module, pp_args, m365_args):
    tenant(fake)
    fake.graph("GET", "subscribedSkus", fake.page([{"skuId": PREMIUM, "skuPartNumber": "O365_BUSINESS_PREMIUM"}]))
    jane = {"id": JANE_GRAPH_ID, "userPrincipalName": "jane.citizen@northwindacct.com", "accountEnabled": True,
            "proxyAddresses": ["SMTP:jane@northwindacct.com", "smtp:jane.citizen@northwindacct.com"],
            "assignedLicenses": [{"disabledPlans": [], "skuId": PREMIUM}],
            "assignedPlans": [{"service": "exchange", "capabilityStatus": "Enabled", "servicePlanId": "9aaf7827-d63c-4b61-89c3-182f06f82e5c"}]}
    reads = []

    def users(request):
        reads.append(request)
        return fake.page([jane] if len(reads) > 1 else [])
    fake.graph("GET", "users", users)

    result = run_module(outbound_sync, dict(pp_args, users=["jane.citizen@northwindacct.com"], verify_upns=True, **m365_args))

    assert result["changed"] is True
    assert result["verified"] == [{"user_principal_name": "jane.citizen@northwindacct.com", "id": JANE_GRAPH_ID, "exists": True,
                                   "account_enabled": True, "licenses": ["O365_BUSINESS_PREMIUM"], "proxy_addresses": jane["proxyAddresses"],
                                   "addresses_applied": True, "mailbox_licence": True}]
    assert len(reads) == 2 and reads[0].filter == "userPrincipalName in ('jane.citizen@northwindacct.com')"
    assert fake.clock.sleeps == [1.0]
    assert pp_args["pp_client_secret"] not in run_module.output and m365_args["client_secret"] not in run_module.output


def test_a_refused_start_names_application_management(fake, run_module, pp_args):
    tenant(fake)
    fake.pp("/Provisioning/StartSync", fake.pp_error("You are not authorized to perform this operation.", "Unauthorized"))

    result = run_module(outbound_sync, dict(pp_args))

    assert result["failed"] is True and result["error_code"] == "Unauthorized"
    assert result["msg"] == ("You are not authorized to perform this operation. The Practice Protect client's role lacks an admin right for "
                             "/Provisioning/StartSync; see docs/permissions.md.")
    assert [r.path for r in fake.sent("pp") if r.path.startswith("/Provisioning/")] == ["/Provisioning/StartSync"]


def test_an_unknown_app_or_user_is_refused_before_the_job_starts(fake, run_module, pp_args):
    tenant(fake)

    result = run_module(outbound_sync, dict(pp_args, app="Office365x"))
    assert result["failed"] is True and result["field"] == "app"
    assert result["msg"] == "Unknown application 'Office365x'. Close matches: Office 365. Applications with outbound provisioning: Office 365."
    assert fake.writes() == []

    result = run_module(outbound_sync, dict(pp_args, app="Xero"))
    assert result["failed"] is True and result["msg"].startswith("Application Xero has no outbound provisioning configured.")

    result = run_module(outbound_sync, dict(pp_args, users=["ghost@northwindacct.com"]))
    assert result["failed"] is True and result["field"] == "users"
    assert fake.writes() == []


def test_bad_input_is_refused_before_any_request(fake, run_module, pp_args):
    result = run_module(outbound_sync, dict(pp_args, poll_interval=0))
    assert result["failed"] is True and result["msg"] == "poll_interval must be at least 1 second."
    assert fake.requests == []

    result = run_module(outbound_sync, dict(pp_args, verify_upns=True))
    assert result["failed"] is True and result["msg"].startswith("verify_upns compares with Microsoft 365 and needs its connection")
    assert fake.requests == []

    result = run_module(outbound_sync, dict(pp_args, pp_url=None))
    assert result["failed"] is True
    assert result["msg"] == "Missing the Practice Protect connection: set pp_url (or the environment variables PP_URL)."
    assert fake.requests == [] and pp_args["pp_client_secret"] not in run_module.output
