# -*- coding: utf-8 -*-
"""m365_alias (and the onboarding/offboarding story with m365_user and m365_mailbox) through real ansible-playbook runs."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from tests.integration.support import documented_permissions as support_permissions, documented_row, play, release_when

JANE = "jane.citizen@northwindacct.com"
TOM = "tom.baker@northwindacct.com"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"


def alias_task(name="alias", ignore_errors=False, **options):
    options.setdefault("user", JANE)
    task = {"name": name, "practiceprotect.m365.m365_alias": options, "register": name.replace(" ", "_")}
    if ignore_errors:
        task["ignore_errors"] = True
    return task


def user_task(name="user", **options):
    options.setdefault("user", JANE)
    return {"name": name, "practiceprotect.m365.m365_user": options}


def mailbox(sandbox, upn):
    found = [m for m in sandbox.state()["mailboxes"] if (m.get("UserPrincipalName") or "").lower() == upn.lower()]
    return found[0] if found else None


def graph_user(sandbox, upn):
    return [u for u in sandbox.state()["users"] if u["userPrincipalName"].lower() == upn.lower()][0]


def exchange_writes(sandbox, since=0):
    return [(w["cmdlet"], w["body_keys"]) for w in sandbox.writes(since=since) if w["service"] == "exchange"]


def last_seq(sandbox):
    log = sandbox.log()
    return log[-1]["seq"] if log else 0


JOINER = dict(given_name="Jane", surname="Citizen", usage_location="AU", licenses={"add": ["O365_BUSINESS_PREMIUM"]})
PP_ATTRIBUTE = "SMTP:jane@northwindacct.com;smtp:jane.citizen@northwindacct.com;smtp:j.citizen@northwindacct.com;smtp:jc@northwindacct.com"


def done_when_play():
    parsed = "{{ pp_proxy | practiceprotect.m365.parse_proxy_addresses }}"
    return play(
        user_task("joiner", **JOINER),
        {"name": "addresses", "practiceprotect.m365.m365_alias": {
            "user": JANE, "primary": "{{ (pp_proxy | practiceprotect.m365.parse_proxy_addresses).primary }}",
            "aliases": {"add": "{{ (pp_proxy | practiceprotect.m365.parse_proxy_addresses).aliases }}"}, "wait_for_mailbox": True,
            "wait_timeout": 60}, "register": "addresses", "vars": {"pp_proxy": PP_ATTRIBUTE}},
        {"name": "attribute", "ansible.builtin.set_fact": {
            "rebuilt": "{{ addresses.primary | practiceprotect.m365.proxy_addresses(addresses.aliases | reject('search', 'onmicrosoft') | list) }}",
            "parsed": parsed}, "vars": {"pp_proxy": PP_ATTRIBUTE}},
        {"name": "leaver shared", "practiceprotect.m365.m365_mailbox": {"user": TOM, "type": "shared", "wait_timeout": 60},
         "register": "leaver"},
        user_task("leaver licences", user=TOM, licenses={"set": []}),
    )


def test_done_when_joiner_aliases_and_leaver_shared_then_rerun_unchanged(sandbox, run_playbook):
    # Exchange's delays, shortened: the mailbox comes 2 s after the licence, a conversion shows 2 s after it is asked for.
    sandbox.configure(mailbox_provisioning_delay_s=2, shared_conversion_delay_s=2)
    first = run_playbook(done_when_play(), expect_rc=0)
    r = first.result("addresses")
    assert r["changed"]
    assert r["primary"] == "jane@northwindacct.com"
    assert sorted(r["aliases"]) == ["j.citizen@northwindacct.com", "jane.citizen@northwindacct.com",
                                    "jane.citizen@northwindacct.onmicrosoft.com", "jc@northwindacct.com"]
    assert r["addresses_before"] == ["SMTP:jane.citizen@northwindacct.com", "smtp:jane.citizen@northwindacct.onmicrosoft.com"]
    # Exchange and Graph agree on the result.
    stored = mailbox(sandbox, JANE)
    assert stored["PrimarySmtpAddress"] == "jane@northwindacct.com" and sorted(stored["EmailAddresses"]) == sorted(r["addresses_after"])
    jane = graph_user(sandbox, JANE)
    assert jane["mail"] == "jane@northwindacct.com" and sorted(jane["proxyAddresses"]) == sorted(stored["EmailAddresses"])
    # The filters rebuild the Practice Protect attribute from what Exchange holds, primary first.
    facts = first.result("attribute")["ansible_facts"]
    assert facts["rebuilt"].startswith("SMTP:jane@northwindacct.com;") and sorted(facts["rebuilt"].split(";")) == sorted(PP_ATTRIBUTE.split(";"))
    # The leaver: converted and reported done only once Exchange showed it, and the licence went after that.
    leaver = first.result("leaver shared")
    assert leaver["converted"] and leaver["mailbox"]["type"] == "shared"
    assert mailbox(sandbox, TOM)["RecipientTypeDetails"] == "SharedMailbox"
    assert graph_user(sandbox, TOM)["assignedLicenses"] == []
    log = sandbox.log()
    conversion = [e["seq"] for e in log if e.get("cmdlet") == "Set-Mailbox" and "Type" in e["body_keys"]][0]
    licence = [e["seq"] for e in log if e["path"].endswith("/assignLicense") and TOM not in e["path"] and e["seq"] > conversion]
    assert licence, "the leaver's licence was removed before the conversion"

    mark = last_seq(sandbox)
    second = run_playbook(done_when_play(), expect_rc=0)
    assert second.changed() == 0
    assert not second.result("addresses")["changed"] and second.result("addresses")["plan"] == []
    assert sandbox.writes(since=mark) == []


def test_check_mode_and_diff_write_nothing(sandbox, run_playbook):
    run = run_playbook(play(alias_task(user=TOM, primary="tb@northwindacct.com", aliases={"add": ["tbaker@northwindacct.com"]})),
                       check=True, diff=True, expect_rc=0)
    r = run.result("alias")
    assert r["changed"] and r["added"] == ["tbaker@northwindacct.com", "tb@northwindacct.com"]
    assert r["diff"]["before"]["primary"] == "tom.baker@northwindacct.com" and r["diff"]["after"]["primary"] == "tb@northwindacct.com"
    assert r["addresses_after"][0] == "SMTP:tb@northwindacct.com"
    assert [c["cmdlet"] for c in r["plan"]] == ["Set-Mailbox"] and r["plan"][0]["parameters"] == ["EmailAddresses", "Identity"]
    assert sandbox.writes() == []
    assert mailbox(sandbox, TOM)["EmailAddresses"] == ["SMTP:tom.baker@northwindacct.com", "smtp:tom.baker@northwindacct.onmicrosoft.com"]


def test_set_threshold_and_remove(sandbox, run_playbook):
    extra = ["old%d@northwindacct.com" % i for i in range(3)]
    run_playbook(play(alias_task(user=TOM, aliases={"add": extra + ["keep@northwindacct.com"]})), expect_rc=0)
    mark = last_seq(sandbox)
    refused = run_playbook(play(alias_task(user=TOM, aliases={"set": ["keep@northwindacct.com"]}, max_removals=2)))
    assert refused.rc == 2
    r = refused.result("alias")
    assert r["msg"] == (
        "Refusing to remove 3 aliases from tom.baker@northwindacct.com, more than max_removals (2): old0@northwindacct.com, "
        "old1@northwindacct.com, old2@northwindacct.com. List them to keep them, or raise max_removals if this is intended.")
    assert r["field"] == "max_removals" and r["removal_limit"] == 2 and r["refused_removals"] == extra
    # A share of what the mailbox holds: its five smtp: aliases (the routing address, old0-2 and keep), 50% of them is 2.
    share = run_playbook(play(alias_task(user=TOM, aliases={"set": ["keep@northwindacct.com"]}, max_removals="50%")))
    assert share.rc == 2
    r = share.result("alias")
    assert r["msg"] == (
        "Refusing to remove 3 aliases from tom.baker@northwindacct.com, more than max_removals (50% of the 5 held now, rounded down, "
        "at least 1: 2): old0@northwindacct.com, old1@northwindacct.com, old2@northwindacct.com. List them to keep them, or raise "
        "max_removals if this is intended.")
    assert r["field"] == "max_removals" and r["removal_limit"] == 2 and r["refused_removals"] == extra
    assert sandbox.writes(since=mark) == []
    tasks = [alias_task("set", user=TOM, aliases={"set": ["keep@northwindacct.com"]}, max_removals=3),
             alias_task("again", user=TOM, aliases={"set": ["keep@northwindacct.com"]}, max_removals=0),
             alias_task("remove", user=TOM, aliases={"remove": ["keep@northwindacct.com", "never@northwindacct.com"]}),
             alias_task("remove again", user=TOM, aliases={"remove": ["keep@northwindacct.com"]})]
    run = run_playbook(play(*tasks), diff=True, expect_rc=0)
    assert run.result("set")["removed"] == extra
    assert not run.result("again")["changed"]
    assert run.result("remove")["removed"] == ["keep@northwindacct.com"] and not run.result("remove again")["changed"]
    # The primary and the routing address survive a set that names neither.
    assert mailbox(sandbox, TOM)["EmailAddresses"] == ["SMTP:tom.baker@northwindacct.com", "smtp:tom.baker@northwindacct.onmicrosoft.com"]
    assert [c for c, _ in exchange_writes(sandbox, mark)] == ["Set-Mailbox", "Set-Mailbox"]


def test_a_share_limit_counts_what_the_mailbox_holds_now(sandbox, run_playbook):
    # Four aliases and the routing address: 50% of the five is 2, so a set that removes two goes ahead.
    added = ["a%d@northwindacct.com" % i for i in range(4)]
    run_playbook(play(alias_task(user=TOM, aliases={"add": added})), expect_rc=0)
    mark = last_seq(sandbox)
    run = run_playbook(play(alias_task(user=TOM, aliases={"set": added[:2]}, max_removals="50%")), expect_rc=0)
    assert run.result("alias")["removed"] == added[2:]
    assert sorted(mailbox(sandbox, TOM)["EmailAddresses"]) == ["SMTP:tom.baker@northwindacct.com", "smtp:a0@northwindacct.com",
                                                               "smtp:a1@northwindacct.com", "smtp:tom.baker@northwindacct.onmicrosoft.com"]
    assert [c for c, _ in exchange_writes(sandbox, mark)] == ["Set-Mailbox"]
    # Every removal counts against the limit, a remove as much as a set.
    since = last_seq(sandbox)
    limited = run_playbook(play(alias_task(user=TOM, aliases={"remove": added[:2]}, max_removals=1)))
    assert limited.rc == 2
    r = limited.result("alias")
    assert r["msg"] == (
        "Refusing to remove 2 aliases from tom.baker@northwindacct.com, more than max_removals (1): a0@northwindacct.com, "
        "a1@northwindacct.com. List them to keep them, or raise max_removals if this is intended.")
    assert r["field"] == "max_removals" and r["removal_limit"] == 1 and r["refused_removals"] == added[:2]
    assert sandbox.writes(since=since) == []


def test_a_plain_list_is_refused_before_any_write(sandbox, run_playbook):
    """The old form, aliases: [...], is refused with the list idiom's own message, one object or items alike."""
    message = "aliases takes add, remove or set, for example aliases: {add: [...]}; a plain list is not accepted."
    tasks = [alias_task("single", ignore_errors=True, user=TOM, aliases=["tb@northwindacct.com"]),
             dict(items_task("items", [{"user": TOM, "aliases": ["tb@northwindacct.com"]}]), ignore_errors=True)]
    run = run_playbook(play(*tasks), expect_rc=0)
    single = run.task("single")
    assert single["status"] == "failed" and single["result"]["msg"] == message, single["result"].get("msg")
    items = run.task("items")
    assert items["status"] == "failed" and message in items["result"]["msg"], items["result"].get("msg")
    assert sandbox.writes() == []
    assert mailbox(sandbox, TOM)["EmailAddresses"] == ["SMTP:tom.baker@northwindacct.com", "smtp:tom.baker@northwindacct.onmicrosoft.com"]


