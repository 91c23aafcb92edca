# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _users
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

BSTD = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
SKUS = [
    {"skuId": BSTD, "skuPartNumber": "O365_BUSINESS_PREMIUM", "consumedUnits": 3, "prepaidUnits": {"enabled": 25}},
    {"skuId": E3, "skuPartNumber": "ENTERPRISEPACK", "consumedUnits": 2, "prepaidUnits": {"enabled": 2}},
]
UID = "0b6f2d4e-7f1e-4c55-9a2c-2b9f5d1e8c11"


def params(**kw):
    base = dict(user="jane.citizen@northwindacct.com", state="present", licenses={},
                update_password="on_create", force_change_password=True, restore_deleted=True)
    base.update(kw)
    return base


def existing(**props):
    user = {"id": UID, "userPrincipalName": "jane.citizen@northwindacct.com", "displayName": "Jane Citizen", "givenName": "Jane",
            "surname": "Citizen", "mailNickname": "jane.citizen", "accountEnabled": True, "usageLocation": "AU",
            "mobilePhone": "+61 412 345 678", "businessPhones": [], "otherMails": [], "assignedLicenses": []}
    user.update(props)
    return user


def test_create_plan_has_required_fields_and_generated_password():
    spec = _users.build_spec(params(given_name="Jane", surname="Citizen", usage_location="au", licenses={"add": ["O365_BUSINESS_PREMIUM"]}))
    plan = _users.plan_user(spec, None, None, SKUS)
    assert plan["action"] == "create"
    create, licences = plan["calls"]
    assert create["method"] == "POST" and create["path"] == "users"
    body = create["body"]
    assert body["displayName"] == "Jane Citizen" and body["mailNickname"] == "jane.citizen" and body["accountEnabled"] is True
    assert body["usageLocation"] == "AU"
    assert body["passwordProfile"]["password"] == plan["password"] and plan["password_generated"]
    assert licences["path"] == "users/{id}/assignLicense"
    assert licences["body"] == {"addLicenses": [{"skuId": BSTD, "disabledPlans": []}], "removeLicenses": []}
    assert plan["after"]["licenses"] == ["O365_BUSINESS_PREMIUM"]


def test_public_calls_never_show_values():
    spec = _users.build_spec(params(password="Sup3r-Secret-Pw"))
    plan = _users.plan_user(spec, None, None, SKUS)
    shown = repr(_users.public_calls(plan)) + repr(plan["before"]) + repr(plan["after"])
    assert "Sup3r-Secret-Pw" not in shown
    assert _users.public_calls(plan)[0]["fields"] == ["accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"]


def test_converged_user_needs_no_call():
    spec = _users.build_spec(params(given_name="Jane", surname="Citizen", mobile_phone="0412345678", phone_region="AU",
                                    usage_location="AU", password="Sup3r-Secret-Pw"))
    plan = _users.plan_user(spec, existing(), None, SKUS)
    assert plan["calls"] == [] and plan["action"] == "none"
    assert plan["before"] == plan["after"]


def test_update_only_changed_fields():
    spec = _users.build_spec(params(job_title="Partner", given_name="Jane"))
    plan = _users.plan_user(spec, existing(), None, SKUS)
    assert plan["action"] == "update"
    assert plan["calls"] == [{"op": "update", "method": "PATCH", "path": "users/" + UID, "body": {"jobTitle": "Partner"}, "fields": ["jobTitle"]}]
    assert plan["before"].get("jobTitle") is None and plan["after"]["jobTitle"] == "Partner"


