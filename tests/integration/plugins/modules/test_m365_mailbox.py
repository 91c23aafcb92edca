# -*- coding: utf-8 -*-
"""m365_mailbox through real ansible-playbook runs against the sandbox."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from tests.integration.support import documented_permissions as support_permissions, documented_row, play, release_when

TOM = "tom.baker@northwindacct.com"
SARAH = "sarah.jones@northwindacct.com"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"


def mailbox_task(name="mailbox", ignore_errors=False, **options):
    options.setdefault("user", TOM)
    task = {"name": name, "practiceprotect.m365.m365_mailbox": options}
    if ignore_errors:
        task["ignore_errors"] = True
    return task


def stored(sandbox, upn=TOM):
    return [m for m in sandbox.state()["mailboxes"] if (m.get("UserPrincipalName") or "").lower() == upn][0]


def last_seq(sandbox):
    log = sandbox.log()
    return log[-1]["seq"] if log else 0


def seed_colleagues(sandbox):
    sandbox.seed([{"userPrincipalName": "amy.lee@northwindacct.com", "displayName": "Amy Lee"},
                  {"userPrincipalName": "ben.ng@northwindacct.com", "displayName": "Ben Ng"}])


def reads_after_conversion(entries):
    asked = [e["seq"] for e in entries if e.get("cmdlet") == "Set-Mailbox" and "Type" in e["body_keys"]]
    return [e for e in entries if asked and e["seq"] > asked[0] and e.get("cmdlet") == "Get-Mailbox"]


def test_conversion_is_reported_done_only_when_exchange_shows_it(sandbox, run_playbook):
    sandbox.configure(shared_conversion_delay_s=3600)
    with release_when(sandbox, lambda entries: len(reads_after_conversion(entries)) >= 2, shared_conversion_delay_s=0):
        run = run_playbook(play(mailbox_task(type="shared", wait_timeout=120)), expect_rc=0)
    r = run.result("mailbox")
    assert r["changed"] and r["converted"] and r["conversion_waits"] >= 2
    assert r["mailbox"]["type"] == "shared" and r["mailbox"]["recipient_type_details"] == "SharedMailbox"
    assert stored(sandbox)["RecipientTypeDetails"] == "SharedMailbox"
    assert len(reads_after_conversion(sandbox.log())) >= 3  # still UserMailbox twice, then SharedMailbox
    mark = last_seq(sandbox)
    again = run_playbook(play(mailbox_task(type="shared")), expect_rc=0)
    assert not again.result("mailbox")["changed"] and sandbox.writes(since=mark) == []


def test_conversion_not_shown_in_time_fails_and_says_not_done(sandbox, run_playbook):
    sandbox.configure(shared_conversion_delay_s=3600)
    run = run_playbook(play(mailbox_task(type="shared", wait_timeout=2)))
    r = run.result("mailbox")
    assert run.rc == 2
    assert r["msg"] == ("Exchange accepted the conversion to SharedMailbox but still shows UserMailbox after 2 seconds (wait_timeout). "
                        "The conversion is not done; do not remove licences yet. Run the task again later; it reports done only when "
                        "Exchange shows SharedMailbox.")


def test_settings_and_full_access_then_idempotent(sandbox, run_playbook):
    seed_colleagues(sandbox)
    wanted = dict(forwarding_address=SARAH, forwarding_keep_copy=True, hidden_from_address_lists=True,
                  full_access={"add": [SARAH, "amy.lee@northwindacct.com"]}, auto_mapping=False)
    run = run_playbook(play(mailbox_task(**wanted)), diff=True, expect_rc=0)
    r = run.result("mailbox")
    assert r["full_access_granted"] == [SARAH, "amy.lee@northwindacct.com"]
    assert r["mailbox"] == {"type": "regular", "recipient_type_details": "UserMailbox", "primary_smtp_address": TOM,
                            "forwarding_address": SARAH, "forwarding_keep_copy": True, "hidden_from_address_lists": True,
                            "full_access": ["amy.lee@northwindacct.com", SARAH]}
    assert r["diff"]["before"]["forwarding_address"] is None and r["diff"]["before"]["full_access"] == []
    s = stored(sandbox)
    assert s["ForwardingSmtpAddress"] == "smtp:" + SARAH and s["DeliverToMailboxAndForward"] and s["HiddenFromAddressListsEnabled"]
    assert s["FullAccess"] == ["amy.lee@northwindacct.com", SARAH]
    writes = [(w["cmdlet"], sorted(w["body_keys"])) for w in sandbox.writes()]
    assert writes == [("Set-Mailbox", ["DeliverToMailboxAndForward", "ForwardingSmtpAddress", "HiddenFromAddressListsEnabled", "Identity"]),
                      ("Add-MailboxPermission", ["AccessRights", "AutoMapping", "Identity", "InheritanceType", "User"]),
                      ("Add-MailboxPermission", ["AccessRights", "AutoMapping", "Identity", "InheritanceType", "User"])]

    mark = last_seq(sandbox)
    again = run_playbook(play(mailbox_task(**wanted)), expect_rc=0)
    assert again.changed() == 0 and sandbox.writes(since=mark) == []

    tasks = [mailbox_task("stop forwarding", forwarding_address="", hidden_from_address_lists=False),
             mailbox_task("remove amy", full_access={"remove": ["amy.lee@northwindacct.com", "ben.ng@northwindacct.com"]}),
             mailbox_task("additive", full_access={"add": ["ben.ng@northwindacct.com"]})]
    run = run_playbook(play(*tasks), expect_rc=0)
    assert run.result("remove amy")["full_access_removed"] == ["amy.lee@northwindacct.com"]
    assert run.result("remove amy")["full_access_granted"] == []
    assert run.result("additive")["mailbox"]["full_access"] == ["ben.ng@northwindacct.com", SARAH]
    s = stored(sandbox)
    assert s["ForwardingSmtpAddress"] is None and not s["HiddenFromAddressListsEnabled"]
    assert s["FullAccess"] == ["ben.ng@northwindacct.com", SARAH]


def test_set_full_access_with_threshold(sandbox, run_playbook):
    seed_colleagues(sandbox)
    run_playbook(play(mailbox_task(full_access={"add": [SARAH, "amy.lee@northwindacct.com", "ben.ng@northwindacct.com"]})), expect_rc=0)
    mark = last_seq(sandbox)
    refused = run_playbook(play(mailbox_task(full_access={"set": [SARAH]}, max_removals=1)))
    assert refused.rc == 2
    r = refused.result("mailbox")
    assert r["msg"] == (
        "Refusing to remove 2 users' full access from tom.baker@northwindacct.com's mailbox, more than max_removals (1): "
        "amy.lee@northwindacct.com, ben.ng@northwindacct.com. List them to keep them, or raise max_removals if this is intended.")
    assert r["field"] == "max_removals" and r["removal_limit"] == 1
    assert r["refused_removals"] == ["amy.lee@northwindacct.com", "ben.ng@northwindacct.com"]
    # A share of the three who hold full access now: 50% of 3 rounds down to 1.
    share = run_playbook(play(mailbox_task(full_access={"set": [SARAH]}, max_removals="50%")))
    assert share.rc == 2
    r = share.result("mailbox")
    assert r["msg"] == (
        "Refusing to remove 2 users' full access from tom.baker@northwindacct.com's mailbox, more than max_removals (50% of the 3 held "
        "now, rounded down, at least 1: 1): amy.lee@northwindacct.com, ben.ng@northwindacct.com. List them to keep them, or raise "
        "max_removals if this is intended.")
    assert r["field"] == "max_removals" and r["removal_limit"] == 1
    assert sandbox.writes(since=mark) == []
    run = run_playbook(play(mailbox_task(full_access={"set": [SARAH]}, max_removals=2)), expect_rc=0)
    assert run.result("mailbox")["full_access_removed"] == ["amy.lee@northwindacct.com", "ben.ng@northwindacct.com"]
    assert stored(sandbox)["FullAccess"] == [SARAH]
    assert [w["cmdlet"] for w in sandbox.writes(since=mark)] == ["Remove-MailboxPermission", "Remove-MailboxPermission"]
    # set: [] takes full access from everyone (within the limit); a second run has nothing left to take.
    emptied = run_playbook(play(mailbox_task(full_access={"set": []}, max_removals=1)), expect_rc=0).result("mailbox")
    assert emptied["full_access_removed"] == [SARAH] and emptied["mailbox"]["full_access"] == []
    assert stored(sandbox)["FullAccess"] == []
    since = last_seq(sandbox)
    again = run_playbook(play(mailbox_task(full_access={"set": []}, max_removals=0)), expect_rc=0)
    assert not again.result("mailbox")["changed"] and sandbox.writes(since=since) == []


def test_remove_takes_access_from_the_listed_users_only_and_counts_against_the_limit(sandbox, run_playbook):
    seed_colleagues(sandbox)
    everyone = [SARAH, "amy.lee@northwindacct.com", "ben.ng@northwindacct.com"]
    run_playbook(play(mailbox_task(full_access={"add": everyone})), expect_rc=0)
    mark = last_seq(sandbox)
    # Two removals against a limit of one: refused, naming both, before any write.
    refused = run_playbook(play(mailbox_task(full_access={"remove": everyone[1:]}, max_removals=1)))
    assert refused.rc == 2
    r = refused.result("mailbox")
    assert r["msg"] == (
        "Refusing to remove 2 users' full access from tom.baker@northwindacct.com's mailbox, more than max_removals (1): "
        "amy.lee@northwindacct.com, ben.ng@northwindacct.com. List them to keep them, or raise max_removals if this is intended.")
    assert r["field"] == "max_removals" and r["refused_removals"] == ["amy.lee@northwindacct.com", "ben.ng@northwindacct.com"]
    assert sandbox.writes(since=mark) == []
    # A share: 50% of the three holders is 1, so one removal goes ahead; users without access, not in the tenant,
    # and the mailbox's own user are skipped, not refused.
    run = run_playbook(play(mailbox_task(full_access={"remove": ["Amy.Lee@northwindacct.com", "nobody@northwindacct.com", TOM]},
                                         max_removals="50%")), diff=True, expect_rc=0)
    r = run.result("mailbox")
    assert r["changed"] and r["full_access_removed"] == ["amy.lee@northwindacct.com"] and r["full_access_granted"] == []
    assert r["diff"]["before"]["full_access"] == sorted(everyone) and r["diff"]["after"]["full_access"] == ["ben.ng@northwindacct.com", SARAH]
    assert stored(sandbox)["FullAccess"] == ["ben.ng@northwindacct.com", SARAH]
    writes = [(w["cmdlet"], sorted(w["body_keys"])) for w in sandbox.writes(since=mark)]
    assert writes == [("Remove-MailboxPermission", ["AccessRights", "Confirm", "Identity", "InheritanceType", "User"])]
    since = last_seq(sandbox)
    again = run_playbook(play(mailbox_task(full_access={"remove": ["amy.lee@northwindacct.com"]}, max_removals=0)), expect_rc=0)
    assert not again.result("mailbox")["changed"] and sandbox.writes(since=since) == []


def test_check_mode_writes_nothing_and_does_not_wait(sandbox, run_playbook):
    sandbox.configure(shared_conversion_delay_s=30)
    run = run_playbook(play(mailbox_task(type="shared", hidden_from_address_lists=True, full_access={"add": [SARAH]})), check=True, diff=True,
                       expect_rc=0)
    r = run.result("mailbox")
    assert r["changed"] and not r["converted"] and r["conversion_waits"] == 0
    assert [c["cmdlet"] for c in r["plan"]] == ["Set-Mailbox", "Set-Mailbox", "Add-MailboxPermission"]
    assert r["diff"]["before"]["type"] == "regular" and r["diff"]["after"]["type"] == "shared"
    assert r["diff"]["after"]["full_access"] == [SARAH]
    assert sandbox.writes() == []
    assert stored(sandbox)["RecipientTypeDetails"] == "UserMailbox"


BAD = [
    ("bad forwarding", dict(forwarding_address="sarah at northwind"), "forwarding_address 'sarah at northwind' is not a valid e-mail address"),
    ("unknown trustee", dict(full_access={"add": ["nobody@northwindacct.com"]}),
     "full_access.add: nobody@northwindacct.com is not a user in this tenant."),
    ("unknown trustee in set", dict(full_access={"set": [SARAH, "nobody@northwindacct.com"]}),
     "full_access.set: nobody@northwindacct.com is not a user in this tenant."),
    ("own user", dict(full_access={"add": [TOM]}), "full_access.add: tom.baker@northwindacct.com is the mailbox's own user, who has full access already."),
    ("own user in set", dict(full_access={"set": [TOM]}),
     "full_access.set: tom.baker@northwindacct.com is the mailbox's own user, who has full access already."),
    ("neither a UPN nor an id", dict(full_access={"add": ["jane"]}), "full_access.add entry 'jane' is neither a UPN nor an object id."),
    ("empty entry", dict(full_access={"remove": [" "]}), "full_access.remove has an empty entry; give UPNs or object ids."),
    ("add and remove the same", dict(full_access={"add": [SARAH], "remove": [SARAH.upper()]}),
     "full_access lists sarah.jones@northwindacct.com under both add and remove; give each value once."),
    ("unknown action", dict(full_access={"exclusive": True}),
     "Unsupported parameters for (practiceprotect.m365.m365_mailbox) module: full_access.exclusive. Supported parameters include: add, remove, set."),
    ("removal limit not a number", dict(full_access={"set": [SARAH]}, max_removals="some"),
     "max_removals must be a number or a percentage such as 10%, not 'some'."),
    ("negative removal limit", dict(full_access={"set": [SARAH]}, max_removals=-1), "max_removals must be 0 or more."),
    ("no mailbox", dict(user="admin@northwindacct.onmicrosoft.com", type="shared"),
     "admin@northwindacct.onmicrosoft.com has no mailbox and no licence that includes Exchange Online"),
    ("wrong type", dict(type="room"), "value of type must be one of: shared, regular, got: room"),
]


def test_bad_input_is_refused_before_any_write(sandbox, run_playbook):
    run = run_playbook(play(*[mailbox_task(name, ignore_errors=True, **options) for name, options, _ in BAD]), expect_rc=0)
    for name, _, message in BAD:
        task = run.task(name)
        assert task["status"] == "failed", name
        assert task["result"]["msg"].startswith(message), (name, task["result"]["msg"])
    assert sandbox.writes() == []


def test_documented_permissions_are_enough(sandbox, run_playbook):
    roles, needs_admin = documented_permissions("m365_mailbox")
    assert roles == ["User.Read.All", "Exchange.ManageAsApp"] and needs_admin
    app = sandbox.add_app("m365_mailbox least privilege", roles, directory_roles=[EXCHANGE_ADMIN])
    env = {"M365_CLIENT_ID": app["client_id"], "M365_CLIENT_SECRET": app["client_secret"]}
    tasks = [mailbox_task("offboard", type="shared", hidden_from_address_lists=True, forwarding_address=SARAH, full_access={"add": [SARAH]}),
             mailbox_task("revoke", full_access={"remove": [SARAH]}, forwarding_address="")]
    run = run_playbook(play(*tasks), env=env, expect_rc=0)
    assert run.result("offboard")["converted"] and run.result("revoke")["full_access_removed"] == [SARAH]
    without_role = sandbox.add_app("m365_mailbox without the role", roles)
    failed = run_playbook(play(mailbox_task(type="regular")),
                          env={"M365_CLIENT_ID": without_role["client_id"], "M365_CLIENT_SECRET": without_role["client_secret"]})
    assert failed.rc == 2 and failed.result("mailbox")["status"] == 401
    assert "isn't supported in this scenario" in failed.result("mailbox")["msg"]


def documented_permissions(module):
    """The module's documented Graph permissions, and whether its row asks for the Exchange Administrator role."""
    return support_permissions(module), "Exchange Administrator" in documented_row(module)