ERRORS = [
    ("conflict", dict(user=TOM, aliases={"add": ["Sarah.Jones@northwindacct.com"]}),
     "tom.baker@northwindacct.com cannot get Sarah.Jones@northwindacct.com: the address already belongs to Sarah Jones "
     "(sarah.jones@northwindacct.com). Remove it there first, or choose another address."),
    ("primary conflict", dict(user=TOM, primary="sarah.jones@northwindacct.com"),
     "tom.baker@northwindacct.com cannot get sarah.jones@northwindacct.com: the address already belongs to Sarah Jones "
     "(sarah.jones@northwindacct.com). Remove it there first, or choose another address."),
    ("set conflict", dict(user=TOM, aliases={"set": ["Sarah.Jones@northwindacct.com"]}),
     "tom.baker@northwindacct.com cannot get Sarah.Jones@northwindacct.com: the address already belongs to Sarah Jones "
     "(sarah.jones@northwindacct.com). Remove it there first, or choose another address."),
    ("unaccepted domain", dict(user=TOM, aliases={"add": ["tom@contoso.com"]}),
     "tom.baker@northwindacct.com cannot get tom@contoso.com: contoso.com is not an accepted domain of this Exchange Online organisation "
     "(accepted: northwindacct.com, northwindacct.onmicrosoft.com). Add and verify the domain in Microsoft 365 first, or use an accepted domain."),
    ("unverified domain", dict(user=TOM, aliases={"add": ["tom@northwind-legacy.com"]}),
     "tom.baker@northwindacct.com cannot get tom@northwind-legacy.com: northwind-legacy.com is not an accepted domain"),
    ("syntax", dict(user=TOM, aliases={"add": ["tom baker@northwindacct.com"]}),
     "aliases.add 'tom baker@northwindacct.com' is not a valid e-mail address: "),
    ("syntax under remove", dict(user=TOM, aliases={"remove": ["jc@"]}), "aliases.remove 'jc@' is not a valid e-mail address: "),
    ("primary prefix in aliases", dict(user=TOM, aliases={"add": ["SMTP:tb@northwindacct.com"]}),
     "aliases.add: 'SMTP:tb@northwindacct.com' is marked as the primary address (SMTP:); give the primary with the primary option"),
    ("remove primary", dict(user=TOM, aliases={"remove": ["tom.baker@northwindacct.com"]}),
     "tom.baker@northwindacct.com is the primary address of tom.baker@northwindacct.com and cannot be removed; make another address "
     "the primary first (primary)."),
    ("remove routing", dict(user=TOM, aliases={"remove": ["tom.baker@northwindacct.onmicrosoft.com"]}),
     "tom.baker@northwindacct.onmicrosoft.com is the Microsoft 365 routing address of tom.baker@northwindacct.com (*.onmicrosoft.com); "
     "Exchange keeps it, so it cannot be removed."),
    ("add and remove the same", dict(user=TOM, aliases={"add": ["tb@northwindacct.com"], "remove": ["TB@northwindacct.com"]}),
     "aliases lists tb@northwindacct.com under both add and remove; give each value once."),
    ("primary removed", dict(user=TOM, primary="tb@northwindacct.com", aliases={"remove": ["tb@northwindacct.com"]}),
     "tb@northwindacct.com is both the primary and an alias to remove; keep it, or choose another primary."),
    ("nothing to do", dict(user=TOM), "Give aliases (add, remove or set) or primary; there is nothing to do."),
    ("unknown action", dict(user=TOM, aliases={"exclusive": ["tb@northwindacct.com"]}),
     "Unsupported parameters for (practiceprotect.m365.m365_alias) module: aliases.exclusive. Supported parameters include: add, remove, set."),
    ("removal limit not a number", dict(user=TOM, aliases={"add": ["tb@northwindacct.com"]}, max_removals="ten"),
     "max_removals must be a number or a percentage such as 10%, not 'ten'."),
    ("removal limit over the whole", dict(user=TOM, aliases={"remove": ["tb@northwindacct.com"]}, max_removals="150%"),
     "max_removals 150% is more than 100%."),
    ("no licence", dict(user="admin@northwindacct.onmicrosoft.com", aliases={"add": ["boss@northwindacct.com"]}, wait_for_mailbox=True),
     "admin@northwindacct.onmicrosoft.com has no mailbox and no licence that includes Exchange Online, so Exchange will not create one."),
    ("unknown user", dict(user="nobody@northwindacct.com", aliases={"add": ["x@northwindacct.com"]}),
     "user nobody@northwindacct.com is not a user in this tenant; give the UPN or object id of an existing user."),
]


