# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _addresses as a
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

ACCEPTED = ["northwindacct.com", "northwindacct.onmicrosoft.com"]
JANE = ["SMTP:jane.citizen@northwindacct.com", "smtp:jane.citizen@northwindacct.onmicrosoft.com"]


def spec(**kw):
    params = dict(user="jane.citizen@northwindacct.com", aliases={}, primary=None, max_removals=10)
    params.update(kw)
    return a.build_alias_spec(params)


def plan(current=None, owners=None, **kw):
    return a.plan_aliases(spec(**kw), JANE if current is None else current, ACCEPTED, owners or {}, "jane.citizen@northwindacct.com")


# -- the Practice Protect attribute form ----------------------------------------------------------------------------

def test_parse_and_format_round_trip():
    text = "SMTP:jane@northwindacct.com;smtp:jc@northwindacct.com;smtp:Jane.Citizen@NorthwindAcct.com"
    parsed = a.parse_proxy_addresses(text)
    assert parsed == {"primary": "jane@northwindacct.com", "aliases": ["jc@northwindacct.com", "Jane.Citizen@northwindacct.com"]}
    assert a.format_proxy_addresses(parsed["primary"], parsed["aliases"]) == \
        "SMTP:jane@northwindacct.com;smtp:jc@northwindacct.com;smtp:Jane.Citizen@northwindacct.com"


def test_parse_ignores_blank_segments_and_spaces():
    assert a.parse_proxy_addresses(" SMTP:a@northwindacct.com ; ;smtp:b@northwindacct.com;") == {
        "primary": "a@northwindacct.com", "aliases": ["b@northwindacct.com"]}


@pytest.mark.parametrize("text, message", [
    ("smtp:a@northwindacct.com;smtp:b@northwindacct.com",
     "proxy_addresses: the first entry 'smtp:a@northwindacct.com' must be the primary address, written with upper-case SMTP: "
     "(SMTP:a@northwindacct.com)."),
    ("SMTP:a@northwindacct.com;SMTP:b@northwindacct.com",
     "proxy_addresses: 'SMTP:b@northwindacct.com' is a second primary address; only the first entry is SMTP:, the others are smtp: aliases."),
    ("SMTP:a@northwindacct.com;smtp:A@NorthwindAcct.com", "proxy_addresses: A@northwindacct.com appears more than once; list each address once."),
    ("SMTP:a@northwindacct.com;X500:/o=foo",
     "proxy_addresses: entry 'X500:/o=foo' has the unknown prefix 'X500:'; use SMTP: (upper case) for the primary address and smtp: "
     "(lower case) for an alias."),
    ("SMTP:a@northwindacct.com;Smtp:b@northwindacct.com", "proxy_addresses: entry 'Smtp:b@northwindacct.com' has the unknown prefix 'Smtp:'"),
    ("SMTP:a@northwindacct.com;b@northwindacct.com",
     "proxy_addresses: entry 'b@northwindacct.com' has no prefix; write SMTP:b@northwindacct.com for the primary address or "
     "smtp:b@northwindacct.com for an alias."),
    ("SMTP:not an address", "proxy_addresses 'not an address' is not a valid e-mail address"),
    ("", "proxy_addresses is empty; it needs at least the primary address, SMTP:primary@domain."),
    (["SMTP:a@northwindacct.com"], "proxy_addresses must be a string like 'SMTP:primary@domain;smtp:alias@domain', not list."),
])
def test_parse_refuses_with_a_clear_sentence(text, message):
    with pytest.raises(ValidationError) as err:
        a.parse_proxy_addresses(text)
    assert err.value.message.startswith(message)


def test_format_accepts_prefixed_inputs_and_refuses_duplicates():
    assert a.format_proxy_addresses("SMTP:a@northwindacct.com", ["smtp:b@northwindacct.com"]) == "SMTP:a@northwindacct.com;smtp:b@northwindacct.com"
    assert a.format_proxy_addresses("a@northwindacct.com") == "SMTP:a@northwindacct.com"
    with pytest.raises(ValidationError, match="A@northwindacct.com appears more than once"):
        a.format_proxy_addresses("a@northwindacct.com", ["A@northwindacct.com"])
    with pytest.raises(ValidationError, match="is marked as the primary address"):
        a.format_proxy_addresses("a@northwindacct.com", ["SMTP:b@northwindacct.com"])
    with pytest.raises(ValidationError, match="needs a primary address"):
        a.format_proxy_addresses("", ["b@northwindacct.com"])


