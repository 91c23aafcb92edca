# -*- coding: utf-8 -*-
"""m365_mailbox's main() against canned Graph and Exchange Online admin API answers."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.modules import m365_mailbox

UPN = "tom.baker@northwindacct.com"
TOM_ID = "9e3c1b7a-2d4f-4a6e-8b5c-1f7d3e9a2c08"
SARAH_ID = "4d9a7c21-5e3b-4f8a-b1c6-7e2d9f0a3b54"
OLIVER_ID = "6f8e0d2c-4b6a-4e8c-9d1f-3a5b7c9e1f20"
TOM = {"id": TOM_ID, "userPrincipalName": UPN, "displayName": "Tom Baker", "mail": UPN, "assignedPlans": []}
SARAH = {"id": SARAH_ID, "userPrincipalName": "sarah.jones@northwindacct.com", "displayName": "Sarah Jones", "mail": "sarah.jones@northwindacct.com",
         "assignedPlans": []}
OLIVER = {"id": OLIVER_ID, "userPrincipalName": "oliver.brown@northwindacct.com", "displayName": "Oliver Brown",
          "mail": "oliver.brown@northwindacct.com", "assignedPlans": []}


def mailbox(kind="UserMailbox", forwarding=None, keep_copy=False, hidden=False):
    return {"Identity": "tom.baker", "Name": "tom.baker", "Alias": "tom.baker", "DisplayName": "Tom Baker", "ExternalDirectoryObjectId": TOM_ID,
            "UserPrincipalName": UPN, "PrimarySmtpAddress": UPN, "EmailAddresses": ["SMTP:" + UPN], "RecipientType": "UserMailbox",
            "RecipientTypeDetails": kind, "IsShared": kind == "SharedMailbox", "ForwardingAddress": None, "ForwardingSmtpAddress": forwarding,
            "DeliverToMailboxAndForward": keep_copy, "HiddenFromAddressListsEnabled": hidden}


def permission(user, rights=("FullAccess",), inherited=False, deny=False):
    return {"Identity": "tom.baker", "User": user, "AccessRights@odata.type": "#Collection(String)", "AccessRights": list(rights),
            "IsInherited": inherited, "Deny": deny, "InheritanceType": "All"}


SELF = permission("NT AUTHORITY\\SELF", ("FullAccess", "ReadPermission"))
INHERITED = permission("NAMPR01A001\\Organization Management", ("FullAccess",), inherited=True)


def tenant(fake, shows=None, permissions=()):
    """Tom, Sarah and Oliver in Graph; Tom's mailbox answers from ``shows`` (a list: each Get-Mailbox pops one until the last)."""
    fake.graph("GET", "users", fake.users_by_key([TOM, SARAH, OLIVER]))
    shows = list(shows or [mailbox()])

    def get_mailbox(request):
        assert request.parameters == {"Identity": TOM_ID}
        return fake.exo([shows.pop(0) if len(shows) > 1 else shows[0]])
    fake.exchange("Get-Mailbox", get_mailbox)
    fake.exchange("Get-MailboxPermission", fake.exo([SELF, INHERITED] + list(permissions)), when=lambda r: r.parameters == {"Identity": TOM_ID})
    for cmdlet in ("Set-Mailbox", "Add-MailboxPermission", "Remove-MailboxPermission"):
        fake.exchange(cmdlet, fake.exo([]))


