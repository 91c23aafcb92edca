# -*- coding: utf-8 -*-
"""m365_user through real ansible-playbook runs against the sandbox."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type


import pytest
from tests.integration.support import documented_permissions, play

UPN = "jane.citizen@northwindacct.com"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"


def user_task(name="user", register="r", **options):
    options.setdefault("user", UPN)
    task = {"name": name, "practiceprotect.m365.m365_user": options, "register": register}
    return task


def state_user(sandbox, upn):
    users = [u for u in sandbox.state()["users"] if (u.get("userPrincipalName") or "").lower() == upn.lower()]
    return users[0] if users else None


def sku(sandbox, part):
    return [s for s in sandbox.state()["skus"] if s["skuPartNumber"] == part][0]


JANE = dict(given_name="Jane", surname="Citizen", job_title="Accountant", department="Tax", mobile_phone="0412 345 678",
            phone_region="AU", usage_location="AU", licenses={"add": ["O365_BUSINESS_PREMIUM"]}, manager="sarah.jones@northwindacct.com",
            other_mails=["jane.personal@example.org"])


def test_create_then_rerun_is_unchanged_and_writes_nothing(sandbox, run_playbook):
    seats_before = sku(sandbox, "O365_BUSINESS_PREMIUM")["consumedUnits"]
    first = run_playbook(play(user_task(**JANE)), expect_rc=0)
    r = first.result("user")
    assert r["changed"] and r["action"] == "create"
    assert [c["op"] for c in r["plan"]] == ["create", "licenses", "manager"]
    assert r["user"]["licenses"] == ["O365_BUSINESS_PREMIUM"] and r["user"]["mobilePhone"] == "+61412345678"
    assert "password" not in r
    stored = state_user(sandbox, UPN)
    assert stored["id"] == r["user"]["id"]
    assert stored["displayName"] == "Jane Citizen" and stored["usageLocation"] == "AU" and stored["mobilePhone"] == "+61412345678"
    assert stored["otherMails"] == ["jane.personal@example.org"]
    assert [lic["skuId"] for lic in stored["assignedLicenses"]] == ["f245ecc8-75af-4f8e-b61f-27d8114de5f3"]
    assert sku(sandbox, "O365_BUSINESS_PREMIUM")["consumedUnits"] == seats_before + 1

    mark = sandbox.log()[-1]["seq"]
    second = run_playbook(play(user_task(**JANE)), expect_rc=0)
    r2 = second.result("user")
    assert not r2["changed"] and r2["action"] == "none" and r2["plan"] == []
    assert second.changed() == 0
    assert sandbox.writes(since=mark) == []


def test_check_mode_writes_nothing_and_diff_shows_the_change(sandbox, run_playbook):
    run = run_playbook(play(user_task(**JANE)), check=True, diff=True, expect_rc=0)
    r = run.result("user")
    assert r["changed"] and r["action"] == "create"
    assert r["diff"]["before"] == {} and r["diff"]["after"]["userPrincipalName"] == UPN
    assert r["diff"]["after"]["licenses"] == ["O365_BUSINESS_PREMIUM"]
    assert "+    \"jobTitle\": \"Accountant\"" in run.stdout or "jobTitle" in run.stdout
    assert sandbox.writes() == []
    assert state_user(sandbox, UPN) is None


def test_update_patches_only_what_differs(sandbox, run_playbook):
    run_playbook(play(user_task(**JANE)), expect_rc=0)
    mark = sandbox.log()[-1]["seq"]
    changed = {**JANE, "job_title": "Senior Accountant", "department": "Audit"}
    run = run_playbook(play(user_task(**changed)), diff=True, expect_rc=0)
    r = run.result("user")
    assert r["action"] == "update" and r["diff"]["before"]["jobTitle"] == "Accountant" and r["diff"]["after"]["jobTitle"] == "Senior Accountant"
    writes = sandbox.writes(since=mark)
    assert [(w["method"], sorted(w["body_keys"])) for w in writes] == [("PATCH", ["department", "jobTitle"])]
    assert state_user(sandbox, UPN)["department"] == "Audit"


def test_disable_sign_in(sandbox, run_playbook):
    run_playbook(play(user_task(**JANE)), expect_rc=0)
    run = run_playbook(play(user_task(account_enabled=False)), expect_rc=0)
    assert run.result("user")["changed"]
    assert state_user(sandbox, UPN)["accountEnabled"] is False


def test_licence_set_remove_and_seats(sandbox, run_playbook):
    run_playbook(play(user_task(**{**JANE, "licenses": {"add": ["O365_BUSINESS_PREMIUM", "FLOW_FREE"]}})), expect_rc=0)
    assert len(state_user(sandbox, UPN)["assignedLicenses"]) == 2
    # add keeps what is not listed
    run = run_playbook(play(user_task(licenses={"add": ["FLOW_FREE"]})), expect_rc=0)
    assert not run.result("user")["changed"]
    before = sku(sandbox, "O365_BUSINESS_PREMIUM")["consumedUnits"]
    run = run_playbook(play(user_task(licenses={"set": ["FLOW_FREE"]})), expect_rc=0)
    r = run.result("user")
    assert r["licenses_removed"] == ["O365_BUSINESS_PREMIUM"] and r["user"]["licenses"] == ["FLOW_FREE"]
    assert sku(sandbox, "O365_BUSINESS_PREMIUM")["consumedUnits"] == before - 1
    # remove takes only what it names; a licence the user does not hold is nothing to do
    run = run_playbook(play(user_task(licenses={"add": ["O365_BUSINESS_PREMIUM"]})), expect_rc=0)
    assert run.result("user")["user"]["licenses"] == ["FLOW_FREE", "O365_BUSINESS_PREMIUM"]
    run = run_playbook(play(user_task(licenses={"remove": ["flow_free", "O365_BUSINESS_ESSENTIALS"]})), expect_rc=0)
    r = run.result("user")
    assert r["changed"] and r["licenses_removed"] == ["FLOW_FREE"] and r["user"]["licenses"] == ["O365_BUSINESS_PREMIUM"]
    mark = sandbox.log()[-1]["seq"]
    again = run_playbook(play(user_task(licenses={"remove": ["FLOW_FREE"]})), expect_rc=0)
    assert not again.result("user")["changed"] and sandbox.writes(since=mark) == []


def test_licence_removals_over_the_limit_are_refused_before_any_write(sandbox, run_playbook):
    three = ["O365_BUSINESS_PREMIUM", "FLOW_FREE", "EXCHANGESTANDARD"]
    run_playbook(play(user_task(**{**JANE, "licenses": {"add": three}})), expect_rc=0)
    mark = sandbox.log()[-1]["seq"]
    tasks = [dict(user_task("count", licenses={"set": ["FLOW_FREE"]}, max_removals=1, allow_mail_loss=True), ignore_errors=True),
             dict(user_task("share", licenses={"set": []}, max_removals="50%", allow_mail_loss=True), ignore_errors=True),
             dict(user_task("remove", licenses={"remove": ["FLOW_FREE", "EXCHANGESTANDARD"]}, max_removals=1), ignore_errors=True)]
    run = run_playbook(play(*tasks), expect_rc=0)
    count = run.task("count")
    assert count["status"] == "failed"
    assert count["result"]["msg"] == (
        "Refusing to remove 2 licences from jane.citizen@northwindacct.com, more than max_removals (1): EXCHANGESTANDARD, "
        "O365_BUSINESS_PREMIUM. List them to keep them, or raise max_removals if this is intended.")
    assert count["result"]["field"] == "max_removals" and count["result"]["removal_limit"] == 1
    assert sorted(count["result"]["refused_removals"]) == ["EXCHANGESTANDARD", "O365_BUSINESS_PREMIUM"]
    share = run.task("share")
    assert share["status"] == "failed"
    assert share["result"]["msg"] == (
        "Refusing to remove 3 licences from jane.citizen@northwindacct.com, more than max_removals (50% of the 3 held now, rounded "
        "down, at least 1: 1): EXCHANGESTANDARD, FLOW_FREE, O365_BUSINESS_PREMIUM. List them to keep them, or raise max_removals if "
        "this is intended.")
    assert share["result"]["removal_limit"] == 1 and sorted(share["result"]["refused_removals"]) == sorted(three)
    remove = run.task("remove")
    assert remove["status"] == "failed" and remove["result"]["field"] == "max_removals"
    assert remove["result"]["msg"] == (
        "Refusing to remove 2 licences from jane.citizen@northwindacct.com, more than max_removals (1): EXCHANGESTANDARD, FLOW_FREE. "
        "List them to keep them, or raise max_removals if this is intended.")
    assert sandbox.writes(since=mark) == []
    assert len(state_user(sandbox, UPN)["assignedLicenses"]) == 3
    # Within the limit: two of three go with 70% (2), and set: [] takes the last one.
    run = run_playbook(play(user_task("share ok", licenses={"set": ["O365_BUSINESS_PREMIUM"]}, max_removals="70%"),
                            user_task("none left", licenses={"set": []}, allow_mail_loss=True)), expect_rc=0)
    assert sorted(run.result("share ok")["licenses_removed"]) == ["EXCHANGESTANDARD", "FLOW_FREE"]
    assert run.result("none left")["licenses_removed"] == ["O365_BUSINESS_PREMIUM"]
    assert state_user(sandbox, UPN)["assignedLicenses"] == []


def test_no_free_seat_names_skus_with_seats_and_writes_nothing(sandbox, run_playbook):
    run = run_playbook(play(user_task(**{**JANE, "licenses": {"add": ["ENTERPRISEPACK"]}})))
    assert run.rc == 2
    msg = run.result("user")["msg"]
    assert msg.startswith("No free seat on ENTERPRISEPACK: 2 bought, 2 in use. Buy more seats or free one; SKUs with free seats: ")
    assert "O365_BUSINESS_PREMIUM (" in msg
    assert sandbox.writes() == []
    assert state_user(sandbox, UPN) is None


BAD_INPUTS = [
    ("malformed upn", dict(user="jane citizen@northwindacct.com"),
     "user 'jane citizen@northwindacct.com' contains characters Microsoft 365 does not allow before the @ (' '); "
     "use letters, digits and ' . - _ ! # ^ ~ only."),
    ("unverified domain", dict(user="jane@northwind-legacy.com"),
     "The domain northwind-legacy.com is in the tenant but not verified, so Microsoft 365 refuses it for user. "
     "Verify it first, or use one of: northwindacct.com, northwindacct.onmicrosoft.com."),
    ("foreign domain", dict(user="jane@contoso.com"),
     "The domain contoso.com is not a domain of this tenant. Verified domains: northwindacct.com, northwindacct.onmicrosoft.com."),
    ("local phone without region", dict(mobile_phone="0412 345 678"),
     "mobile_phone '0412 345 678' is not a phone number. Give it in international form (+61 412 345 678) or set phone_region."),
    ("bad phone", dict(mobile_phone="+61 412", phone_region="AU"), "mobile_phone '+61 412' is not a valid number for country code +61 (AU): check the digits."),
    ("bad usage location", dict(usage_location="Australia"),
     "usage_location 'Australia' is not an ISO 3166 two-letter country code (for example AU, GB, US)."),
    ("unknown sku", dict(usage_location="AU", licenses={"add": ["E5_TYPO"]}),
     "Unknown licence E5_TYPO: this tenant subscribes to ENTERPRISEPACK, EXCHANGESTANDARD, FLOW_FREE, O365_BUSINESS_ESSENTIALS, "
     "O365_BUSINESS_PREMIUM, SPB. Give a SKU part number or skuId from that list."),
    ("unknown sku in set", dict(usage_location="AU", licenses={"set": ["FLOW_FREE", "E5_TYPO"]}),
     "Unknown licence E5_TYPO: this tenant subscribes to ENTERPRISEPACK, EXCHANGESTANDARD, FLOW_FREE, O365_BUSINESS_ESSENTIALS, "
     "O365_BUSINESS_PREMIUM, SPB. Give a SKU part number or skuId from that list."),
    ("licence without usage location", dict(licenses={"add": ["O365_BUSINESS_PREMIUM"]}),
     "usage_location is required to assign licences to jane.citizen@northwindacct.com (Microsoft 365 refuses licences without it); "
     "set usage_location, for example AU."),
    ("add and remove the same licence", dict(licenses={"add": ["FLOW_FREE"], "remove": ["flow_free"]}),
     "licenses lists flow_free under both add and remove; give each value once."),
    ("unknown licence action", dict(licenses={"purge": True}),
     "Unsupported parameters for (practiceprotect.m365.m365_user) module: licenses.purge. Supported parameters include: add, remove, set."),
    ("removal limit not a number", dict(licenses={"set": []}, max_removals="all"),
     "max_removals must be a number or a percentage such as 10%, not 'all'."),
    ("removal limit over 100%", dict(licenses={"set": []}, max_removals="101%"), "max_removals 101% is more than 100%."),
    ("weak password", dict(password="alllowercase"), "password must mix at least three of: lower case, upper case, digits, symbols."),
    ("unknown manager", dict(manager="nobody@northwindacct.com"), "manager nobody@northwindacct.com is not a user in this tenant."),
    ("wrong type", dict(account_enabled="maybe"), "argument 'account_enabled' is of type"),
    # The key is user, as in every module of the collection: user_principal_name and upn are gone.
    ("former key", dict(user=None, user_principal_name=UPN, given_name="Jane"), "one of the following is required: user, items"),
    ("former alias", dict(user=None, upn=UPN, given_name="Jane"), "one of the following is required: user, items"),
]


def test_bad_input_is_refused_before_any_write(sandbox, run_playbook):
    tasks = []
    for name, opts, _ in BAD_INPUTS:
        task = user_task(name=name, **opts)
        task["ignore_errors"] = True
        module_options = task["practiceprotect.m365.m365_user"]
        task["practiceprotect.m365.m365_user"] = dict((k, v) for k, v in module_options.items() if v is not None)
        tasks.append(task)
    run = run_playbook(play(*tasks), expect_rc=0)
    for name, _, message in BAD_INPUTS:
        t = run.task(name)
        assert t["status"] == "failed", name
        assert t["result"]["msg"].startswith(message), (name, t["result"]["msg"])
    assert sandbox.writes() == []


def test_soft_delete_then_restore_keeps_the_same_object(sandbox, run_playbook):
    created = run_playbook(play(user_task(**JANE)), expect_rc=0).result("user")["user"]
    gone = run_playbook(play(user_task(state="absent")), expect_rc=0).result("user")
    assert gone["changed"] and gone["action"] == "delete"
    assert state_user(sandbox, UPN) is None
    again = run_playbook(play(user_task(state="absent")), expect_rc=0).result("user")
    assert not again["changed"]
    restored = run_playbook(play(user_task(**JANE)), expect_rc=0).result("user")
    assert restored["action"] == "restore" and restored["user"]["id"] == created["id"]
    assert state_user(sandbox, UPN)["id"] == created["id"]
    assert run_playbook(play(user_task(**JANE)), expect_rc=0).result("user")["changed"] is False


def test_certificate_auth(sandbox, run_playbook):
    env = {"M365_CLIENT_ID": sandbox.env["M365_CERT_CLIENT_ID"], "M365_CLIENT_SECRET": None,
           "M365_CLIENT_CERTIFICATE_PATH": sandbox.env["M365_CERT_CLIENT_CERTIFICATE_PATH"]}
    run = run_playbook(play(user_task(**JANE)), env=env, expect_rc=0)
    assert run.result("user")["action"] == "create"
    assert {e["app_id"] for e in sandbox.writes()} == {sandbox.env["M365_CERT_CLIENT_ID"]}


def test_wrong_secret_fails_clearly_without_echoing_it(sandbox, run_playbook):
    run = run_playbook(play(user_task(**JANE)), env={"M365_CLIENT_SECRET": "not-the-secret-value-123"}, verbosity=3)
    assert run.rc == 2
    msg = run.result("user")["msg"]
    assert msg.startswith("Sign-in as the application failed for ") and "AADSTS7000215" in msg
    assert "not-the-secret-value-123" not in run.stdout


def test_missing_permission_is_named(sandbox, run_playbook):
    env = {"M365_CLIENT_ID": sandbox.env["M365_READONLY_CLIENT_ID"], "M365_CLIENT_SECRET": sandbox.env["M365_READONLY_CLIENT_SECRET"]}
    run = run_playbook(play(user_task(given_name="Jane")), env=env)
    r = run.result("user")
    assert r["status"] == 403 and r["error_code"] == "Authorization_RequestDenied"
    assert r["msg"] == ("Insufficient privileges to complete the operation. The application lacks a Microsoft Graph permission for "
                        "POST users (any one of: User.ReadWrite.All, Directory.ReadWrite.All) (or, where the user holds an admin role, a directory role of "
                        "its own); see docs/permissions.md.")
    assert sandbox.writes() == [] or all(w["status"] == 403 for w in sandbox.writes())


def test_return_password_needs_no_log_on_the_task(sandbox, run_playbook):
    run = run_playbook(play(user_task(return_password=True, **JANE)), verbosity=3)
    assert run.rc == 2
    assert run.result("user")["msg"] == ("return_password: true returns each new user's generated password, so set no_log: true on this "
                                         "task (and keep the registered variable out of debug output).")
    assert sandbox.writes() == [] and state_user(sandbox, UPN) is None


def test_secrets_and_passwords_never_printed_at_vvv(sandbox, run_playbook):
    supplied = "Supplied-Pa55word!"
    tasks = [
        user_task(name="supplied", **dict(JANE, password=supplied)),
        user_task(name="generated", register="gen", user="sam.lee@northwindacct.com", return_password=True),
    ]
    tasks[1]["no_log"] = True
    tasks.append({"name": "keep", "ansible.builtin.copy": {"content": "{{ gen.password }}", "dest": "{{ pw_file }}", "mode": "0600"},
                  "no_log": True})
    pw_file = sandbox.state_dir + "/generated-password"
    run = run_playbook(play(*tasks), extra_vars={"pw_file": pw_file}, verbosity=3, diff=True, expect_rc=0)
    with open(pw_file) as handle:
        generated = handle.read()
    assert len(generated) == 20
    for secret in (supplied, generated, sandbox.env["M365_CLIENT_SECRET"]):
        assert secret not in run.stdout
    assert "sam.lee@northwindacct.com" in run.stdout or "censored" in run.stdout


def test_converges_under_throttling(sandbox, run_playbook):
    # Four people in one task send their eight writes back to back: a bucket of 3 writes per 4 s must throttle them.
    sandbox.configure(throttle={"enabled": True, "write_limit": 3, "write_window_s": 4, "time_scale": 1})
    items = [{"user": "temp%d@northwindacct.com" % i} for i in range(4)]
    task = user_task(name="bulk", usage_location="AU", licenses={"add": ["FLOW_FREE"]}, items=items)
    task["practiceprotect.m365.m365_user"].pop("user", None)
    run = run_playbook(play(task), expect_rc=0)
    assert run.result("bulk")["retries"] >= 1
    assert any(e["status"] == 429 for e in sandbox.log())
    assert run.result("bulk")["failed_items"] == []
    for i in range(4):
        assert state_user(sandbox, "temp%d@northwindacct.com" % i)["assignedLicenses"]
    mark = sandbox.log()[-1]["seq"]
    again = run_playbook(play(task), expect_rc=0)
    assert again.changed() == 0 and sandbox.writes(since=mark) == []


def test_converges_under_replication_lag(sandbox, run_playbook):
    sandbox.configure(replication_lag_s=3)
    run = run_playbook(play(user_task(**JANE)), expect_rc=0)
    r = run.result("user")
    assert r["replication_waits"] >= 1
    sandbox.configure(replication_lag_s=0)
    stored = state_user(sandbox, UPN)
    assert stored["assignedLicenses"] and stored["usageLocation"] == "AU"
    assert len([u for u in sandbox.state()["users"] if u["userPrincipalName"].lower() == UPN]) == 1


def test_retried_create_after_connection_reset_does_not_duplicate(sandbox, run_playbook):
    sandbox.configure(faults=[{"path": "^/v1.0/users$", "method": "POST", "kind": "reset_after", "rate": 1, "count": 1}])
    run = run_playbook(play(user_task(**JANE)), expect_rc=0)
    assert run.result("user")["retries"] >= 1
    assert len([u for u in sandbox.state()["users"] if u["userPrincipalName"].lower() == UPN]) == 1
    assert state_user(sandbox, UPN)["assignedLicenses"]


@pytest.mark.parametrize("status, method", [(500, "GET"), (500, "POST"), (503, None), (504, None)])
def test_converges_through_server_errors(sandbox, run_playbook, status, method):
    rule = {"path": "^/v1.0/users", "kind": "status", "status": status, "rate": 1, "count": 1 if status == 500 else 2}
    if method:
        rule["method"] = method
    sandbox.configure(faults=[rule])
    run = run_playbook(play(user_task(**JANE)))
    if method == "POST":
        # A 500 on a write may hide a done write: fail clearly, write nothing half-done, and a re-run converges.
        assert run.rc == 2 and run.result("user")["status"] == 500
        run = run_playbook(play(user_task(**JANE)), expect_rc=0)
    assert run.rc == 0  # 503 and 504 always, 500 on a read, are retried
    assert state_user(sandbox, UPN)["assignedLicenses"]
    assert len([u for u in sandbox.state()["users"] if (u.get("userPrincipalName") or "").lower() == UPN]) == 1


def test_documented_permissions_are_enough_for_the_whole_lifecycle(sandbox, run_playbook):
    roles = documented_permissions("m365_user")
    assert roles == ["User.ReadWrite.All", "Domain.Read.All", "Organization.Read.All"]
    app = sandbox.add_app("m365_user least privilege", roles)
    env = {"M365_CLIENT_ID": app["client_id"], "M365_CLIENT_SECRET": app["client_secret"]}
    tasks = [user_task(name="create", **JANE), user_task(name="delete", state="absent"), user_task(name="restore", **JANE),
             user_task(name="purge", licenses={"set": []}, allow_mail_loss=True)]
    run = run_playbook(play(*tasks), env=env, expect_rc=0)
    assert [run.result(n)["action"] for n in ("create", "delete", "restore", "purge")] == ["create", "delete", "restore", "update"]
    for missing in roles:
        app = sandbox.add_app("without " + missing, [r for r in roles if r != missing])
        env = {"M365_CLIENT_ID": app["client_id"], "M365_CLIENT_SECRET": app["client_secret"]}
        failed = run_playbook(play(user_task(user="x.%s@northwindacct.com" % missing.split(".")[0].lower(),
                                             usage_location="AU", licenses={"add": ["FLOW_FREE"]})), env=env)
        result = failed.result("user")
        assert failed.rc == 2 and result["status"] == 403, missing
        assert "lacks a Microsoft Graph permission" in result["msg"]


def test_user_info_lookups(sandbox, run_playbook):
    sandbox.control("POST", "/_sandbox/seed", json={"users": [
        {"userPrincipalName": "bulk%04d@northwindacct.com" % i, "displayName": "Bulk %04d" % i, "department": "Bulk",
         "accountEnabled": i % 2 == 0} for i in range(1050)]})
    tasks = [
        {"name": "one", "practiceprotect.m365.m365_user_info": {
            "user": "sarah.jones@northwindacct.com", "select": ["id", "userPrincipalName", "usageLocation"]}},
        {"name": "missing", "practiceprotect.m365.m365_user_info": {"user": "nobody@northwindacct.com"}},
        {"name": "paged", "practiceprotect.m365.m365_user_info": {"filter": "department eq 'Bulk'", "select": ["userPrincipalName"]}},
        {"name": "advanced", "practiceprotect.m365.m365_user_info": {
            "filter": "department eq 'Bulk' and accountEnabled ne false", "select": ["userPrincipalName", "accountEnabled"]}},
        {"name": "capped", "practiceprotect.m365.m365_user_info": {"filter": "startswith(displayName,'Bulk')", "max_items": 5}},
    ]
    run = run_playbook(play(*tasks), expect_rc=0)
    one = run.result("one")["users"]
    assert one == [{"id": one[0]["id"], "userPrincipalName": "sarah.jones@northwindacct.com", "usageLocation": "AU"}]
    assert run.result("missing")["users"] == []
    paged = run.result("paged")
    assert paged["count"] == 1050 and paged["graph_requests"] == 2  # 999 per page, @odata.nextLink followed
    assert len(set(u["userPrincipalName"] for u in paged["users"])) == 1050
    advanced = run.result("advanced")["users"]
    assert len(advanced) == 525 and all(u["accountEnabled"] for u in advanced)
    assert run.result("capped")["count"] == 5
    assert run.changed() == 0


def test_items_plan_everyone_with_list_reads_and_isolate_a_bad_person(sandbox, run_playbook):
    items = [{"user": "amy.lee@northwindacct.com", "manager": "sarah.jones@northwindacct.com"},
             {"user": "ben.ong@northwindacct.com", "licenses": {"add": ["ENTERPRISEPACK"]}},  # no free seat
             {"user": "cat.roy@northwindacct.com", "mobile_phone": "0412 345 678"}]
    task = user_task(name="bulk", usage_location="AU", phone_region="AU", licenses={"add": ["O365_BUSINESS_PREMIUM"]}, items=items,
                     fail_on_item_error=False)
    task["practiceprotect.m365.m365_user"].pop("user")
    run = run_playbook(play(task), expect_rc=0)
    outcomes = run.result("bulk")["outcomes"]
    assert run.result("bulk")["failed_items"] == ["ben.ong@northwindacct.com"]
    assert outcomes["ben.ong@northwindacct.com"]["msg"].startswith("No free seat on ENTERPRISEPACK: 2 bought, 2 in use.")
    assert outcomes["amy.lee@northwindacct.com"]["action"] == "create" and outcomes["cat.roy@northwindacct.com"]["action"] == "create"
    assert state_user(sandbox, "ben.ong@northwindacct.com") is None
    assert state_user(sandbox, "cat.roy@northwindacct.com")["mobilePhone"] == "+61412345678"

    # The converged re-run of the two good people: a handful of list reads, not a GET per person per property.
    good = [items[0], items[2]]
    task["practiceprotect.m365.m365_user"]["items"] = good
    mark = sandbox.log()[-1]["seq"]
    again = run_playbook(play(task), expect_rc=0)
    graph = [e for e in sandbox.log(since=mark) if e["service"] == "graph"]
    assert again.changed() == 0 and sandbox.writes(since=mark) == []
    assert [e["path"] for e in graph] == ["/v1.0/users", "/v1.0/domains", "/v1.0/subscribedSkus"]

    # The default: the task fails, naming the person, after the others were done.
    task["practiceprotect.m365.m365_user"].update(items=items, fail_on_item_error=True)
    failed = run_playbook(play(task), expect_rc=2)
    assert failed.result("bulk")["msg"].startswith("1 of 3 items failed: ben.ong@northwindacct.com: No free seat on ENTERPRISEPACK")


def test_the_last_licence_of_a_regular_mailbox_is_refused_unless_mail_loss_is_allowed(sandbox, run_playbook):
    # Tom has a regular mailbox and one licence: the module docs' old leaver example would have lost his mail.
    tom = "tom.baker@northwindacct.com"
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    refused = run_playbook(play(user_task(user=tom, account_enabled=False, licenses={"set": []})), expect_rc=2)
    result = refused.result("user")
    assert result["msg"] == ("tom.baker@northwindacct.com has a regular user mailbox in Exchange Online, and taking its last licence deletes "
                             "that mail once the grace period ends. Convert the mailbox to shared first (m365_mailbox type: shared, as the "
                             "offboard_user role does), or set allow_mail_loss: true if the mail is not to be kept.")
    assert result["field"] == "licenses" and sandbox.writes(since=mark) == []
    assert state_user(sandbox, tom)["assignedLicenses"] != []
    # The example as the docs now give it: the mailbox shared first, then the licences go.
    run = run_playbook(play({"name": "shared", "practiceprotect.m365.m365_mailbox": {"user": tom, "type": "shared", "wait_timeout": 60}},
                            user_task(user=tom, account_enabled=False, licenses={"set": []})), expect_rc=0)
    assert run.result("user")["licenses_removed"] and state_user(sandbox, tom)["assignedLicenses"] == []
    # Where the mail is not to be kept, the option says so explicitly.
    run_playbook(play(user_task(**JANE)), expect_rc=0)
    allowed = run_playbook(play(user_task(licenses={"set": []}, allow_mail_loss=True)), expect_rc=0)
    assert allowed.result("user")["licenses_removed"] == ["O365_BUSINESS_PREMIUM"]