def test_employee_type_and_hire_date_are_written_as_graph_keeps_them_and_then_converge():
    spec = _users.build_spec(params(employee_type="Contractor", employee_hire_date="2027-01-04"))
    plan = _users.plan_user(spec, existing(), None, SKUS)
    assert plan["calls"][0]["body"] == {"employeeType": "Contractor", "employeeHireDate": "2027-01-04T00:00:00Z"}
    # Graph returns the day at midnight UTC, with or without fractions: the same day is no change.
    for stored in ("2027-01-04T00:00:00Z", "2027-01-04T00:00:00.0000000Z"):
        plan = _users.plan_user(spec, existing(employeeType="Contractor", employeeHireDate=stored), None, SKUS)
        assert plan["calls"] == [], stored
    plan = _users.plan_user(spec, existing(employeeType="Contractor", employeeHireDate="2027-01-05T00:00:00Z"), None, SKUS)
    assert plan["calls"][0]["body"] == {"employeeHireDate": "2027-01-04T00:00:00Z"}


def test_password_always_resets():
    spec = _users.build_spec(params(password="Sup3r-Secret-Pw", update_password="always", force_change_password=False))
    plan = _users.plan_user(spec, existing(), None, SKUS)
    assert plan["calls"][0]["body"] == {"passwordProfile": {"password": "Sup3r-Secret-Pw", "forceChangePasswordNextSignIn": False}}


def test_licences_add_and_set_removes_the_unlisted():
    user = existing(assignedLicenses=[{"skuId": E3, "disabledPlans": []}])
    spec = _users.build_spec(params(licenses={"add": ["O365_BUSINESS_PREMIUM"]}))
    plan = _users.plan_user(spec, user, None, SKUS)
    assert plan["calls"][0]["body"]["removeLicenses"] == []
    assert plan["after"]["licenses"] == ["ENTERPRISEPACK", "O365_BUSINESS_PREMIUM"]
    spec = _users.build_spec(params(licenses={"set": ["O365_BUSINESS_PREMIUM"]}))
    plan = _users.plan_user(spec, user, None, SKUS)
    assert plan["calls"][0]["body"]["removeLicenses"] == [E3]
    assert plan["licenses_removed"] == ["ENTERPRISEPACK"] and plan["after"]["licenses"] == ["O365_BUSINESS_PREMIUM"]


def test_no_free_seat_is_refused_before_any_call():
    spec = _users.build_spec(params(usage_location="AU", licenses={"add": ["ENTERPRISEPACK"]}))
    with pytest.raises(ValidationError) as err:
        _users.plan_user(spec, None, None, SKUS)
    assert err.value.message.startswith("No free seat on ENTERPRISEPACK: 2 bought, 2 in use.")
    assert "O365_BUSINESS_PREMIUM (22 free)" in err.value.message


def test_licence_needs_usage_location():
    spec = _users.build_spec(params(licenses={"add": ["O365_BUSINESS_PREMIUM"]}))
    with pytest.raises(ValidationError) as err:
        _users.plan_user(spec, None, None, SKUS)
    assert "usage_location is required" in err.value.message
    # an existing usage location is enough
    plan = _users.plan_user(spec, existing(), None, SKUS)
    assert plan["licenses_added"] == ["O365_BUSINESS_PREMIUM"]


def test_restore_instead_of_create():
    deleted = existing(userPrincipalName=UID.replace("-", "") + "jane.citizen@northwindacct.com", accountEnabled=True)
    spec = _users.build_spec(params(job_title="Partner"))
    plan = _users.plan_user(spec, None, deleted, SKUS)
    assert plan["action"] == "restore"
    assert [c["op"] for c in plan["calls"]] == ["restore", "update"]
    assert plan["calls"][0]["path"] == "directory/deletedItems/%s/restore" % UID
    spec = _users.build_spec(params(restore_deleted=False))
    assert _users.plan_user(spec, None, deleted, SKUS)["action"] == "create"


def test_absent():
    spec = _users.build_spec(params(state="absent"))
    plan = _users.plan_user(spec, existing(), None, SKUS)
    assert plan["calls"] == [{"op": "delete", "method": "DELETE", "path": "users/" + UID}]
    assert _users.plan_user(spec, None, None, SKUS)["calls"] == []


