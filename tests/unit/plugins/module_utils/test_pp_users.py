# -*- coding: utf-8 -*-
"""pp_user planning without Ansible or a service."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _pp_users as u
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

COLUMNS = [{"Name": "O365_ProxyAddresses", "Title": "proxyAddresses", "Type": "Text"}, {"Name": "Cost_Centre", "Title": "Cost Centre", "Type": "Text"},
           {"Name": "Staff_Number", "Title": "Staff Number", "Type": "Integer"}]
ROW = {"ID": "u-1", "Username": "jane@x.com", "DisplayName": "Jane", "Email": "jane@x.com", "MobileNumber": None, "SourceDsType": "CDS"}


def spec(**params):
    params.setdefault("name", "jane@x.com")
    return u.build_spec(params)


def test_proxy_address_format():
    assert u.format_proxy_addresses(["jane@x.com", "smtp:j@x.com", "SMTP:jc@x.com"]) == "SMTP:jane@x.com;smtp:j@x.com;smtp:jc@x.com"
    with pytest.raises(ValidationError, match="lists J@x.com twice"):
        u.format_proxy_addresses(["j@x.com", "J@x.com"])
    assert u.parse_proxy_addresses(" SMTP:a@x.com ; smtp:b@x.com;") == ["SMTP:a@x.com", "smtp:b@x.com"]


def test_build_spec_rules():
    s = spec(mobile_number="0412 345 678", phone_region="au", proxy_addresses=["jane@x.com"])
    assert s["props"] == {"MobileNumber": "+61412345678"} and s["proxy_addresses"] == "SMTP:jane@x.com"
    assert s["send_invite"] is False and spec(source="directory")["send_invite"] is True
    with pytest.raises(ValidationError, match="must be login name, login@suffix"):
        spec(name="jane")
    with pytest.raises(ValidationError, match="mail cannot be set for a user from the source directory"):
        spec(source="directory", mail="a@x.com")
    with pytest.raises(ValidationError, match="password cannot be set"):
        spec(source="directory", password="Passw0rd!x")
    with pytest.raises(ValidationError, match="attributes.x must be a string"):
        spec(attributes={"x": [1]})
    with pytest.raises(ValidationError, match="proxy_addresses is empty"):
        spec(proxy_addresses=[])


def test_resolve_attributes_by_name_or_title():
    wanted = u.resolve_attributes(spec(attributes={"cost centre": "T-1", "Staff_Number": 4}, proxy_addresses=["a@x.com"]), COLUMNS)
    assert wanted == {"Cost_Centre": "T-1", "Staff_Number": 4, "O365_ProxyAddresses": "SMTP:a@x.com"}
    with pytest.raises(ValidationError) as caught:
        u.resolve_attributes(spec(attributes={"Cost Center": "T"}), COLUMNS)
    assert caught.value.message == ("attributes: Cost Center is not an additional attribute of this tenant. Close matches: Cost Centre, "
                                    "Cost_Centre. Attributes: Cost_Centre, O365_ProxyAddresses, Staff_Number.")
    with pytest.raises(ValidationError, match="must be of type Integer"):
        u.resolve_attributes(spec(attributes={"Staff Number": "4"}), COLUMNS)
    with pytest.raises(ValidationError, match="needs an additional attribute named or titled mail_aliases"):
        u.resolve_attributes(spec(proxy_addresses=["a@x.com"], proxy_addresses_attribute="mail_aliases"), COLUMNS)


def test_login_suffix_check():
    u.check_login_suffix("jane@X.com", ["x.com"])
    with pytest.raises(ValidationError, match="y.com is not a login suffix of this Practice Protect tenant. Login suffixes: x.com."):
        u.check_login_suffix("jane@y.com", ["x.com"])


def test_plan_create_generates_a_password_and_sets_attributes_after():
    s = spec(display_name="Jane C", proxy_addresses=["jane@x.com"])
    plan = u.plan_user(s, None, {}, u.resolve_attributes(s, COLUMNS))
    assert plan["action"] == "create" and [c["op"] for c in plan["calls"]] == ["create", "attributes"]
    assert plan["password_generated"] and len(plan["calls"][0]["body"]["Password"]) == 20
    assert plan["calls"][1]["body"] == {"Table": "users", "ID": "{id}", "Columns": {"O365_ProxyAddresses": "SMTP:jane@x.com"}}
    public = u.public_calls(plan)
    assert public[0] == {"op": "create", "method": "POST", "path": "/CDirectoryService/CreateUser", "fields": public[0]["fields"]}
    assert "Password" in public[0]["fields"] and plan["calls"][0]["body"]["Password"] not in str(public)
    assert plan["after"]["Attributes"] == {"O365_ProxyAddresses": "SMTP:jane@x.com"}


def test_plan_update_only_differences_and_merge_attributes():
    s = spec(display_name="Jane", mail="jane@x.com", attributes={"Staff Number": 5})
    values = {"O365_ProxyAddresses": "SMTP:jane@x.com", "Cost_Centre": None, "Staff_Number": None}
    plan = u.plan_user(s, ROW, values, u.resolve_attributes(s, COLUMNS))
    assert [c["op"] for c in plan["calls"]] == ["attributes"]
    assert plan["calls"][0]["body"]["Columns"] == {"O365_ProxyAddresses": "SMTP:jane@x.com", "Staff_Number": 5}
    assert plan["calls"][0]["fields"] == ["Staff_Number"]
    same = u.plan_user(s, ROW, dict(values, Staff_Number=5), u.resolve_attributes(s, COLUMNS))
    assert same["calls"] == [] and same["action"] == "none"
    renamed = u.plan_user(spec(display_name="Jane Citizen"), ROW, {}, {})
    assert renamed["calls"][0]["body"] == {"ID": "u-1", "DisplayName": "Jane Citizen"}
    always = u.plan_user(spec(password="Passw0rd!x", update_password="always"), ROW, {}, {})
    assert [c["op"] for c in always["calls"]] == ["password"] and always["password_set"]


def test_plan_invite_delete_and_source_mismatch():
    row = {"InternalName": "g-1", "SystemName": "sam@x.com", "DisplayName": "Sam", "EMail": "sam@x.com", "ServiceType": "AzureAD"}
    plan = u.plan_user(spec(name="sam@x.com", source="directory"), None, {}, {}, row)
    assert plan["action"] == "invite"
    assert plan["calls"][0]["body"] == {"Entities": [{"Type": "User", "Guid": "g-1", "Name": "sam@x.com"}], "EmailInvite": True,
                                        "SmsInvite": False, "GroupInvite": True}
    with pytest.raises(ValidationError, match="No user with the UPN or e-mail address sam@x.com"):
        u.plan_user(spec(name="sam@x.com", source="directory"), None, {}, {}, None)
    gone = u.plan_user(spec(state="absent"), ROW, {}, {})
    assert gone["calls"] == [{"op": "delete", "endpoint": "remove_users", "body": {"Users": ["u-1"]}, "fields": ["Users"]}]
    assert u.plan_user(spec(state="absent"), None, {}, {})["calls"] == []
    with pytest.raises(ValidationError, match="is a user from the AzureAD directory"):
        u.plan_user(spec(display_name="J"), dict(ROW, SourceDsType="AzureAD"), {}, {})


def test_directory_filter_is_json():
    import json
    flt = json.loads(u.directory_filter('o"brien@x.com'))
    assert flt == {"_and": [{"_or": [{"SystemName": 'o"brien@x.com'}, {"EMail": 'o"brien@x.com'}]}, {"ObjectType": "user"}]}


class FakeClient:
    def __init__(self, fail_create=None, existing=None):
        self.calls = []
        self.fail_create = fail_create
        self.existing = existing

    def call(self, name, body=None, params=None):
        self.calls.append((name, body))
        if name == "create_user":
            if self.fail_create:
                raise self.fail_create
            return "new-id"
        return None

    def query(self, script, **kwargs):
        self.calls.append(("redrock", script))
        return [{"ID": self.existing}] if self.existing else []


def test_apply_fills_in_the_new_id_and_adopts_a_user_a_retried_create_made():
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectError
    s = spec(attributes={"Cost Centre": "T-1"})
    plan = u.plan_user(s, None, {}, u.resolve_attributes(s, COLUMNS))
    fake = FakeClient()
    assert u.apply(fake, plan) == "new-id"
    assert fake.calls[1] == ("set_columns", {"Table": "users", "ID": "new-id", "Columns": {"Cost_Centre": "T-1"}})
    taken = PracticeProtectError("User name jane@x.com is already in use.", error_id="DuplicateUserName", status=200)
    fake = FakeClient(fail_create=taken, existing="old-id")
    assert u.apply(fake, plan) == "old-id" and plan["adopted"]
    assert fake.calls[-1][1]["ID"] == "old-id"
    other = PracticeProtectError("Password does not meet the password policy requirements.", error_id="PasswordPolicy", status=200)
    with pytest.raises(PracticeProtectError):
        u.apply(FakeClient(fail_create=other, existing="old-id"), u.plan_user(s, None, {}, {}))