def test_errors_are_exact_and_nothing_is_written(sandbox, run_playbook):
    run = run_playbook(play(*[alias_task(name, ignore_errors=True, **options) for name, options, _ in ERRORS]), expect_rc=0)
    for name, _, message in ERRORS:
        task = run.task(name)
        assert task["status"] == "failed", name
        assert task["result"]["msg"].startswith(message), (name, task["result"]["msg"])
    assert sandbox.writes() == []


def test_wait_for_mailbox(sandbox, run_playbook):
    sandbox.configure(mailbox_provisioning_delay_s=3600)
    tasks = [user_task("joiner", **JOINER),
             alias_task("no wait", ignore_errors=True, aliases={"add": ["jc@northwindacct.com"]}),
             alias_task("wait", aliases={"add": ["jc@northwindacct.com"]}, wait_for_mailbox=True, wait_timeout=120)]

    def polled(entries):  # "no wait" read once; "wait" read once and polled once: then the mailbox may come
        return len([e for e in entries if e.get("cmdlet") == "Get-Mailbox" and e["status"] == 404]) >= 3

    with release_when(sandbox, polled, mailbox_provisioning_delay_s=0):
        run = run_playbook(play(*tasks), expect_rc=0)
    assert run.task("no wait")["result"]["msg"] == (
        "jane.citizen@northwindacct.com has an Exchange Online licence but Exchange has not provisioned the mailbox yet (this takes a "
        "few minutes after the licence is assigned). Set wait_for_mailbox=true to wait for it, or run again later.")
    r = run.result("wait")
    assert r["changed"] and r["mailbox_waits"] >= 2 and "jc@northwindacct.com" in r["aliases"]