def test_manager():
    boss = {"id": "11111111-2222-3333-4444-555555555555", "userPrincipalName": "sarah.jones@northwindacct.com"}
    spec = _users.build_spec(params(manager="sarah.jones@northwindacct.com"))
    plan = _users.plan_user(spec, existing(), None, SKUS, manager_now=None, manager_target=boss, graph_url="https://g.example")
    assert plan["calls"][0]["body"] == {"@odata.id": "https://g.example/v1.0/users/" + boss["id"]}
    assert plan["after"]["manager"] == "sarah.jones@northwindacct.com"
    plan = _users.plan_user(spec, existing(), None, SKUS, manager_now=copy.deepcopy(boss), manager_target=boss)
    assert plan["calls"] == []


@pytest.mark.parametrize("opts, fragment", [
    (dict(mobile_phone="12"), "mobile_phone"),
    (dict(usage_location="Australia"), "ISO 3166"),
    (dict(other_mails=["nope"]), "not a valid e-mail"),
    (dict(display_name="   "), "display_name is empty"),
    (dict(employee_id="x" * 17), "at most 16"),
    (dict(employee_type="x" * 65), "at most 64"),
    (dict(employee_hire_date="04/01/2027"), "not a day as YYYY-MM-DD"),
    (dict(employee_hire_date="2027-02-30"), "not a day as YYYY-MM-DD"),
    (dict(mail_nickname="jane citizen"), "mail_nickname"),
    (dict(password="short"), "8 to 256"),
    (dict(manager="not a upn"), "exactly one @"),
])
def test_bad_input(opts, fragment):
    with pytest.raises(ValidationError) as err:
        _users.build_spec(params(**opts))
    assert fragment in err.value.message


@pytest.mark.parametrize("user, needed", [
    ({"accountEnabled": True, "signInSessionsValidFromDateTime": "2026-01-02T00:00:00Z", "lastPasswordChangeDateTime": "2026-01-01T00:00:00Z"}, True),
    ({"accountEnabled": False, "signInSessionsValidFromDateTime": "2024-06-17T22:05:10Z", "lastPasswordChangeDateTime": "2024-06-17T22:05:10Z"}, True),
    ({"accountEnabled": False, "signInSessionsValidFromDateTime": "2026-11-23T10:00:01.1234567Z",
      "lastPasswordChangeDateTime": "2026-11-23T10:00:00Z"}, False),
    ({"accountEnabled": False, "signInSessionsValidFromDateTime": None, "lastPasswordChangeDateTime": "2026-11-23T10:00:00Z"}, True),
])
def test_sessions_are_revoked_once_after_the_last_password_event(user, needed):
    assert _users.sessions_need_revoking(user) is needed


def test_revoke_is_planned_after_the_block():
    spec = _users.build_spec({"user": "tom.baker@northwindacct.com", "account_enabled": False, "revoke_sessions": True})
    current = {"id": "u1", "userPrincipalName": "tom.baker@northwindacct.com", "accountEnabled": True, "assignedLicenses": []}
    plan = _users.plan_user(spec, current, None, [])
    assert [c["op"] for c in plan["calls"]] == ["update", "revoke"]
    assert plan["sessions_revoked"] is True
    done = dict(current, accountEnabled=False, signInSessionsValidFromDateTime="2026-11-23T10:00:01Z", lastPasswordChangeDateTime="2024-01-01T00:00:00Z")
    assert _users.plan_user(spec, done, None, [])["calls"] == []


class FakeGraph:
    def __init__(self, users):
        self.users = users
        self.calls = []

    def list(self, path, params=None, headers=None):
        self.calls.append((path, dict(params or {})))
        if path == "users" and "$filter" not in params:
            return [dict(u) for u in self.users]  # the whole directory (its pages are GraphClient.list's business)
        if path == "users":
            wanted = params["$filter"].split("in (")[1].rstrip(")").replace("'", "").split(",")
            return [dict(u) for u in self.users if u["userPrincipalName"] in wanted]
        return []