# -- many people in one task (items) ---------------------------------------------------------------------------------

AMY = "amy.lee@northwindacct.com"
OWN_MSG = "full_access.add: sarah.jones@northwindacct.com is the mailbox's own user, who has full access already."


def items_task(name, items, **options):
    options["items"] = items
    return {"name": name, "practiceprotect.m365.m365_mailbox": options, "register": name.replace(" ", "_")}


def reads(sandbox, since):
    """Graph and Exchange reads since ``since``, by Graph path or Exchange cmdlet."""
    found = [e.get("cmdlet") or e["path"] for e in sandbox.log(since) if e["service"] in ("graph", "exchange") and not e["write"]]
    return dict((key, found.count(key)) for key in sorted(set(found)))


def test_items_offboard_several_mailboxes_in_one_task(sandbox, run_playbook):
    sandbox.seed([{"userPrincipalName": AMY, "displayName": "Amy Lee", "usageLocation": "AU", "licenses": ["O365_BUSINESS_PREMIUM"]}])
    items = [{"user": TOM, "full_access": {"add": [SARAH]}}, {"user": AMY, "full_access": {"add": [SARAH]}, "forwarding_address": SARAH},
             {"user": SARAH, "full_access": {"add": [SARAH]}}]
    shared = dict(type="shared", hidden_from_address_lists=True, wait_timeout=60)
    run = run_playbook(play(items_task("bulk", items, fail_on_item_error=False, **shared),
                            dict(items_task("strict", items, **shared), ignore_errors=True)), expect_rc=0)
    r = run.result("bulk")
    assert run.task("bulk")["status"] == "ok" and r["changed"] and r["failed_items"] == [SARAH]
    assert r["outcomes"][SARAH]["failed"] is True and r["outcomes"][SARAH]["msg"] == OWN_MSG and not r["outcomes"][SARAH]["changed"]
    for upn in (TOM, AMY):
        done = r["outcomes"][upn]
        assert done["changed"] and done["converted"] and done["mailbox"]["type"] == "shared" and done["full_access_granted"] == [SARAH]
        assert stored(sandbox, upn)["RecipientTypeDetails"] == "SharedMailbox" and stored(sandbox, upn)["HiddenFromAddressListsEnabled"]
        assert stored(sandbox, upn)["FullAccess"] == [SARAH]
    assert stored(sandbox, AMY)["ForwardingSmtpAddress"] == "smtp:" + SARAH and stored(sandbox, TOM)["ForwardingSmtpAddress"] is None
    assert stored(sandbox, SARAH)["RecipientTypeDetails"] == "UserMailbox"
    strict = run.task("strict")
    assert strict["status"] == "failed" and strict["result"]["msg"] == "1 of 3 items failed: %s: %s" % (SARAH, OWN_MSG)
    assert not strict["result"]["changed"] and not strict["result"]["outcomes"][AMY]["changed"]

    # Converged: no change, no write; the people and their trustees come from one Graph list query.
    since = last_seq(sandbox)
    again = run_playbook(play(items_task("bulk", items, fail_on_item_error=False, **shared)), expect_rc=0)
    assert again.changed() == 0 and again.result("bulk")["failed_items"] == [SARAH]
    assert sandbox.writes(since=since) == []
    bulk_reads = reads(sandbox, since)
    assert bulk_reads == {"/v1.0/users": 1, "Get-Mailbox": 3, "Get-MailboxPermission": 3}
    since = last_seq(sandbox)
    assert run_playbook(play(mailbox_task(full_access={"add": [SARAH]}, **shared)), expect_rc=0).changed() == 0
    single_reads = reads(sandbox, since)
    assert single_reads == {"/v1.0/users": 1, "Get-Mailbox": 1, "Get-MailboxPermission": 1}
    assert sum(bulk_reads.values()) < 3 * sum(single_reads.values())


