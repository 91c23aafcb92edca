# -*- coding: utf-8 -*-
"""The offboard_user role through the real playbook: the safe order, proven from the sandbox's ordered log."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from tests.integration.support import ROOT, last_seq
from tests.integration.plugins.modules.pp_support import pp_state

INVENTORY = os.path.join(ROOT, "inventory", "example")
TOM = "tom.baker@northwindacct.com"


def playbook(name):
    with open(os.path.join(ROOT, "playbooks", name)) as handle:
        return handle.read()


def tom(sandbox):
    return next(u for u in sandbox.state()["users"] if u["userPrincipalName"].lower() == TOM)


def mailbox(sandbox):
    return next(m for m in sandbox.state()["mailboxes"] if (m.get("UserPrincipalName") or m.get("PrimarySmtpAddress") or "").lower() == TOM)


def groups_of(sandbox, upn=TOM):
    """Display names of the groups ``upn`` is a direct member of (Graph and Exchange groups alike)."""
    return sorted(g["displayName"] for g in sandbox.state()["groups"] if upn in [(m.get("name") or "").lower() for m in g["members"]])


# Groups the collection leaves alone (membership by rule, from on-premises, or role-assignable): a leaver stays in them.
UNMANAGED = ["Head Office", "Helpdesk Admins", "Licensed Staff"]


def order(sandbox, since, user_id):
    events = []
    for entry in sandbox.log(since=since):
        if entry.get("cmdlet") == "Set-Mailbox" and "Type" in entry.get("body_keys", []):
            events.append("convert")
        elif entry["path"].endswith("/users/%s/assignLicense" % user_id):
            events.append("licences")
        elif entry["path"].endswith("/users/%s/revokeSignInSessions" % user_id):
            events.append("revoke")
        elif entry["method"] == "PATCH" and entry["path"].endswith("/users/%s" % user_id) and "accountEnabled" in entry.get("body_keys", []):
            events.append("block")
        elif entry["path"].endswith("/Roles/UpdateRole"):
            events.append("roles")
    return events


def test_offboard_in_the_safe_order_then_nothing_to_do(sandbox, run_playbook):
    run_playbook(playbook("service_account.yml"), extra_vars={"service_account_purpose": "federation", "service_account_federation_enabled": True},
                 expect_rc=0)
    user_id = tom(sandbox)["id"]
    mark = sandbox.log()[-1]["seq"]
    run = run_playbook(playbook("offboard.yml"), inventory=INVENTORY, expect_rc=0)
    events = order(sandbox, mark, user_id)
    assert events.index("block") < events.index("revoke") < events.index("roles") < events.index("convert") < events.index("licences")
    after = tom(sandbox)
    assert after["accountEnabled"] is False and after["assignedLicenses"] == []
    box = mailbox(sandbox)
    assert box["RecipientTypeDetails"] == "SharedMailbox" and box["HiddenFromAddressListsEnabled"] is True
    assert not [r["Name"] for r in pp_state(sandbox)["roles"] if TOM in [m.lower() for m in r.get("Members") or []] and r["Name"] != "Everybody"]
    assert run.changed("tom.baker") == 1

    mark = sandbox.log()[-1]["seq"]
    again = run_playbook(playbook("offboard.yml"), inventory=INVENTORY, expect_rc=0)
    assert sandbox.writes(since=mark) == []
    assert again.changed("tom.baker") == 0


def test_licence_stays_until_exchange_shows_shared_and_a_rerun_completes(sandbox, run_playbook):
    user_id = tom(sandbox)["id"]
    sandbox.configure(shared_conversion_delay_s=3600)
    run = run_playbook(playbook("offboard.yml"), inventory=INVENTORY,
                       extra_vars={"offboard_shared_timeout": 3, "offboard_sync": False}, expect_rc=2)
    assert run.stats["tom.baker"]["failures"] == 1
    assert tom(sandbox)["assignedLicenses"] != []  # the conversion never showed: the licence stays
    assert "licences" not in order(sandbox, 0, user_id)

    sandbox.configure(shared_conversion_delay_s=0)
    run_playbook(playbook("offboard.yml"), inventory=INVENTORY, extra_vars={"offboard_sync": False}, expect_rc=0)
    assert tom(sandbox)["assignedLicenses"] == []
    assert mailbox(sandbox)["RecipientTypeDetails"] == "SharedMailbox"


def test_soft_delete_with_a_kept_mailbox_is_refused_before_any_write(sandbox, run_playbook):
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    run = run_playbook(playbook("offboard.yml"), inventory=INVENTORY, extra_vars={"offboard_soft_delete": True}, expect_rc=2)
    assert sandbox.writes(since=mark) == []
    assert "offboard_soft_delete deletes the user and with it the mailbox that offboard_convert_to_shared keeps" in run.stdout


def test_check_mode_says_what_would_happen_and_writes_nothing(sandbox, run_playbook):
    run = run_playbook(playbook("offboard.yml"), inventory=INVENTORY, check=True, expect_rc=0)
    assert sandbox.writes() == []
    report = run.result("Report the leaver", "tom.baker")
    assert report["msg"] == "tom.baker@northwindacct.com: would be offboarded"
    assert "shared mailbox: would convert to shared" in report["steps"]
    assert not [s for s in report["steps"] if "converted" in s or "Exchange shows" in s]
    assert run.result("Offboard everyone of the play (sign-in, roles, shared mailbox, licences, forwarding)", "tom.baker")["changed"] is False


def test_a_federated_leavers_practice_protect_account_is_disabled_and_per_person_deployment(sandbox, run_playbook, tmp_path):
    # Two leavers in one play: Tom federated (the play's default), Priya entra_source by her own host variable.
    sandbox.seed([{"userPrincipalName": "priya.patel@northwindacct.com", "displayName": "Priya Patel", "usageLocation": "AU"}])
    hosts = tmp_path / "hosts.yml"
    hosts.write_text("""