def test_many_people_are_read_with_one_list_of_the_directory():
    graph = FakeGraph([{"id": str(i), "userPrincipalName": "u%d@x.com" % i} for i in range(1200)])
    svc = _users.UserService(graph)
    upns = ["u%d@x.com" % i for i in range(0, 1200, 2)] + ["gone%d@x.com" % i for i in range(5)]
    found = svc.read(upns)
    assert len(graph.calls) == 1 and "$filter" not in graph.calls[0][1] and graph.calls[0][1]["$top"] == "999"
    assert len(found) == 600 and "gone0@x.com" not in found
    svc.read(["u1@x.com", "gone1@x.com"])  # read with everyone else, or known to be missing: no call
    assert len(graph.calls) == 1


def test_read_caches_and_reads_in_chunks_of_15():
    graph = FakeGraph([{"id": str(i), "userPrincipalName": "u%d@x.com" % i} for i in range(40)])
    svc = _users.UserService(graph)
    upns = ["u%d@x.com" % i for i in range(40)] + ["gone@x.com"]
    found = svc.read(upns)
    assert len(found) == 40 and len(graph.calls) == 3  # 41 names in chunks of 15
    again = svc.read(["u3@x.com", "gone@x.com"])
    assert list(again) == ["u3@x.com"] and len(graph.calls) == 3  # served from the cache, the missing one too
    svc.forget("u3@x.com")
    svc.read(["u3@x.com"])
    assert len(graph.calls) == 4


def test_extensions_are_written_right_after_a_create_and_compared_on_an_existing_user():
    marker = {"com.practiceprotect.m365": {"activation": "pending"}}
    plan = _users.plan_user(_users.build_spec(params(extensions=marker, licenses={"add": ["O365_BUSINESS_PREMIUM"]}, usage_location="AU")), None, None, SKUS)
    assert [c["op"] for c in plan["calls"]] == ["create", "extension", "licenses"]
    ext = plan["calls"][1]
    assert ext["method"] == "POST" and ext["path"] == "users/{id}/extensions"
    assert ext["body"] == {"@odata.type": "microsoft.graph.openTypeExtension", "extensionName": "com.practiceprotect.m365", "activation": "pending"}
    user = existing()
    now = {"com.practiceprotect.m365": {"activation": "pending"}}
    same = _users.plan_user(_users.build_spec(params(extensions=marker)), user, None, SKUS, extensions_now=now)
    assert same["calls"] == []
    gone = _users.plan_user(_users.build_spec(params(extensions={"com.practiceprotect.m365": None})), user, None, SKUS,
                            extensions_now={"com.practiceprotect.m365": {"activation": "pending"}})
    assert [(c["method"], c["path"]) for c in gone["calls"]] == [("DELETE", "users/%s/extensions/com.practiceprotect.m365" % UID)]
    changed = _users.plan_user(_users.build_spec(params(extensions={"com.practiceprotect.m365": {"leaver": "{}"}})), user, None, SKUS,
                               extensions_now={"com.practiceprotect.m365": {"activation": "pending"}})
    assert changed["calls"][0]["method"] == "PATCH" and changed["after"]["extensions"] == {"com.practiceprotect.m365": {"leaver": "{}"}}
    with pytest.raises(ValidationError, match="2 KB"):
        _users.build_spec(params(extensions={"com.example.big": {"x": "y" * 2100}}))
    with pytest.raises(ValidationError, match="not an extension name"):
        _users.build_spec(params(extensions={"nodots": {}}))


def test_taking_the_last_licence_from_a_user_with_mail_is_flagged_for_the_mailbox_check():
    user = existing(mail="jane.citizen@northwindacct.com", assignedLicenses=[{"skuId": BSTD}])
    plan = _users.plan_user(_users.build_spec(params(licenses={"set": []})), user, None, SKUS)
    assert plan["licenses_removed"] == ["O365_BUSINESS_PREMIUM"] and plan["mail_at_risk"] is True
    keeps_one = _users.plan_user(_users.build_spec(params(licenses={"set": ["ENTERPRISEPACK"]})),
                                 existing(mail="j@x.com", assignedLicenses=[{"skuId": BSTD}, {"skuId": E3}]), None, SKUS)
    assert keeps_one["mail_at_risk"] is False
    no_mail = _users.plan_user(_users.build_spec(params(licenses={"set": []})), existing(assignedLicenses=[{"skuId": BSTD}]), None, SKUS)
    assert no_mail["mail_at_risk"] is False