def test_leaver_mailbox_is_converted_forwarded_and_hidden_and_the_conversion_is_waited_for(fake, run_module, m365_args):
    done = mailbox("SharedMailbox", forwarding="smtp:sarah.jones@northwindacct.com", keep_copy=True, hidden=True)
    tenant(fake, shows=[mailbox(), mailbox(), done])

    result = run_module(m365_mailbox, dict(m365_args, user=UPN, type="shared", forwarding_address="sarah.jones@northwindacct.com",
                                           forwarding_keep_copy=True, hidden_from_address_lists=True, wait_timeout=60))

    assert result["changed"] is True and result["converted"] is True and result["conversion_waits"] == 1
    assert [(r.cmdlet, r.parameters) for r in fake.writes()] == [
        ("Set-Mailbox", {"Identity": TOM_ID, "Type": "Shared"}),
        ("Set-Mailbox", {"Identity": TOM_ID, "ForwardingSmtpAddress": "smtp:sarah.jones@northwindacct.com", "DeliverToMailboxAndForward": True,
                         "HiddenFromAddressListsEnabled": True})]
    assert result["mailbox"] == {"type": "shared", "recipient_type_details": "SharedMailbox", "primary_smtp_address": UPN,
                                 "forwarding_address": "sarah.jones@northwindacct.com", "forwarding_keep_copy": True,
                                 "hidden_from_address_lists": True}
    assert result["mailbox_before"]["type"] == "regular"
    assert [r.cmdlet for r in fake.sent("exchange")] == ["Get-Mailbox", "Set-Mailbox", "Set-Mailbox", "Get-Mailbox", "Get-Mailbox"]
    assert fake.clock.sleeps == [1.0]


def test_a_mailbox_already_as_asked_changes_nothing(fake, run_module, m365_args):
    tenant(fake, shows=[mailbox("SharedMailbox", forwarding="smtp:sarah.jones@northwindacct.com", hidden=True)],
           permissions=[permission("sarah.jones@northwindacct.com")])

    result = run_module(m365_mailbox, dict(m365_args, user=UPN, type="shared", forwarding_address="SARAH.JONES@northwindacct.com",
                                           hidden_from_address_lists=True, full_access={"add": ["sarah.jones@northwindacct.com"]}))

    assert result["changed"] is False and result["plan"] == [] and result["converted"] is False
    assert fake.writes() == []
    assert result["mailbox"]["full_access"] == ["sarah.jones@northwindacct.com"]