# -- Exchange's per-tenant concurrency limit ------------------------------------------------------------------------


def test_a_run_keeps_under_the_concurrency_limit_and_retries_its_refusals(sandbox, run_playbook):
    people = ["staff%d@northwindacct.com" % n for n in range(8)]
    sandbox.seed([{"userPrincipalName": upn, "usageLocation": "AU", "licenses": ["O365_BUSINESS_PREMIUM"]} for upn in people])
    sandbox.configure(latency_ms=150)  # calls overlap; the tenant's limit is the default (4)
    run = run_playbook(play(items_task("hide", [{"user": upn} for upn in people], hidden_from_address_lists=True, workers=16)), expect_rc=0)
    assert run.task("hide")["status"] == "ok" and run.result("hide")["changed"]
    refused = [e for e in sandbox.log() if e["service"] == "exchange" and e["fault"] == "concurrency_limit"]
    assert refused == []  # one run never has more calls in flight than the limit
    since = last_seq(sandbox)
    sandbox.configure(exchange_max_concurrency=2)  # a tenant busier than the run expects: refusals, sent again
    again = run_playbook(play(items_task("show", [{"user": upn} for upn in people], hidden_from_address_lists=False, workers=16)), expect_rc=0)
    refused = [e for e in sandbox.log(since) if e["service"] == "exchange" and e["fault"] == "concurrency_limit"]
    assert again.task("show")["status"] == "ok" and refused and again.result("show")["retries"] >= len(refused)
    assert all(not m["HiddenFromAddressListsEnabled"] for m in sandbox.state()["mailboxes"] if m.get("UserPrincipalName") in people)