# -- a leaver's password, scrambled once --------------------------------------------------------------------------------

LEAVER = {"id": "u1", "userPrincipalName": "tom.baker@northwindacct.com", "accountEnabled": True, "assignedLicenses": [],
          "lastPasswordChangeDateTime": "2024-06-17T22:05:10Z", "signInSessionsValidFromDateTime": "2024-06-17T22:05:10Z"}
SCRAMBLE = {"user": "tom.baker@northwindacct.com", "account_enabled": False, "revoke_sessions": True, "scramble_password": True,
            "password_changed_since": "2026-12-07T21:00:00+11:00"}


def test_the_password_is_scrambled_in_the_block_and_the_sessions_revoked_after_it():
    plan = _users.plan_user(_users.build_spec(SCRAMBLE), LEAVER, None, [])
    update, revoke = plan["calls"]
    assert update["fields"] == ["accountEnabled", "passwordProfile"] and revoke["op"] == "revoke"
    password = update["body"]["passwordProfile"]["password"]
    assert len(password) == 32 and plan["password_scrambled"] and "password" not in plan
    shown = repr(_users.public_calls(plan)) + repr(plan["before"]) + repr(plan["after"])
    assert password not in shown
    # Two scrambles never give the same password.
    assert _users.plan_user(_users.build_spec(SCRAMBLE), LEAVER, None, [])["calls"][0]["body"]["passwordProfile"]["password"] != password


def test_a_password_changed_since_counts_as_scrambled():
    done = dict(LEAVER, accountEnabled=False, lastPasswordChangeDateTime="2026-12-07T10:00:00Z", signInSessionsValidFromDateTime="2026-12-07T10:00:01Z")
    assert _users.plan_user(_users.build_spec(SCRAMBLE), done, None, [])["calls"] == []  # 21:00+11:00 is 10:00Z
    earlier = dict(done, lastPasswordChangeDateTime="2026-12-07T09:59:59Z", signInSessionsValidFromDateTime="2026-12-07T10:00:01Z")
    plan = _users.plan_user(_users.build_spec(SCRAMBLE), earlier, None, [])
    assert [c["op"] for c in plan["calls"]] == ["update", "revoke"]  # a blocked user's sessions go again after the new password
    always = dict(SCRAMBLE, password_changed_since=None)
    assert _users.plan_user(_users.build_spec(always), done, None, [])["password_scrambled"] is True


@pytest.mark.parametrize("options, message", [
    (dict(SCRAMBLE, password="Sup3r-Secret-Pw"), "scramble_password sets a random password nobody knows; leave password out, or "
                                                 "scramble_password false to set that password."),
    (dict(SCRAMBLE, password_changed_since="yesterday"), "password_changed_since 'yesterday' is not a time with its zone; write it like "
                                                         "2026-12-07T10:00:00+00:00."),
])
def test_a_bad_scramble_is_refused(options, message):
    with pytest.raises(ValidationError) as caught:
        _users.build_spec(options)
    assert caught.value.message == message


def test_a_scramble_and_the_revoke_after_it_in_the_same_second_converge():
    done = dict(LEAVER, accountEnabled=False, lastPasswordChangeDateTime="2026-12-07T10:00:05Z", signInSessionsValidFromDateTime="2026-12-07T10:00:05Z")
    assert _users.plan_user(_users.build_spec(SCRAMBLE), done, None, [])["calls"] == []
    # Without the scramble's time the same second still means "revoke" (a user never revoked since the account was made).
    plain = _users.build_spec(dict(SCRAMBLE, scramble_password=False, password_changed_since=None))
    assert [c["op"] for c in _users.plan_user(plain, done, None, [])["calls"]] == ["revoke"]