all:
  vars: {ansible_connection: local, offboard_deployment: federated, offboard_sync: false}
  children:
    leavers:
      hosts:
        tom.baker: {person: {upn: tom.baker@northwindacct.com}}
        priya.patel: {person: {upn: priya.patel@northwindacct.com}, offboard_deployment: entra_source}
""")
    run = run_playbook(playbook("offboard.yml"), inventory=str(hosts), expect_rc=0)
    users = dict((u["Name"].lower(), u) for u in pp_state(sandbox)["users"])
    assert users[TOM]["State"] == "Disabled"
    assert users["priya.patel@northwindacct.com"]["State"] != "Disabled"
    assert "Practice Protect account: disabled" in run.result("Report the leaver", "tom.baker")["steps"]
    assert run.result("Report the leaver", "priya.patel")["upn"] == "priya.patel@northwindacct.com"


def test_offboard_then_rehire_restores_the_person(sandbox, run_playbook, tmp_path):
    run_playbook(playbook("service_account.yml"), extra_vars={"service_account_purpose": "federation", "service_account_federation_enabled": True},
                 expect_rc=0)
    roles_before = sorted(r["Name"] for r in pp_state(sandbox)["roles"] if TOM in [m.lower() for m in r.get("Members") or []])
    licences_before = [lic["skuId"] for lic in tom(sandbox)["assignedLicenses"]]
    groups_before = groups_of(sandbox)
    assert set(groups_before) > set(UNMANAGED)
    run_playbook(playbook("offboard.yml"), inventory=INVENTORY, expect_rc=0)  # forwarding and full access for Sarah (inventory/example)
    assert tom(sandbox)["accountEnabled"] is False and mailbox(sandbox)["RecipientTypeDetails"] == "SharedMailbox"
    assert groups_of(sandbox) == UNMANAGED  # out of every group the collection may change
    record = [e for e in tom(sandbox)["_extensions"] if e["extensionName"] == "com.practiceprotect.m365"][0]
    assert "forward_to" in record["leaver"] and "sarah.jones@northwindacct.com" in record["leaver"]

    # Tom comes back as a federated joiner, from the leaver record alone (another machine: a new token cache).
    hosts = tmp_path / "rehire.yml"
    hosts.write_text("""
all:
  vars: {ansible_connection: local, onboard_deployment: federated, onboard_usage_location: AU}
  children:
    people:
      hosts:
        tom.baker: {person: {upn: tom.baker@northwindacct.com, given_name: Tom, surname: Baker}}
""")
    run = run_playbook(playbook("onboard.yml"), inventory=str(hosts), env={"M365_TOKEN_CACHE_PATH": str(tmp_path / "other-cache.json")}, expect_rc=0)
    assert run.changed("tom.baker") == 1 and run.result("Report the joiner", "tom.baker")["msg"] == "tom.baker@northwindacct.com: onboarded"
    after = tom(sandbox)
    assert after["accountEnabled"] is True and [lic["skuId"] for lic in after["assignedLicenses"]] == licences_before
    box = mailbox(sandbox)
    assert box["RecipientTypeDetails"] == "UserMailbox" and box["HiddenFromAddressListsEnabled"] is False and not box.get("ForwardingSmtpAddress")
    assert "sarah.jones@northwindacct.com" not in [p.get("User", "").lower() for p in box.get("_permissions", [])]
    users = dict((u["Name"].lower(), u) for u in pp_state(sandbox)["users"])
    assert users[TOM]["State"] != "Disabled"
    assert sorted(r["Name"] for r in pp_state(sandbox)["roles"] if TOM in [m.lower() for m in r.get("Members") or []]) == roles_before
    assert groups_of(sandbox) == groups_before  # back into the groups offboarding took him out of
    assert after["_extensions"] == []  # restored in full: the record is gone, and the next offboarding writes a new one
    again = run_playbook(playbook("onboard.yml"), inventory=str(hosts), expect_rc=0)
    assert again.changed("tom.baker") == 0


def every_step(sandbox, since, user_id):
    """The leaver's writes in the order the log shows them, named by step."""
    events = []
    for entry in sandbox.log(since=since):
        if not entry["write"] or (entry["status"] or 0) >= 400:
            continue
        path, cmdlet = entry["path"], entry.get("cmdlet")
        if entry["method"] == "PATCH" and path.endswith("/users/%s" % user_id) and "passwordProfile" in entry["body_keys"]:
            events.append("block+scramble")
        elif path.endswith("/users/%s/revokeSignInSessions" % user_id):
            events.append("revoke")
        elif "/authentication/" in path:
            events.append("method")
        elif cmdlet == "Remove-MobileDevice":
            events.append("device")
        elif "/messageRules/" in path:
            events.append("rule")
        elif (entry["method"] == "DELETE" and "/members/" in path) or cmdlet == "Remove-DistributionGroupMember":
            events.append("group")
        elif cmdlet == "Set-MailboxAutoReplyConfiguration":
            events.append("auto reply")
        elif cmdlet == "Set-Mailbox" and "Type" in entry["body_keys"]:
            events.append("convert")
        elif path.endswith("/users/%s/assignLicense" % user_id):
            events.append("licences")
        elif cmdlet == "Set-Mailbox" and "ForwardingSmtpAddress" in entry["body_keys"]:
            events.append("forwarding")
    return [e for i, e in enumerate(events) if i == 0 or events[i - 1] != e]  # one name per run of the same step