def test_exchange_refusal_is_reported_with_its_fields(sandbox, run_playbook):
    # An app with Exchange.ManageAsApp but without the Exchange Administrator role: Exchange's own refusal, with its fields.
    no_admin = sandbox.add_app("aliases without the Exchange role", ["User.Read.All", "Exchange.ManageAsApp"])
    env = {"M365_CLIENT_ID": no_admin["client_id"], "M365_CLIENT_SECRET": no_admin["client_secret"]}
    run = run_playbook(play(alias_task(user=TOM, aliases={"add": ["tb@northwindacct.com"]})), env=env)
    r = run.result("alias")
    assert run.rc == 2 and r["status"] == 401 and r["error_code"] == "Unauthorized" and r["cmdlet"] == "Get-Mailbox"
    assert r["msg"] == (
        "Exchange Online refused Get-Mailbox: The role assigned to application %s isn't supported in this scenario. Please check online "
        "documentation for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication. The application "
        "needs the Exchange.ManageAsApp application permission of Office 365 Exchange Online (with admin consent) and the Exchange "
        "Administrator role; see docs/permissions.md." % no_admin["client_id"])
    assert r["request_id"]
    assert sandbox.writes() == [] or all(w["status"] == 401 for w in sandbox.writes())


def test_documented_permissions_are_enough(sandbox, run_playbook):
    roles, needs_admin = documented_permissions("m365_alias")
    assert roles == ["User.Read.All", "Exchange.ManageAsApp"] and needs_admin
    app = sandbox.add_app("m365_alias least privilege", roles, directory_roles=[EXCHANGE_ADMIN])
    env = {"M365_CLIENT_ID": app["client_id"], "M365_CLIENT_SECRET": app["client_secret"]}
    tasks = [alias_task("add", user=TOM, primary="tb@northwindacct.com", aliases={"add": ["tom.baker@northwindacct.com"]}),
             alias_task("set", user=TOM, aliases={"set": []}),
             alias_task("remove", user=TOM, aliases={"remove": ["x@northwindacct.com"]})]
    run = run_playbook(play(*tasks), env=env, expect_rc=0)
    assert run.result("add")["changed"] and run.result("set")["removed"] == ["tom.baker@northwindacct.com"]
    assert not run.result("remove")["changed"]
    without_graph = sandbox.add_app("no Graph", ["Exchange.ManageAsApp"], directory_roles=[EXCHANGE_ADMIN])
    failed = run_playbook(play(alias_task(user=TOM, aliases={"add": ["tb2@northwindacct.com"]})),
                          env={"M365_CLIENT_ID": without_graph["client_id"], "M365_CLIENT_SECRET": without_graph["client_secret"]})
    assert failed.rc == 2 and failed.result("alias")["status"] == 403
    without_exchange = sandbox.add_app("no Exchange", ["User.Read.All"], directory_roles=[EXCHANGE_ADMIN])
    failed = run_playbook(play(alias_task(user=TOM, aliases={"add": ["tb2@northwindacct.com"]})),
                          env={"M365_CLIENT_ID": without_exchange["client_id"], "M365_CLIENT_SECRET": without_exchange["client_secret"]})
    assert failed.rc == 2 and failed.result("alias")["status"] == 401 and "User is not allowed to call Get-Mailbox" in failed.result("alias")["msg"]