# -- options ---------------------------------------------------------------------------------------------------------

def test_spec_normalises_and_dedupes():
    s = spec(aliases={"add": ["smtp:JC@NorthwindAcct.com", "jc@northwindacct.com"]}, primary="SMTP:jane@northwindacct.com")
    assert s["aliases"].add == ["JC@northwindacct.com"] and s["primary"] == "jane@northwindacct.com"


@pytest.mark.parametrize("options, message", [
    (dict(aliases={"add": ["jc@"]}), "aliases.add 'jc@' is not a valid e-mail address"),
    (dict(aliases={"remove": ["jane@northwindacct.com"]}, primary="jane@northwindacct.com"), "jane@northwindacct.com is both the primary and an alias"),
    (dict(aliases=["jc@northwindacct.com"]), "aliases takes add, remove or set, for example aliases: {add: [...]}; a plain list is not accepted."),
    (dict(aliases={"add": ["jc@northwindacct.com"], "remove": ["JC@northwindacct.com"]}), "aliases lists jc@northwindacct.com under both add"),
    (dict(aliases={}), "Give aliases (add, remove or set) or primary; there is nothing to do."),
    (dict(aliases={"set": []}, max_removals=-1), "max_removals must be 0 or more."),
    (dict(aliases={"set": []}, max_removals="lots"), "max_removals must be a number or a percentage such as 10%, not 'lots'."),
])
def test_spec_refuses_bad_options(options, message):
    with pytest.raises(ValidationError) as err:
        spec(**options)
    assert err.value.message.startswith(message)


# -- planning ----------------------------------------------------------------------------------------------------

def test_new_aliases_and_a_new_primary_make_one_full_list_call():
    p = plan(primary="jane@northwindacct.com", aliases={"add": ["jc@northwindacct.com", "j.citizen@northwindacct.com"]})
    assert p["primary_changed"] and p["added"] == ["jc@northwindacct.com", "j.citizen@northwindacct.com", "jane@northwindacct.com"]
    [call] = p["calls"]
    assert call["cmdlet"] == "Set-Mailbox"
    assert call["parameters"]["EmailAddresses"] == [
        "SMTP:jane@northwindacct.com", "smtp:jane.citizen@northwindacct.com", "smtp:jane.citizen@northwindacct.onmicrosoft.com",
        "smtp:jc@northwindacct.com", "smtp:j.citizen@northwindacct.com"]
    assert p["after"]["primary"] == "jane@northwindacct.com" and p["before"]["primary"] == "jane.citizen@northwindacct.com"


def test_additions_without_primary_change_use_the_add_hash_table():
    [call] = plan(aliases={"add": ["jc@northwindacct.com"]})["calls"]
    assert call["parameters"] == {"EmailAddresses": {"@odata.type": "#Exchange.GenericHashTable", "Add": ["smtp:jc@northwindacct.com"]}}


def test_converged_mailbox_needs_no_call_whatever_the_case():
    current = JANE + ["smtp:jc@northwindacct.com"]
    p = plan(current, aliases={"add": ["JC@northwindacct.com"]}, primary="Jane.Citizen@northwindacct.com")
    assert p["calls"] == [] and p["added"] == [] and p["removed"] == []


def test_set_keeps_primary_routing_and_other_address_types():
    current = JANE + ["smtp:old1@northwindacct.com", "smtp:jc@northwindacct.com", "X500:/o=ExchangeLabs/cn=jane", "SPO:SPO_abc@SPO_def"]
    p = plan(current, aliases={"set": ["jc@northwindacct.com"]})
    assert p["removed"] == ["old1@northwindacct.com"]
    # A removal sends the whole list (it replaces every address): the other types and the routing address stay in it.
    assert p["calls"][0]["parameters"]["EmailAddresses"] == [e for e in current if e != "smtp:old1@northwindacct.com"]
    assert "X500:/o=ExchangeLabs/cn=jane" in p["after"]["email_addresses"]