def test_a_leaver_goes_through_every_step_in_the_safe_order_then_nothing_to_do(sandbox, run_playbook, tmp_path):
    hosts = tmp_path / "hosts.yml"
    hosts.write_text("""
all:
  vars:
    ansible_connection: local
    offboard_deployment: entra_source
    offboard_auto_reply: true
    offboard_auto_reply_internal: Tom has left; please contact Sarah Jones.
    offboard_auto_reply_external: Tom Baker has left Northwind Accounting. Sarah Jones looks after his clients.
    offboard_auto_reply_start: "2026-12-24T17:00:00+11:00"
    offboard_auto_reply_end: "2027-03-31T17:00:00+11:00"
  children:
    leavers:
      hosts:
        tom.baker: {person: {upn: tom.baker@northwindacct.com, forward_to: sarah.jones@northwindacct.com}}
""")
    user_id = tom(sandbox)["id"]
    mark = last_seq(sandbox)
    planned = run_playbook(playbook("offboard.yml"), inventory=str(hosts), check=True, expect_rc=0)
    assert sandbox.writes(since=mark) == []
    steps = planned.result("Report the leaver", "tom.baker")["steps"]
    assert "authentication methods: would remove phone (alternateMobile), phone (mobile), microsoftAuthenticator (Tom's iPhone), fido2 " \
           "(YubiKey 5 NFC), softwareOath, email, temporaryAccessPass" in steps
    assert "forwarding rules: would disable 'Forward to my Gmail' (to tom.baker.home@gmail.com)" in steps

    mark = last_seq(sandbox)
    run = run_playbook(playbook("offboard.yml"), inventory=str(hosts), expect_rc=0)
    assert every_step(sandbox, mark, user_id) == ["block+scramble", "revoke", "method", "device", "rule", "group", "auto reply", "convert",
                                                  "licences", "forwarding"]
    fact = run.result("Report the leaver", "tom.baker")
    steps = fact["steps"]
    assert "sign-in, password and sessions: sign-in blocked, password scrambled (nobody knows the new one), sessions revoked" in steps
    assert "mobile devices: removed Tom's iPhone, Tom's tablet" in steps
    assert "forwarding rules: disabled 'Forward to my Gmail' (to tom.baker.home@gmail.com)" in steps
    assert "automatic reply: set from 2026-12-24T06:00:00Z to 2027-03-31T06:00:00Z" in steps
    assert "Microsoft 365 groups: stays in Licensed Staff (dynamic membership: change it where the group is managed)" in steps
    assert groups_of(sandbox) == UNMANAGED and [line for line in steps if line.startswith("Microsoft 365 groups: removed from ")]
    state = sandbox.state()
    assert [m["kind"] for m in state["auth_methods"][user_id]] == ["password"]
    box = mailbox(sandbox)
    assert box["MobileDevices"] == [] and box["AutoReply"]["AutoReplyState"] == "Scheduled"
    assert [r["displayName"] for r in box["InboxRules"] if r["isEnabled"]] == ["Clients to Sarah", "Newsletters"]
    record = [e for e in tom(sandbox)["_extensions"] if e["extensionName"] == "com.practiceprotect.m365"][0]["leaver"]
    assert '"scrambled":true' in record and '"auto_reply":true' in record and '"rules_disabled":["AQAAAJ5dZqA="]' in record

    mark = last_seq(sandbox)
    again = run_playbook(playbook("offboard.yml"), inventory=str(hosts), expect_rc=0)
    assert again.changed("tom.baker") == 0 and sandbox.writes(since=mark) == []