def documented_permissions(module):
    """The module's documented Graph permissions, and whether its row asks for the Exchange Administrator role."""
    return support_permissions(module), "Exchange Administrator" in documented_row(module)


# -- many people in one task (items) ---------------------------------------------------------------------------------

SARAH = "sarah.jones@northwindacct.com"
AMY = "amy.lee@northwindacct.com"
AMY_MSG = ("amy.lee@northwindacct.com cannot get amy@contoso.com: contoso.com is not an accepted domain of this Exchange Online organisation "
           "(accepted: northwindacct.com, northwindacct.onmicrosoft.com). Add and verify the domain in Microsoft 365 first, or use an accepted "
           "domain.")


def items_task(name, items, **options):
    options["items"] = items
    return {"name": name, "practiceprotect.m365.m365_alias": options, "register": name.replace(" ", "_")}


def reads(sandbox, since):
    """Graph and Exchange reads since ``since``, by Graph path or Exchange cmdlet."""
    found = [e.get("cmdlet") or e["path"] for e in sandbox.log(since) if e["service"] in ("graph", "exchange") and not e["write"]]
    return dict((key, found.count(key)) for key in sorted(set(found)))


def test_items_one_task_for_several_mailboxes(sandbox, run_playbook):
    sandbox.seed([{"userPrincipalName": AMY, "displayName": "Amy Lee", "usageLocation": "AU", "licenses": ["O365_BUSINESS_PREMIUM"]}])
    items = [{"user": TOM, "aliases": {"add": ["tb@northwindacct.com"]}}, {"user": "Sarah.Jones@northwindacct.com", "primary": "sarah@northwindacct.com"},
             {"user": AMY, "aliases": {"add": ["amy@contoso.com", "amy@northwindacct.com"]}}]
    clash = dict(items_task("clash", [{"user": TOM, "aliases": {"add": ["office@northwindacct.com"]}},
                                      {"user": SARAH, "aliases": {"add": ["Office@northwindacct.com"]}}],
                            fail_on_item_error=False), check_mode=True)
    run = run_playbook(play(items_task("bulk", items, fail_on_item_error=False), dict(items_task("strict", items), ignore_errors=True), clash),
                       expect_rc=0)
    r = run.result("bulk")
    assert run.task("bulk")["status"] == "ok" and r["changed"] and r["failed_items"] == [AMY]
    assert r["outcomes"][AMY]["failed"] is True and r["outcomes"][AMY]["msg"] == AMY_MSG and not r["outcomes"][AMY]["changed"]
    assert r["outcomes"][TOM]["changed"] and r["outcomes"][TOM]["added"] == ["tb@northwindacct.com"]
    assert r["outcomes"][SARAH]["primary"] == "sarah@northwindacct.com" and r["outcomes"][SARAH]["plan"][0]["parameters"] == ["EmailAddresses", "Identity"]
    assert "smtp:tb@northwindacct.com" in mailbox(sandbox, TOM)["EmailAddresses"]
    assert mailbox(sandbox, SARAH)["PrimarySmtpAddress"] == "sarah@northwindacct.com"
    assert mailbox(sandbox, AMY)["EmailAddresses"] == ["SMTP:amy.lee@northwindacct.com", "smtp:amy.lee@northwindacct.onmicrosoft.com"]
    assert exchange_writes(sandbox) == [("Set-Mailbox", ["EmailAddresses", "Identity"])] * 2
    strict = run.task("strict")
    assert strict["status"] == "failed" and strict["result"]["msg"] == "1 of 3 items failed: %s: %s" % (AMY, AMY_MSG)
    assert not strict["result"]["changed"] and not strict["result"]["outcomes"][TOM]["changed"]
    # Two people of one task asking for the same address: the second is refused before any write.
    clashed = run.result("clash")
    assert clashed["failed_items"] == [SARAH] and clashed["outcomes"][TOM]["added"] == ["office@northwindacct.com"]
    assert clashed["outcomes"][SARAH]["msg"] == ("sarah.jones@northwindacct.com cannot get Office@northwindacct.com: this task gives it to "
                                                 "tom.baker@northwindacct.com as well. Give each address to one person.")
    assert len(sandbox.writes()) == 2

    # Converged: no change, no write; the users come from one Graph list query and the accepted domains are read once.
    since = last_seq(sandbox)
    again = run_playbook(play(items_task("bulk", items, fail_on_item_error=False)), expect_rc=0)
    assert again.changed() == 0 and again.result("bulk")["failed_items"] == [AMY]
    assert sandbox.writes(since=since) == []
    bulk_reads = reads(sandbox, since)
    # /v1.0/users twice: the three people in one query, and the owners of Amy's one address on an accepted domain
    assert bulk_reads == {"/v1.0/users": 2, "Get-AcceptedDomain": 1, "Get-Mailbox": 3}
    since = last_seq(sandbox)
    assert run_playbook(play(alias_task(user=TOM, aliases={"add": ["tb@northwindacct.com"]})), expect_rc=0).changed() == 0
    single_reads = reads(sandbox, since)
    assert single_reads == {"/v1.0/users": 1, "Get-AcceptedDomain": 1, "Get-Mailbox": 1}
    assert sum(bulk_reads.values()) < 3 * sum(single_reads.values())


