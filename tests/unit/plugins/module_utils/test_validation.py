# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v

DOMAINS = [
    {"id": "northwindacct.onmicrosoft.com", "isVerified": True, "isInitial": True},
    {"id": "northwindacct.com", "isVerified": True},
    {"id": "northwind-legacy.com", "isVerified": False},
]
SKUS = [
    {"skuId": "f245ecc8-75af-4f8e-b61f-27d8114de5f3", "skuPartNumber": "O365_BUSINESS_PREMIUM", "consumedUnits": 3,
     "prepaidUnits": {"enabled": 25, "warning": 0}},
    {"skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900", "skuPartNumber": "ENTERPRISEPACK", "consumedUnits": 2,
     "prepaidUnits": {"enabled": 2, "warning": 0}},
]


@pytest.mark.parametrize("upn, expected", [
    ("jane.citizen@NorthwindAcct.com", ("jane.citizen@northwindacct.com", "northwindacct.com")),
    ("o'brien@northwindacct.com", ("o'brien@northwindacct.com", "northwindacct.com")),
    ("a_b-c!d#e^f~g@x.example.org", ("a_b-c!d#e^f~g@x.example.org", "x.example.org")),
])
def test_valid_upns(upn, expected):
    assert v.validate_upn(upn) == expected


@pytest.mark.parametrize("upn, fragment", [
    ("jane", "exactly one @"),
    ("jane@@x.com", "exactly one @"),
    ("@northwindacct.com", "nothing before the @"),
    ("jane smith@northwindacct.com", "' '"),
    ("jané@northwindacct.com", "'é'"),
    (".jane@northwindacct.com", "start or end with a dot"),
    ("ja..ne@northwindacct.com", "two dots"),
    ("jane@localhost", "not a valid DNS domain"),
    ("jane@-bad.com", "not a valid DNS domain"),
    ("j" * 65 + "@northwindacct.com", "too long"),
])
def test_invalid_upns(upn, fragment):
    with pytest.raises(v.ValidationError) as err:
        v.validate_upn(upn)
    assert fragment in err.value.message


def test_domain_must_be_verified():
    assert v.check_domain_verified("northwindacct.com", DOMAINS) == "northwindacct.com"
    with pytest.raises(v.ValidationError) as err:
        v.check_domain_verified("northwind-legacy.com", DOMAINS)
    assert "not verified" in err.value.message and "northwindacct.com" in err.value.message
    with pytest.raises(v.ValidationError) as err:
        v.check_domain_verified("contoso.com", DOMAINS)
    assert "not a domain of this tenant" in err.value.message


@pytest.mark.parametrize("number, region, expected", [
    ("+61 412 345 678", None, "+61412345678"),
    ("0412 345 678", "AU", "+61412345678"),
    ("0412345678", "au", "+61412345678"),
    ("+44 20 7946 0958", None, "+442079460958"),
])
def test_phone_normalised(number, region, expected):
    assert v.normalize_phone(number, region) == expected


@pytest.mark.parametrize("number, region, fragment", [
    ("0412 345 678", None, "international form"),
    ("+61 412", None, "not a valid number"),
    ("call me", "AU", "not a phone number"),
    ("+1 555 0100", None, "not a valid number"),
    # A number with its own country code is judged by that code, never by phone_region.
    ("+44 20 7946", "AU", "not a valid number for country code +44 (GB)"),
    ("0412 34", "AU", "not a valid number for region AU"),
])
def test_phone_rejected(number, region, fragment):
    with pytest.raises(v.ValidationError) as err:
        v.normalize_phone(number, region)
    assert fragment in err.value.message
    if number.startswith("+"):
        assert "region" not in err.value.message


def test_region():
    assert v.validate_region("au") == "AU"
    for bad in ("AUS", "XX", "1"):
        with pytest.raises(v.ValidationError) as err:
            v.validate_region(bad)
        assert "ISO 3166" in err.value.message


def test_password_rules():
    v.check_password("Correct-Horse-9", "jane@x.com")
    for bad, fragment in (("Ab1!", "8 to 256"), ("alllowercase1", "three of"), ("Jane-Is-1-Great", "user name")):
        with pytest.raises(v.ValidationError) as err:
            v.check_password(bad, "jane@x.com")
        assert fragment in err.value.message


def test_generated_passwords_are_strong_and_different():
    seen = set()
    for _ in range(50):
        pw = v.generate_password()
        v.check_password(pw)
        assert len(pw) == 20
        seen.add(pw)
    assert len(seen) == 50


def test_resolve_skus_by_name_and_guid():
    got = v.resolve_skus(["o365_business_premium", "6FD2C87F-B296-42F0-B197-1E91E994B900"], SKUS)
    assert [s["skuPartNumber"] for s in got] == ["O365_BUSINESS_PREMIUM", "ENTERPRISEPACK"]


def test_unknown_sku_lists_the_choices():
    with pytest.raises(v.ValidationError) as err:
        v.resolve_skus(["E5_TYPO"], SKUS)
    assert err.value.message == ("Unknown licence E5_TYPO: this tenant subscribes to ENTERPRISEPACK, O365_BUSINESS_PREMIUM. "
                                 "Give a SKU part number or skuId from that list.")


def test_seat_error_names_skus_with_seats():
    assert v.free_seats(SKUS[1]) == 0
    assert v.seat_error(SKUS[1], SKUS) == ("No free seat on ENTERPRISEPACK: 2 bought, 2 in use. Buy more seats or free one; "
                                           "SKUs with free seats: O365_BUSINESS_PREMIUM (22 free).")


def test_email():
    assert v.validate_email("Jane@Example.org") == "Jane@example.org"
    with pytest.raises(v.ValidationError):
        v.validate_email("not-an-address")


def test_email_local_part_is_at_most_64_characters():
    assert v.validate_email("a" * 64 + "@example.org") == "a" * 64 + "@example.org"
    with pytest.raises(v.ValidationError) as err:
        v.validate_email("a" * 65 + "@example.org", "forwarding_address")
    assert err.value.message == ("forwarding_address '%s@example.org' is not a valid e-mail address: it has 65 characters before the "
                                 "@-sign, and at most 64 are allowed." % ("a" * 65))
    assert err.value.field == "forwarding_address"
