# -*- coding: utf-8 -*-
"""m365_alias's main() against canned Graph and Exchange Online admin API answers."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.modules import m365_alias

UPN = "jane.citizen@northwindacct.com"
JANE_ID = "0b6f2d4e-7f1e-4c55-9a2c-2b9f5d1e8c11"
TOM_ID = "9e3c1b7a-2d4f-4a6e-8b5c-1f7d3e9a2c08"
ROUTING = "jane.citizen@northwindacct.onmicrosoft.com"
EXCHANGE_PLAN = {"assignedDateTime": "2024-03-01T09:00:00Z", "capabilityStatus": "Enabled", "service": "exchange",
                 "servicePlanId": "9aaf7827-d63c-4b61-89c3-182f06f82e5c"}
JANE = {"id": JANE_ID, "userPrincipalName": UPN, "displayName": "Jane Citizen", "mail": UPN, "assignedPlans": [EXCHANGE_PLAN]}
TOM = {"id": TOM_ID, "userPrincipalName": "tom.baker@northwindacct.com", "displayName": "Tom Baker", "mail": "tom.baker@northwindacct.com",
       "proxyAddresses": ["SMTP:tom.baker@northwindacct.com", "smtp:jc@northwindacct.com"]}
NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"


def mailbox(addresses):
    primary = next(a[5:] for a in addresses if a.startswith("SMTP:"))
    return {"Identity": "jane.citizen", "Name": "jane.citizen", "Alias": "jane.citizen", "DisplayName": "Jane Citizen",
            "ExternalDirectoryObjectId": JANE_ID, "UserPrincipalName": UPN, "PrimarySmtpAddress": primary,
            "EmailAddresses@odata.type": "#Collection(String)", "EmailAddresses": list(addresses), "RecipientType": "UserMailbox",
            "RecipientTypeDetails": "UserMailbox", "ForwardingSmtpAddress": None, "DeliverToMailboxAndForward": False,
            "HiddenFromAddressListsEnabled": False}


BEFORE = ["SMTP:" + UPN, "smtp:" + ROUTING, "X500:/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=jane"]


def tenant(fake, addresses=None, after=None, holders=()):
    """Jane (Graph), her mailbox (``addresses``, read back as ``after`` once Set-Mailbox ran), the accepted domains, who holds
    addresses."""
    fake.graph("GET", "users", fake.users_by_key([JANE]), when=lambda r: r.filter.startswith("userPrincipalName in"))
    fake.graph("GET", "users", fake.page(list(holders)), when=lambda r: r.filter.startswith("proxyAddresses/any"))
    state = {"addresses": list(BEFORE if addresses is None else addresses)}

    def get_mailbox(request):
        assert request.parameters == {"Identity": JANE_ID}
        return fake.exo([mailbox(state["addresses"])])

    def set_mailbox(request):
        state["addresses"] = list(after)
        return fake.exo([])
    fake.exchange("Get-Mailbox", get_mailbox)
    fake.exchange("Set-Mailbox", set_mailbox)
    fake.exchange("Get-AcceptedDomain", fake.exo([{"DomainName": "northwindacct.com", "DomainType": "Authoritative", "Default": True},
                                                  {"DomainName": "northwindacct.onmicrosoft.com", "DomainType": "Authoritative", "Default": False}]))


def test_adding_aliases_sends_one_set_mailbox_with_an_add_table(fake, run_module, m365_args):
    after = BEFORE + ["smtp:j.citizen@northwindacct.com", "smtp:JC@northwindacct.com"]
    tenant(fake, after=after)

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"add": ["j.citizen@northwindacct.com", "smtp:JC@northwindacct.com"]}))

    assert result["changed"] is True
    (write,) = fake.writes()
    assert write.method == "POST" and write.path == "/adminapi/beta/%s/InvokeCommand" % fake.TENANT_ID
    assert write.json == {"CmdletInput": {"CmdletName": "Set-Mailbox", "Parameters": {
        "Identity": JANE_ID, "EmailAddresses": {"@odata.type": "#Exchange.GenericHashTable",
                                                "Add": ["smtp:j.citizen@northwindacct.com", "smtp:JC@northwindacct.com"]}}}}
    assert write.headers["X-CmdletName"] == "Set-Mailbox" and write.headers["X-AnchorMailbox"].endswith("@" + fake.TENANT_ID)
    assert result["added"] == ["j.citizen@northwindacct.com", "JC@northwindacct.com"] and result["removed"] == []
    assert result["addresses_after"] == after and result["primary"] == UPN
    # Who holds the new addresses was asked of Graph before the write; the mailbox was read back after it.
    owners = [r for r in fake.sent("graph") if r.filter.startswith("proxyAddresses/any")]
    assert len(owners) == 1 and "'smtp:jc@northwindacct.com'" in owners[0].filter
    assert [r.cmdlet for r in fake.sent("exchange")] == ["Get-Mailbox", "Get-AcceptedDomain", "Set-Mailbox", "Get-Mailbox"]


def test_aliases_already_there_change_nothing(fake, run_module, m365_args):
    tenant(fake, addresses=BEFORE + ["smtp:jc@northwindacct.com"])

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"add": ["jc@northwindacct.com"]}, primary=UPN))

    assert result["changed"] is False and result["plan"] == [] and result["added"] == []
    assert fake.writes() == []
    assert not [r for r in fake.sent("graph") if r.filter.startswith("proxyAddresses/any")]


def test_check_mode_sends_only_reads(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"add": ["jc@northwindacct.com"]}), check_mode=True)

    assert result["changed"] is True and result["added"] == ["jc@northwindacct.com"]
    assert result["plan"] == [{"cmdlet": "Set-Mailbox", "method": "POST", "path": "InvokeCommand", "parameters": ["EmailAddresses", "Identity"]}]
    # Every Exchange call was a POST, and every one a Get- cmdlet.
    assert {r.method for r in fake.sent("exchange")} == {"POST"} and fake.writes() == []
    assert result["addresses_after"] == BEFORE + ["smtp:jc@northwindacct.com"]


def test_new_primary_sends_the_full_list_and_diff_shows_it(fake, run_module, m365_args):
    after = ["SMTP:jane@northwindacct.com", "smtp:" + UPN, "smtp:" + ROUTING, BEFORE[2]]
    tenant(fake, after=after)

    result = run_module(m365_alias, dict(m365_args, user=UPN, primary="jane@northwindacct.com"), diff=True)

    (write,) = fake.writes()
    assert write.parameters == {"Identity": JANE_ID, "EmailAddresses": after}
    assert result["diff"]["before"]["primary"] == UPN and result["diff"]["after"]["primary"] == "jane@northwindacct.com"
    assert result["diff"]["after"]["aliases"] == [UPN, ROUTING]


def test_set_removes_unlisted_aliases_but_keeps_primary_and_routing(fake, run_module, m365_args):
    held = BEFORE + ["smtp:old1@northwindacct.com", "smtp:old2@northwindacct.com", "smtp:keep@northwindacct.com"]
    tenant(fake, addresses=held, after=BEFORE + ["smtp:keep@northwindacct.com"])

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"set": ["keep@northwindacct.com"]}))

    (write,) = fake.writes()
    assert write.parameters["EmailAddresses"] == BEFORE + ["smtp:keep@northwindacct.com"]  # the whole list replaces every address
    assert result["removed"] == ["old1@northwindacct.com", "old2@northwindacct.com"]


def test_removals_above_max_removals_are_refused_before_any_write(fake, run_module, m365_args):
    held = BEFORE + ["smtp:a@northwindacct.com", "smtp:b@northwindacct.com", "smtp:c@northwindacct.com"]
    tenant(fake, addresses=held)

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"set": []}, max_removals=2))

    assert result["failed"] is True and result["field"] == "max_removals" and result["removal_limit"] == 2
    assert result["refused_removals"] == ["a@northwindacct.com", "b@northwindacct.com", "c@northwindacct.com"]
    assert fake.writes() == []


def test_an_address_another_user_holds_is_refused_naming_the_owner(fake, run_module, m365_args):
    tenant(fake, holders=[TOM])

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"add": ["jc@northwindacct.com"]}))

    assert result["failed"] is True and result["field"] == "aliases"
    assert result["msg"] == ("jane.citizen@northwindacct.com cannot get jc@northwindacct.com: the address already belongs to Tom Baker "
                             "(tom.baker@northwindacct.com). Remove it there first, or choose another address.")
    assert fake.writes() == []


def test_an_address_on_a_domain_exchange_does_not_accept_is_refused(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"add": ["jane@contoso.com"]}))

    assert result["failed"] is True
    assert result["msg"].startswith("jane.citizen@northwindacct.com cannot get jane@contoso.com: contoso.com is not an accepted domain")
    assert fake.writes() == []


def test_exchange_refusing_the_write_is_reported_with_the_permission_hint(fake, run_module, m365_args):
    tenant(fake)
    fake.exchange("Set-Mailbox", (403, {"error": {"code": "Forbidden", "message": "User is not allowed to call Set-Mailbox"}}))

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"add": ["jc@northwindacct.com"]}))

    assert result["failed"] is True and result["status"] == 403 and result["cmdlet"] == "Set-Mailbox"
    assert result["msg"].startswith("Exchange Online refused Set-Mailbox: User is not allowed to call Set-Mailbox The application needs "
                                    "the Exchange.ManageAsApp application permission")


def test_a_user_that_is_not_there_is_named(fake, run_module, m365_args):
    tenant(fake)

    result = run_module(m365_alias, dict(m365_args, user="ghost@northwindacct.com", aliases={"add": ["g@northwindacct.com"]}))

    assert result["failed"] is True and result["field"] == "user"
    assert result["msg"] == ("user ghost@northwindacct.com is not a user in this tenant; give the UPN or object id of an existing user.")
    assert fake.sent("exchange") == []


def test_a_missing_mailbox_is_waited_for_on_the_fake_clock(fake, run_module, m365_args):
    tenant(fake)
    polls = []

    def get_mailbox(request):
        polls.append(request)
        if len(polls) < 3:
            return fake.exo_error(404, NOT_FOUND, "The operation couldn't be performed because object '%s' couldn't be found on "
                                                  "'SY4PR01MB6158.AUSPRD01.PROD.OUTLOOK.COM'." % JANE_ID)
        return fake.exo([mailbox(BEFORE + ["smtp:jc@northwindacct.com"])])
    fake.exchange("Get-Mailbox", get_mailbox)

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"add": ["jc@northwindacct.com"]}, wait_for_mailbox=True,
                                         wait_timeout=60))

    assert result["changed"] is False and result["mailbox_waits"] == 2
    assert len(polls) == 3 and len(fake.clock.sleeps) == 2 and sum(fake.clock.sleeps) < 60


def test_no_mailbox_without_waiting_says_what_to_do(fake, run_module, m365_args):
    tenant(fake)
    fake.exchange("Get-Mailbox", fake.exo_error(404, NOT_FOUND, "The operation couldn't be performed because object '%s' couldn't be "
                                                                "found." % JANE_ID))

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"add": ["jc@northwindacct.com"]}))

    assert result["failed"] is True and result["field"] == "user"
    assert result["msg"].startswith("jane.citizen@northwindacct.com has an Exchange Online licence but Exchange has not provisioned")
    assert fake.writes() == []


def test_bad_input_is_refused_before_any_request(fake, run_module, m365_args):
    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"add": ["not an address"]}))
    assert result["failed"] is True and result["field"] == "aliases.add"
    assert result["msg"].startswith("aliases.add 'not an address' is not a valid e-mail address")
    assert fake.requests == []

    result = run_module(m365_alias, dict(m365_args, user=UPN))
    assert result["failed"] is True and result["msg"] == "Give aliases (add, remove or set) or primary; there is nothing to do."
    assert fake.requests == []

    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases={"remove": ["jane@northwindacct.com"]}, primary="jane@northwindacct.com"))
    assert result["failed"] is True and result["msg"] == ("jane@northwindacct.com is both the primary and an alias to remove; keep it, or "
                                                          "choose another primary.")
    assert fake.requests == [] and m365_args["client_secret"] not in run_module.output


def test_a_plain_list_is_refused_with_the_list_idioms_message_before_any_request(fake, run_module, m365_args):
    result = run_module(m365_alias, dict(m365_args, user=UPN, aliases=["jc@northwindacct.com"]))
    assert result["failed"] is True
    assert result["msg"] == "aliases takes add, remove or set, for example aliases: {add: [...]}; a plain list is not accepted."
    assert fake.requests == []

    result = run_module(m365_alias, dict(m365_args, items=[{"user": UPN, "aliases": {"add": ["jc@northwindacct.com"]}},
                                                           {"user": "tom.baker@northwindacct.com", "aliases": ["tb@northwindacct.com"]}]))
    assert result["failed"] is True
    assert result["msg"] == ("items[1] (tom.baker@northwindacct.com): aliases takes add, remove or set, for example aliases: {add: [...]}; "
                             "a plain list is not accepted.")
    assert fake.requests == []