def test_check_mode_reports_the_conversion_without_writing_or_waiting(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(m365_mailbox, dict(m365_args, user=UPN, type="shared"), check_mode=True)

    assert result["changed"] is True and result["converted"] is False and result["conversion_waits"] == 0
    assert result["plan"] == [{"cmdlet": "Set-Mailbox", "method": "POST", "path": "InvokeCommand", "parameters": ["Identity", "Type"]}]
    assert [r.cmdlet for r in fake.sent("exchange")] == ["Get-Mailbox"] and fake.writes() == []
    assert fake.clock.sleeps == []


def test_diff_and_full_access_grants_and_removals(fake, run_module, m365_args):
    tenant(fake, permissions=[permission("oliver.brown@northwindacct.com")])

    result = run_module(m365_mailbox, dict(m365_args, user=UPN, full_access={"set": ["sarah.jones@northwindacct.com"]}, auto_mapping=False),
                        diff=True)

    assert [(r.cmdlet, r.parameters) for r in fake.writes()] == [
        ("Add-MailboxPermission", {"Identity": TOM_ID, "User": "sarah.jones@northwindacct.com", "AccessRights": ["FullAccess"],
                                   "InheritanceType": "All", "AutoMapping": False}),
        ("Remove-MailboxPermission", {"Identity": TOM_ID, "User": "oliver.brown@northwindacct.com", "AccessRights": ["FullAccess"],
                                      "InheritanceType": "All", "Confirm": False})]
    assert result["full_access_granted"] == ["sarah.jones@northwindacct.com"]
    assert result["full_access_removed"] == ["oliver.brown@northwindacct.com"]
    assert result["diff"]["before"]["full_access"] == ["oliver.brown@northwindacct.com"]
    # The after of a run is read back from Exchange (which, canned, still shows Oliver).
    assert result["diff"]["after"]["full_access"] == ["oliver.brown@northwindacct.com"]


def test_removing_full_access_above_max_removals_is_refused_before_any_write(fake, run_module, m365_args):
    tenant(fake, permissions=[permission("oliver.brown@northwindacct.com"), permission("sarah.jones@northwindacct.com")])

    result = run_module(m365_mailbox, dict(m365_args, user=UPN, full_access={"set": []}, max_removals=1))

    assert result["failed"] is True and result["field"] == "max_removals" and result["removal_limit"] == 1
    assert result["msg"] == ("Refusing to remove 2 users' full access from tom.baker@northwindacct.com's mailbox, more than max_removals (1): "
                             "oliver.brown@northwindacct.com, sarah.jones@northwindacct.com. List them to keep them, or raise max_removals "
                             "if this is intended.")
    assert fake.writes() == []


def test_a_conversion_exchange_never_shows_fails_after_wait_timeout(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(m365_mailbox, dict(m365_args, user=UPN, type="shared", wait_timeout=30))

    assert result["failed"] is True and result["field"] == "wait_timeout"
    assert result["msg"].startswith("Exchange accepted the conversion to SharedMailbox but still shows UserMailbox after 30 seconds "
                                    "(wait_timeout).")
    assert [r.cmdlet for r in fake.writes()] == ["Set-Mailbox"]
    assert 29 <= sum(fake.clock.sleeps) <= 30


def test_an_exchange_cmdlet_error_is_reported_with_its_cmdlet_and_id(fake, run_module, m365_args):
    tenant(fake)
    fake.exchange("Add-MailboxPermission", fake.exo_error(400, "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
                                                          "The operation couldn't be performed because 'sarah.jones' matches multiple entries.",
                                                          error_id="Ex4A7B9C"))

    result = run_module(m365_mailbox, dict(m365_args, user=UPN, full_access={"add": ["sarah.jones@northwindacct.com"]}))

    assert result["failed"] is True and result["cmdlet"] == "Add-MailboxPermission" and result["status"] == 400
    assert result["msg"] == ("Exchange Online refused Add-MailboxPermission: The operation couldn't be performed because 'sarah.jones' "
                             "matches multiple entries.")
    assert result["error_code"] == "ManagementObjectAmbiguousException" and result["exchange_error_id"] == "Ex4A7B9C"


def test_an_unknown_trustee_is_refused_before_any_write(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(m365_mailbox, dict(m365_args, user=UPN, full_access={"add": ["ghost@northwindacct.com"]}))

    assert result["failed"] is True and result["field"] == "full_access"
    assert result["msg"] == "full_access.add: ghost@northwindacct.com is not a user in this tenant."
    assert fake.writes() == []


def test_bad_input_is_refused_before_any_request(fake, run_module, m365_args):
    result = run_module(m365_mailbox, dict(m365_args, user=UPN, forwarding_address="sarah at northwind"))
    assert result["failed"] is True and result["field"] == "forwarding_address"
    assert fake.requests == []

    result = run_module(m365_mailbox, dict(m365_args, user=UPN, full_access={"add": ["Sarah Jones"]}))
    assert result["failed"] is True and result["msg"] == "full_access.add entry 'Sarah Jones' is neither a UPN nor an object id."
    assert fake.requests == []

    result = run_module(m365_mailbox, dict(m365_args, user=UPN, type="archive"))
    assert result["failed"] is True and "value of type must be one of: shared, regular" in result["msg"]
    assert fake.requests == [] and m365_args["client_secret"] not in run_module.output


def test_many_mailboxes_are_read_with_one_paged_exchange_list(fake, run_module, m365_args):
    people = [dict(TOM), dict(SARAH), dict(OLIVER), {"id": "7a9c1e3f-5b7d-4f9a-8c1e-3f5b7d9a1c3e", "userPrincipalName": "amy.lee@northwindacct.com",
                                                     "displayName": "Amy Lee", "mail": "amy.lee@northwindacct.com", "assignedPlans": []}]
    fake.graph("GET", "users", fake.users_by_key(people))

    def box(user, hidden):
        return dict(mailbox(hidden=hidden), Identity=user["userPrincipalName"].split("@")[0], ExternalDirectoryObjectId=user["id"],
                    UserPrincipalName=user["userPrincipalName"], PrimarySmtpAddress=user["userPrincipalName"])
    link = "https://outlook.office365.com/adminapi/beta/%s/InvokeCommand?$skiptoken=MDAwMDAwMDAtAAAA" % fake.TENANT_ID
    first = fake.exo([box(people[0], False), box(people[1], True)], next_link=link)
    second = fake.exo([box(people[2], True), box(people[3], False)])
    fake.exchange("Get-Mailbox", lambda r: second if "$skiptoken" in r.query else first, when=lambda r: r.parameters == {"ResultSize": "Unlimited"})
    by_id = dict((p["id"], p) for p in people)
    fake.exchange("Get-Mailbox", lambda r: fake.exo([box(by_id[r.parameters["Identity"]], True)]), when=lambda r: "Identity" in r.parameters)
    fake.exchange("Set-Mailbox", fake.exo([]))

    result = run_module(m365_mailbox, dict(m365_args, hidden_from_address_lists=True, items=[{"user": p["userPrincipalName"]} for p in people]))

    assert result["changed"] is True and result["failed_items"] == []
    assert sorted(r.parameters["Identity"] for r in fake.writes()) == sorted([TOM_ID, people[3]["id"]])
    assert all(r.parameters["HiddenFromAddressListsEnabled"] is True for r in fake.writes())
    lists = [r for r in fake.sent("exchange") if r.parameters == {"ResultSize": "Unlimited"}]
    assert len(lists) == 2 and lists[1].url + "?$skiptoken=" + lists[1].query["$skiptoken"] == link and lists[0].json == lists[1].json
    assert result["outcomes"]["sarah.jones@northwindacct.com"]["changed"] is False
    # Only the two changed mailboxes were read again, after their write.
    assert len([r for r in fake.sent("exchange") if r.cmdlet == "Get-Mailbox" and "Identity" in r.parameters]) == 2


def test_each_persons_permissions_are_read_at_once_and_a_failed_read_fails_only_that_person(fake, run_module, m365_args):
    import threading
    amy = {"id": "7a9c1e3f-5b7d-4f9a-8c1e-3f5b7d9a1c3e", "userPrincipalName": "amy.lee@northwindacct.com", "displayName": "Amy Lee",
           "mail": "amy.lee@northwindacct.com", "assignedPlans": []}
    kim = {"id": "8b0d2f4a-6c8e-4a0b-9d2f-4a6c8e0b2d4f", "userPrincipalName": "kim.ng@northwindacct.com", "displayName": "Kim Ng",
           "mail": "kim.ng@northwindacct.com", "assignedPlans": []}
    owners = [dict(TOM), dict(SARAH), dict(OLIVER), amy]
    fake.graph("GET", "users", fake.users_by_key(owners + [kim]))
    boxes = [dict(mailbox(), Identity=p["displayName"].split()[0].lower(), ExternalDirectoryObjectId=p["id"], UserPrincipalName=p["userPrincipalName"],
                  PrimarySmtpAddress=p["userPrincipalName"]) for p in owners]
    fake.exchange("Get-Mailbox", fake.exo(boxes))
    together = threading.Barrier(4, timeout=10)  # the reads of the plans pass only when all four are under way at once
    calls = []

    def permissions(request):
        calls.append(request.parameters["Identity"])
        if len(calls) <= 4:
            together.wait()
        if request.parameters["Identity"] == OLIVER_ID:
            return fake.exo_error(400, "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException", "Oliver's mailbox is ambiguous.")
        return fake.exo([SELF, INHERITED])
    fake.exchange("Get-MailboxPermission", permissions)
    fake.exchange("Add-MailboxPermission", fake.exo([]))

    result = run_module(m365_mailbox, dict(m365_args, full_access={"add": [kim["userPrincipalName"]]}, auto_mapping=False,
                                           items=[{"user": p["userPrincipalName"]} for p in owners]))

    assert result["failed_items"] == ["oliver.brown@northwindacct.com"], result
    assert "Oliver's mailbox is ambiguous" in result["outcomes"]["oliver.brown@northwindacct.com"]["msg"]
    assert sorted(r.parameters["Identity"] for r in fake.writes()) == sorted([TOM_ID, SARAH_ID, amy["id"]])