def test_set_with_a_new_primary_drops_the_old_primary_when_unlisted():
    p = plan(primary="jane@northwindacct.com", aliases={"set": []})
    assert p["removed"] == ["jane.citizen@northwindacct.com"]
    assert p["calls"][0]["parameters"]["EmailAddresses"] == ["SMTP:jane@northwindacct.com", "smtp:jane.citizen@northwindacct.onmicrosoft.com"]


def test_the_removal_limit_refuses_with_count_and_limit():
    current = JANE + ["smtp:a%d@northwindacct.com" % i for i in range(3)]
    with pytest.raises(ValidationError) as err:
        plan(current, aliases={"set": []}, max_removals=2)
    assert err.value.message == (
        "Refusing to remove 3 aliases from jane.citizen@northwindacct.com, more than max_removals (2): a0@northwindacct.com, "
        "a1@northwindacct.com, a2@northwindacct.com. List them to keep them, or raise max_removals if this is intended.")
    assert len(plan(current, aliases={"set": []}, max_removals=3)["removed"]) == 3
    # A share counts the aliases held now: the routing address and a0..a2 are 4, so 75% allows 3 and 50% only 2.
    assert len(plan(current, aliases={"set": []}, max_removals="75%")["removed"]) == 3
    with pytest.raises(ValidationError, match=r"more than max_removals \(50% of the 4 held now, rounded down, at least 1: 2\)"):
        plan(current, aliases={"set": []}, max_removals="50%")


def test_unaccepted_domain_is_refused():
    with pytest.raises(ValidationError) as err:
        plan(aliases={"add": ["jane@contoso.com"]})
    assert err.value.message == (
        "jane.citizen@northwindacct.com cannot get jane@contoso.com: contoso.com is not an accepted domain of this Exchange Online "
        "organisation (accepted: northwindacct.com, northwindacct.onmicrosoft.com). Add and verify the domain in Microsoft 365 first, "
        "or use an accepted domain.")


def test_address_of_another_owner_is_refused_naming_it():
    owners = {"sarah.jones@northwindacct.com": "Sarah Jones (sarah.jones@northwindacct.com)"}
    with pytest.raises(ValidationError) as err:
        plan(owners=owners, aliases={"add": ["Sarah.Jones@northwindacct.com"]})
    assert "the address already belongs to Sarah Jones (sarah.jones@northwindacct.com)" in err.value.message


def test_remove_takes_listed_aliases_only_and_protects_primary_and_routing():
    current = JANE + ["smtp:jc@northwindacct.com"]
    p = plan(current, aliases={"remove": ["jc@northwindacct.com", "never.there@northwindacct.com"]})
    assert p["removed"] == ["jc@northwindacct.com"]
    assert p["calls"][0]["parameters"]["EmailAddresses"] == JANE
    with pytest.raises(ValidationError, match="is the primary address of"):
        plan(current, aliases={"remove": ["jane.citizen@northwindacct.com"]})
    with pytest.raises(ValidationError, match="is the Microsoft 365 routing address"):
        plan(current, aliases={"remove": ["jane.citizen@northwindacct.onmicrosoft.com"]})


def test_new_addresses_are_those_to_check_for_owners():
    s = spec(aliases={"add": ["jc@northwindacct.com", "jane.citizen@northwindacct.com"]}, primary="jane@northwindacct.com")
    assert a.new_addresses(s, JANE) == ["jc@northwindacct.com", "jane@northwindacct.com"]


def test_only_addresses_on_accepted_domains_are_worth_an_owner_lookup():
    assert a.on_accepted_domains(["a@NorthwindAcct.com", "b@contoso.com", "c@northwindacct.onmicrosoft.com"], ACCEPTED + [None]) == [
        "a@NorthwindAcct.com", "c@northwindacct.onmicrosoft.com"]


def test_an_address_with_more_than_64_characters_before_the_at_is_refused():
    assert a.validate_address("b" * 64 + "@northwindacct.com", "aliases") == "b" * 64 + "@northwindacct.com"
    with pytest.raises(ValidationError) as err:
        a.build_alias_spec({"user": "tom@northwindacct.com", "aliases": {"add": ["b" * 65 + "@northwindacct.com"]}})
    assert err.value.message == ("aliases.add '%s@northwindacct.com' is not a valid e-mail address: it has 65 characters before the @-sign, "
                                 "and at most 64 are allowed." % ("b" * 65))