def test_items_wait_for_each_persons_mailbox(sandbox, run_playbook):
    sandbox.configure(mailbox_provisioning_delay_s=3600)
    oliver = "oliver.brown@northwindacct.com"
    joiners = {"name": "joiners", "practiceprotect.m365.m365_user": {
        "usage_location": "AU", "licenses": {"add": ["O365_BUSINESS_PREMIUM"]},
        "items": [{"user": JANE, "given_name": "Jane", "surname": "Citizen"},
                  {"user": oliver, "given_name": "Oliver", "surname": "Brown"}]}}
    aliases = items_task("aliases", [{"user": JANE, "aliases": {"add": ["jc@northwindacct.com"]}}, {"user": oliver, "primary": "oliver@northwindacct.com"}],
                         wait_for_mailbox=True, wait_timeout=120)

    def polled(entries):  # both read once, then Jane's mailbox polled once: then the mailboxes may come
        return len([e for e in entries if e.get("cmdlet") == "Get-Mailbox" and e["status"] == 404]) >= 3

    with release_when(sandbox, polled, mailbox_provisioning_delay_s=0):
        run = run_playbook(play(joiners, aliases), expect_rc=0)
    r = run.result("aliases")
    assert r["changed"] and r["failed_items"] == []
    assert r["outcomes"][JANE]["mailbox_waits"] >= 1 and "jc@northwindacct.com" in r["outcomes"][JANE]["aliases"]
    assert r["outcomes"][oliver]["primary"] == "oliver@northwindacct.com"
    assert mailbox(sandbox, oliver)["PrimarySmtpAddress"] == "oliver@northwindacct.com"
