# -*- coding: utf-8 -*-
"""pp_user planning without Ansible or a service."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _pp_users as u
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError
from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectError

COLUMNS = [{"Name": "O365_ProxyAddresses", "Title": "proxyAddresses", "Type": "Text"}, {"Name": "Cost_Centre", "Title": "Cost Centre", "Type": "Text"},
           {"Name": "Staff_Number", "Title": "Staff Number", "Type": "Integer"}]
ROW = {"ID": "u-1", "Username": "jane@x.com", "DisplayName": "Jane", "Email": "jane@x.com", "MobileNumber": None, "SourceDsType": "CDS"}


def spec(**params):
    params.setdefault("user", "jane@x.com")
    return u.build_spec(params)


def test_proxy_address_format():
    assert spec(proxy_addresses=["jane@x.com", "smtp:j@x.com", "jc@x.com"])["proxy_addresses"] == "SMTP:jane@x.com;smtp:j@x.com;smtp:jc@x.com"
    with pytest.raises(ValidationError, match="J@x.com appears more than once"):
        spec(proxy_addresses=["j@x.com", "J@x.com"])
    with pytest.raises(ValidationError, match="is marked as the primary address"):
        spec(proxy_addresses=["jane@x.com", "SMTP:jc@x.com"])
    assert u.parse_proxy_addresses(" SMTP:a@x.com ; smtp:b@x.com;") == ["SMTP:a@x.com", "smtp:b@x.com"]


def test_build_spec_rules():
    s = spec(mobile_number="0412 345 678", phone_region="au", proxy_addresses=["jane@x.com"])
    assert s["props"] == {"MobileNumber": "+61412345678"} and s["proxy_addresses"] == "SMTP:jane@x.com"
    assert s["send_invite"] is False and spec(source="directory")["send_invite"] is True
    with pytest.raises(ValidationError, match="must be login name, login@suffix"):
        spec(user="jane")
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
    assert u.resolve_attributes(spec(attributes={"Staff Number": "4"}), COLUMNS) == {"Staff_Number": 4}
    with pytest.raises(ValidationError, match="must be a whole number"):
        u.resolve_attributes(spec(attributes={"Staff Number": "four"}), COLUMNS)
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
    assert plan["calls"][0]["body"]["Columns"] == {"O365_ProxyAddresses": "SMTP:jane@x.com", "Staff_Number": "5"}
    assert plan["calls"][0]["fields"] == ["Staff_Number"]
    same = u.plan_user(s, ROW, dict(values, Staff_Number=5), u.resolve_attributes(s, COLUMNS))
    assert same["calls"] == [] and same["action"] == "none"
    renamed = u.plan_user(spec(display_name="Jane Citizen"), ROW, {}, {})
    assert renamed["calls"][0]["body"] == {"ID": "u-1", "DisplayName": "Jane Citizen"}
    always = u.plan_user(spec(password="Passw0rd!x", update_password="always"), ROW, {}, {})
    assert [c["op"] for c in always["calls"]] == ["password"] and always["password_set"]


def test_plan_invite_delete_and_source_mismatch():
    row = {"InternalName": "g-1", "SystemName": "sam@x.com", "DisplayName": "Sam", "EMail": "sam@x.com", "ServiceType": "AzureAD"}
    plan = u.plan_user(spec(user="sam@x.com", source="directory"), None, {}, {}, row)
    assert plan["action"] == "invite"
    assert plan["calls"][0]["body"] == {"Entities": [{"Type": "User", "Guid": "g-1", "Name": "sam@x.com"}], "EmailInvite": True,
                                        "SmsInvite": False, "GroupInvite": True}
    with pytest.raises(ValidationError, match="No user with the UPN or e-mail address sam@x.com"):
        u.plan_user(spec(user="sam@x.com", source="directory"), None, {}, {}, None)
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
    def __init__(self, fail_create=None, existing=None, fail_invite=(), row=None):
        self.calls = []
        self.fail_invite = list(fail_invite)
        self.fail_create = fail_create
        self.existing = existing
        self.row = row

    def call(self, name, body=None, params=None, once=False):
        self.calls.append((name, body))
        if name == "invite_users" and self.fail_invite:
            assert once  # an invitation is never left to the transport's retries
            raise self.fail_invite.pop(0)
        if name == "create_user":
            if self.fail_create:
                raise self.fail_create
            return "new-id"
        return None

    def query(self, script, **kwargs):
        self.calls.append(("redrock", script))
        if self.row is not None:
            return [self.row]
        return [{"ID": self.existing, "Username": "jane@x.com"}] if self.existing else []


def test_apply_fills_in_the_new_id():
    s = spec(attributes={"Cost Centre": "T-1"})
    plan = u.plan_user(s, None, {}, u.resolve_attributes(s, COLUMNS))
    fake = FakeClient()
    assert u.apply(fake, plan) == "new-id"
    assert fake.calls[1] == ("set_columns", {"Table": "users", "ID": "new-id", "Columns": {"Cost_Centre": "T-1"}})


@pytest.mark.parametrize("error_id", ["DuplicateUserName", None, "SomethingElse"])
def test_a_user_a_retried_create_made_is_read_back_and_adopted_whatever_the_error_id(error_id):
    """The ErrorID of a taken name is not publicly documented: the read-back decides, never the ErrorID."""
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectError
    s = spec(display_name="Jane C", mail="jane@x.com", attributes={"Cost Centre": "T-1"})
    plan = u.plan_user(s, None, {}, u.resolve_attributes(s, COLUMNS))
    taken = PracticeProtectError("User name jane@x.com is already in use.", error_id=error_id, status=200)
    made = {"ID": "old-id", "Username": "Jane@x.com", "DisplayName": "Jane C", "Email": "jane@x.com", "MobileNumber": None, "SourceDsType": "CDS"}
    fake = FakeClient(fail_create=taken, row=made)
    assert u.apply(fake, plan) == "old-id" and plan["adopted"]
    assert [name for name, _ in fake.calls] == ["create_user", "redrock", "set_columns"]
    assert "lower(Username) = lower('jane@x.com')" in fake.calls[1][1]
    assert fake.calls[-1][1]["ID"] == "old-id"


def test_a_failed_create_is_not_adopted_when_the_read_back_finds_no_user_or_someone_else():
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectError
    s = spec(display_name="Jane C", mail="jane@x.com")
    plan = u.plan_user(s, None, {}, {})
    policy = PracticeProtectError("Password does not meet the password policy requirements.", error_id="PasswordPolicy", status=200)
    with pytest.raises(PracticeProtectError) as caught:
        u.apply(FakeClient(fail_create=policy), plan)
    assert caught.value is policy  # nothing there: the service's own answer stands
    taken = PracticeProtectError("User name jane@x.com is already in use.", error_id="DuplicateUserName", status=200)
    other = {"ID": "old-id", "Username": "jane@x.com", "DisplayName": "Jane Smith", "Email": "jane.smith@x.com", "SourceDsType": "CDS"}
    fake = FakeClient(fail_create=taken, row=other)
    with pytest.raises(PracticeProtectError) as caught:
        u.apply(fake, plan)
    assert caught.value.message == (
        "Creating Practice Protect user jane@x.com failed (User name jane@x.com is already in use), and a user of that name exists that "
        "this task did not make: its DisplayName, Mail differ from the request. Check the user in the Admin Portal; run the task again to "
        "update it to the request.")
    assert caught.value.error_id == "DuplicateUserName" and "adopted" not in plan
    directory = dict(other, DisplayName="Jane C", Email="jane@x.com", SourceDsType="AAD")
    with pytest.raises(PracticeProtectError, match="its source directory AAD differs from the request"):
        u.apply(FakeClient(fail_create=taken, row=directory), plan)


def test_an_invitation_whose_answer_was_lost_is_read_back_and_sent_again_only_when_it_never_arrived():
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectUncertain
    body = {"Entities": [{"Type": "User", "Guid": "g-1", "Name": "jane@x.com"}], "EmailInvite": True, "SmsInvite": False, "GroupInvite": True}
    lost = PracticeProtectUncertain("The connection to Practice Protect failed during /UserMgmt/InviteUsers before an answer came.")
    done = FakeClient(existing="g-1", fail_invite=[lost])
    assert u.invite(done, body)["jane@x.com"]["ID"] == "g-1"
    assert [name for name, _ in done.calls] == ["invite_users", "redrock"]  # found: the invitation went out, not sent twice
    never = FakeClient(fail_invite=[lost])
    assert u.invite(never, body) == {"jane@x.com": None}
    assert [name for name, _ in never.calls] == ["invite_users", "redrock", "invite_users", "redrock"]
    twice = FakeClient(fail_invite=[lost, lost])
    with pytest.raises(PracticeProtectUncertain):
        u.invite(twice, body)


class FakeDirectory:
    """Practice Protect for invitations: InviteUsers adds the entities' users (all or none: an unknown Guid refuses the
    call, as the sandbox does), ``lose`` answers lost after the service acted, Redrock reads the users back."""

    def __init__(self, unknown=(), lose=0):
        import threading
        self.users = {}
        self.unknown = set(unknown)
        self.lose = lose
        self.invited = []  # one list of names per InviteUsers call that got through
        self.queries = 0
        self.lock = threading.Lock()

    def call(self, name, body=None, params=None, once=False):
        from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectUncertain
        assert name == "invite_users" and once
        names = [e["Name"] for e in body["Entities"]]
        bad = [e["Name"] for e in body["Entities"] if e["Guid"] in self.unknown]
        if bad:
            raise PracticeProtectError("User %s was not found in any directory." % bad[0], error_id="UserNotFound", status=200)
        with self.lock:
            self.invited.append(names)
            for entity in body["Entities"]:
                self.users[entity["Name"].lower()] = {"ID": "pp-" + entity["Guid"], "Username": entity["Name"]}
            if self.lose:
                self.lose -= 1
                raise PracticeProtectUncertain("The connection to Practice Protect failed during /UserMgmt/InviteUsers before an answer came.")

    def query(self, script, **kwargs):
        with self.lock:
            self.queries += 1
            return [row for name, row in sorted(self.users.items()) if "'%s'" % name in script]


def invite_body(index, email=True):
    return {"Entities": [{"Type": "User", "Guid": "g-%d" % index, "Name": "p%d@x.com" % index}], "EmailInvite": email, "SmsInvite": False,
            "GroupInvite": True}


def test_invitations_go_in_chunks_with_one_read_back_each_from_any_worker():
    from concurrent.futures import ThreadPoolExecutor
    fake = FakeDirectory()
    invitations = u.Invitations(fake, size=50)
    for index in range(120):
        invitations.add("p%d@x.com" % index, invite_body(index))
    with ThreadPoolExecutor(max_workers=16) as pool:
        ids = list(pool.map(lambda i: invitations.send("p%d@x.com" % i, invite_body(i)), range(120)))
    assert ids == ["pp-g-%d" % i for i in range(120)]
    assert sorted(len(call) for call in fake.invited) == [20, 50, 50]  # three calls for 120 people, nobody twice
    assert sorted(n for call in fake.invited for n in call) == sorted("p%d@x.com" % i for i in range(120))
    assert fake.queries == 3


def test_people_with_other_invitation_options_go_in_their_own_call():
    fake = FakeDirectory()
    invitations = u.Invitations(fake)
    invitations.add("p1@x.com", invite_body(1))
    invitations.add("p2@x.com", invite_body(2, email=False))
    invitations.add("p3@x.com", invite_body(3))
    for index in (1, 2, 3):
        invitations.send("p%d@x.com" % index, invite_body(index, email=index != 2))
    assert sorted(fake.invited) == [["p1@x.com", "p3@x.com"], ["p2@x.com"]]


def test_a_refused_chunk_fails_only_the_person_it_was_refused_for():
    fake = FakeDirectory(unknown={"g-2"})
    invitations = u.Invitations(fake)
    for index in range(4):
        invitations.add("p%d@x.com" % index, invite_body(index))
    assert invitations.send("p0@x.com", invite_body(0)) == "pp-g-0"
    with pytest.raises(PracticeProtectError, match="p2@x.com was not found"):
        invitations.send("p2@x.com", invite_body(2))
    assert [invitations.send("p%d@x.com" % i, invite_body(i)) for i in (1, 3)] == ["pp-g-1", "pp-g-3"]
    assert sorted(fake.invited) == [["p0@x.com"], ["p1@x.com"], ["p3@x.com"]]  # after the refusal, one by one


def test_a_chunk_whose_answer_was_lost_is_not_sent_again():
    fake = FakeDirectory(lose=1)
    invitations = u.Invitations(fake)
    for index in range(3):
        invitations.add("p%d@x.com" % index, invite_body(index))
    assert [invitations.send("p%d@x.com" % i, invite_body(i)) for i in range(3)] == ["pp-g-0", "pp-g-1", "pp-g-2"]
    assert fake.invited == [["p0@x.com", "p1@x.com", "p2@x.com"]]  # the read-back found them all: one invitation each


def test_an_invitation_not_added_while_planning_goes_alone():
    fake = FakeDirectory()
    assert u.Invitations(fake).send("p7@x.com", invite_body(7)) == "pp-g-7"
    assert fake.invited == [["p7@x.com"]]


# -- what a run reads once for everyone (PPUserService) ------------------------------------------------------------

def test_find_users_query_quotes_and_lowers_every_value():
    sql = u.find_users_query(["O'Brien@x.com", "jane@x.com"], ["sam@x.com"])
    assert sql == ("SELECT ID, Username, DisplayName, Email, MobileNumber, SourceDsType, Status FROM User WHERE "
                   "lower(Username) IN ('o''brien@x.com', 'jane@x.com') OR lower(Email) IN ('sam@x.com') ORDER BY Username")
    assert "Email" not in u.find_users_query(["a@x.com"]).split("WHERE")[1]


def test_directory_filter_for_several_people_is_json():
    import json
    flt = json.loads(u.directory_filter_many(["a@x.com", 'o"b@x.com']))
    assert flt == {"_and": [{"_or": [{"SystemName": "a@x.com"}, {"EMail": "a@x.com"}, {"SystemName": 'o"b@x.com'}, {"EMail": 'o"b@x.com'}]},
                            {"ObjectType": "user"}]}


def test_pick_user_prefers_the_login_name_then_the_mail_address():
    rows = [dict(ROW, ID="u-2", Username="zed@x.com", Email="sam@x.com"), dict(ROW, ID="u-3", Username="amy@x.com", Email="SAM@x.com"),
            dict(ROW, ID="u-4", Username="Sam@x.com", Email="other@x.com")]
    assert u.pick_user(rows, "sam@x.com")["ID"] == "u-4"
    assert u.pick_user(rows[:2], "sam@x.com") is None
    assert u.pick_user(rows[:2], "sam@x.com", by_email=True)["ID"] == "u-3"  # in Username order, as the query sorts


class ServiceClient:
    """A Practice Protect client with a tenant's users, suffixes, columns and a source directory, counting calls."""

    def __init__(self, rows, directory_rows=()):
        self.rows = rows
        self.directory_rows = list(directory_rows)
        self.calls = []

    def query(self, script, **kwargs):
        self.calls.append(("redrock", script))
        lowered = script.lower()
        return [r for r in self.rows if "'%s'" % r["Username"].lower() in lowered or "'%s'" % (r.get("Email") or "").lower() in lowered]

    def users(self):
        self.calls.append(("users", None))
        return list(self.rows)

    def login_suffixes(self):
        self.calls.append(("login_suffixes", None))
        return ["x.com"]

    def columns(self):
        self.calls.append(("get_schema", None))
        return COLUMNS

    def directory_services(self):
        self.calls.append(("directory_services", None))
        return [{"directoryServiceUuid": "cds", "Service": "CDS", "DisplayName": "Practice Protect Directory"},
                {"directoryServiceUuid": "aad", "Service": "AzureAD", "DisplayName": "Azure Active Directory"}]

    def call(self, name, body=None, params=None):
        self.calls.append((name, body))
        assert name == "directory_query"
        import json
        names = [list(c.values())[0].lower() for c in json.loads(body["user"])["_and"][0]["_or"]]
        rows = [r for r in self.directory_rows if r["SystemName"].lower() in names or r["EMail"].lower() in names]
        return {"User": {"Results": [{"Row": r} for r in rows]}}


def test_prefetch_reads_everyone_with_few_calls_and_plans_then_read_nothing():
    tom = dict(ROW, ID="u-tom", Username="tom@x.com", Email="tom@x.com")
    kim = {"InternalName": "g-kim", "SystemName": "kim.ng@x.com", "EMail": "kim@x.com", "DisplayName": "Kim", "ServiceType": "AzureAD"}
    cds_kim = dict(kim, InternalName="c-kim", ServiceType="CDS")
    client = ServiceClient([ROW, tom], [cds_kim, kim])
    svc = u.PPUserService(client)
    specs = [spec(proxy_addresses=["jane@x.com"]), spec(user="tom@x.com", state="absent"), spec(user="new@x.com"),
             spec(user="KIM@x.com", source="directory"), spec(user="bad@x.com", source="directory", directory="Google")]
    svc.prefetch(specs)
    assert [name for name, _ in client.calls] == ["login_suffixes", "redrock", "get_schema", "directory_services", "directory_query"]
    assert "lower(Email) IN ('bad@x.com', 'kim@x.com')" in client.calls[1][1]
    before = len(client.calls)
    assert svc.current(specs[0])["ID"] == "u-1" and svc.current(specs[1])["ID"] == "u-tom" and svc.current(specs[2]) is None
    assert svc.directory_user(specs[3])["InternalName"] == "g-kim"  # the source-directory row, not the cloud one
    assert svc.login_suffixes() == ["x.com"] and svc.columns() == COLUMNS
    assert len(client.calls) == before
    with pytest.raises(ValidationError) as err:
        svc.directory_user(specs[4])
    assert err.value.message == ("directory Google is not a source directory of this tenant. Source directories: Azure Active Directory.")


def test_many_people_are_read_fifty_per_query():
    client = ServiceClient([])
    svc = u.PPUserService(client)
    svc.prefetch([spec(user="p%03d@x.com" % i, state="absent") for i in range(u.WHOLE_TABLE_AT)])
    assert [name for name, _ in client.calls] == ["redrock", "redrock"]
    svc.read([spec(user="p007@x.com")])
    assert len(client.calls) == 2


def test_more_people_than_two_queries_take_read_the_whole_user_table_once():
    tom = dict(ROW, ID="u-tom", Username="tom@x.com", Email="tom.mail@x.com")
    client = ServiceClient([ROW, tom])
    svc = u.PPUserService(client)
    svc.prefetch([spec(user="p%03d@x.com" % i, state="absent") for i in range(u.WHOLE_TABLE_AT + 1)])
    assert [name for name, _ in client.calls] == ["users"]
    assert svc.current(spec(user="tom@x.com"))["ID"] == "u-tom"
    assert svc.current(spec(user="TOM.MAIL@x.com", source="directory"))["ID"] == "u-tom"  # found by e-mail too
    assert svc.current(spec(user="tom.mail@x.com")) is None  # a cloud user is its login name only
    assert svc.current(spec(user="nobody@x.com")) is None
    assert [name for name, _ in client.calls] == ["users"]  # everyone known: nothing read again


def test_a_cloud_login_name_with_characters_practice_protect_refuses_is_refused_before_any_call():
    assert spec(user="o'brien+tax@x.com")["name"] == "o'brien+tax@x.com"
    with pytest.raises(ValidationError) as err:
        spec(user="zoë.ångström@x.com")
    assert err.value.message == ("user 'zoë.ångström@x.com' contains characters Practice Protect does not allow in a login name ('å' 'ë' 'ö'); "
                                 "use letters, digits and ' . - _ + ! # ^ ~ only.")
    assert err.value.field == "user"
    assert spec(user="zoë@x.com", source="directory")["name"] == "zoë@x.com"  # the source directory's own rules apply there


TYPED = COLUMNS + [{"Name": "Is_Partner", "Title": "Is Partner", "Type": "Boolean"}, {"Name": "Start_Date", "Title": "Start Date", "Type": "Date"}]


@pytest.mark.parametrize("given, expected", [(4711, 4711), ("4711", 4711), (" -3 ", -3)])
def test_an_integer_attribute_takes_a_number_or_a_string_of_digits(given, expected):
    assert u.resolve_attributes(spec(attributes={"Staff Number": given}), COLUMNS) == {"Staff_Number": expected}


@pytest.mark.parametrize("given, expected", [(True, True), ("true", True), ("False", False), ("yes", True), (False, False)])
def test_a_boolean_attribute_takes_true_false_or_the_words(given, expected):
    assert u.resolve_attributes(spec(attributes={"Is Partner": given}), TYPED) == {"Is_Partner": expected}


@pytest.mark.parametrize("key, given, message", [
    ("Staff Number", "forty", 'attributes.Staff Number must be a whole number (4711 or "4711"): the attribute\'s type is Integer.'),
    ("Staff Number", True, "must be a whole number"),
    ("Is Partner", "maybe", "attributes.Is Partner must be true or false: the attribute's type is Boolean."),
    ("Is Partner", 1, "must be true or false"),
    ("Cost Centre", 42, "attributes.Cost Centre must be a string: the attribute's type is Text."),
])
def test_a_value_its_column_cannot_hold_is_refused_before_any_call(key, given, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        u.resolve_attributes(spec(attributes={key: given}), TYPED)


@pytest.mark.parametrize("stored", [{"Staff_Number": 4711, "Is_Partner": True}, {"Staff_Number": "4711", "Is_Partner": "True"},
                                    {"Staff_Number": "4711", "Is_Partner": "true"}])
def test_typed_values_are_compared_as_their_type_whichever_way_the_tenant_answers(stored):
    """GetColumns may answer typed values or strings (real-tenant variants): either way a re-run plans nothing."""
    s = spec(attributes={"Staff Number": "4711", "Is Partner": True})
    current = u.typed_values(dict(stored, Cost_Centre="T-1", Start_Date="2025-01-06"), TYPED)
    assert current == {"Staff_Number": 4711, "Is_Partner": True, "Cost_Centre": "T-1", "Start_Date": "2025-01-06"}
    plan = u.plan_user(s, ROW, current, u.resolve_attributes(s, TYPED))
    assert plan["calls"] == [] and plan["after"]["Attributes"]["Staff_Number"] == 4711


def test_typed_values_are_sent_as_the_sdk_sends_them():
    s = spec(attributes={"Staff Number": 4712, "Is Partner": "no"})
    current = u.typed_values({"Staff_Number": "4711", "Is_Partner": "true", "Cost_Centre": "T-1", "Unknown_Col": 7}, TYPED)
    plan = u.plan_user(s, ROW, current, u.resolve_attributes(s, TYPED))
    assert plan["calls"][0]["body"]["Columns"] == {"Staff_Number": "4712", "Is_Partner": "false", "Cost_Centre": "T-1", "Unknown_Col": "7"}
    assert plan["calls"][0]["fields"] == ["Is_Partner", "Staff_Number"]
    assert plan["before"]["Attributes"]["Staff_Number"] == 4711 and plan["after"]["Attributes"]["Staff_Number"] == 4712
    assert [u.sent(x) for x in (True, False, 0, "x", None)] == ["true", "false", "0", "x", None]


# -- source directories: FDS always listed, inactive ones skipped, more than one match asks for directory -------------------

CDS = {"directoryServiceUuid": "cds", "Service": "CDS", "DisplayName": "Practice Protect Directory", "Status": "Active"}
FDS = {"directoryServiceUuid": "fds", "Service": "FDS", "DisplayName": "Federated Directory Service", "Status": "Active"}
ADPROXY = {"directoryServiceUuid": "ad", "Service": "AdProxy", "DisplayName": "Active Directory: northwind.local", "Status": "Inactive"}
GDS = {"directoryServiceUuid": "gds", "Service": "GDS", "DisplayName": "Google Directory: x.com", "Status": "Inactive"}
AAD = {"directoryServiceUuid": "aad", "Service": "AzureAD", "DisplayName": "Azure Active Directory", "Name": "AzureAD", "Status": "Online"}
AAD_VARIANT = dict(AAD, Service="AAD", Name="AAD", Status="Active")


@pytest.mark.parametrize("services, expected", [
    ([CDS, AAD], ["aad"]),                                  # the sandbox's default tenant
    ([CDS, FDS, ADPROXY, GDS, AAD_VARIANT], ["fds", "aad"]),  # a real tenant's list: FDS always, inactive AD and Google skipped
    ([dict(CDS, Service="cds"), dict(AAD, Status=None)], ["aad"]),  # no Status: not skipped
])
def test_source_directories_skip_the_cloud_directory_and_inactive_ones(services, expected):
    assert [d["directoryServiceUuid"] for d in u.source_directories(services)] == expected


def test_a_named_directory_is_matched_without_case_by_display_name_or_name_whatever_its_status():
    services = [CDS, FDS, ADPROXY, GDS, AAD_VARIANT]
    assert u.source_directories(services, "azure active DIRECTORY") == [AAD_VARIANT]
    assert u.source_directories(services, "aad") == [AAD_VARIANT]
    assert u.source_directories(services, "Active Directory: NORTHWIND.local") == [ADPROXY]
    with pytest.raises(ValidationError) as err:
        u.source_directories(services, "Google")
    assert err.value.message == ("directory Google is not a source directory of this tenant. Source directories: Federated Directory Service, "
                                 "Active Directory: northwind.local (Inactive), Google Directory: x.com (Inactive), Azure Active Directory.")
    assert err.value.field == "directory"


def test_a_tenant_with_only_inactive_source_directories_says_so():
    with pytest.raises(ValidationError) as err:
        u.source_directories([CDS, ADPROXY, GDS])
    assert err.value.message == ("This Practice Protect tenant has no active source directory to invite from (inactive: Active Directory: "
                                 "northwind.local (Inactive), Google Directory: x.com (Inactive)); use source: cloud, or name the directory "
                                 "to search in directory.")
    with pytest.raises(ValidationError, match="no active source directory to invite from; use source: cloud"):
        u.source_directories([CDS])


def test_pick_directory_user_compares_without_case_and_asks_for_directory_when_two_directories_match():
    aad_kim = {"InternalName": "g-kim", "SystemName": "Kim.Ng@x.com", "EMail": "KIM@x.com", "ServiceType": "AAD",
               "ServiceInstance": "aad", "ServiceInstanceLocalized": "Azure Active Directory"}
    fds_kim = dict(aad_kim, InternalName="f-kim", ServiceType="FDS", ServiceInstance="fds", ServiceInstanceLocalized="Federated Directory Service")
    cds_kim = dict(aad_kim, InternalName="c-kim", ServiceType="CDS", ServiceInstance="cds")
    assert u.pick_directory_user([cds_kim, aad_kim], "kim.ng@X.COM")["InternalName"] == "g-kim"
    assert u.pick_directory_user([cds_kim, aad_kim], "kim@x.com")["InternalName"] == "g-kim"
    assert u.pick_directory_user([cds_kim], "kim@x.com") is None
    with pytest.raises(ValidationError) as err:
        u.pick_directory_user([aad_kim, fds_kim, dict(aad_kim)], "kim@x.com")
    assert err.value.message == ("kim@x.com is a user of more than one source directory (Azure Active Directory, Federated Directory Service): "
                                 "set directory to the one to invite from.")
    assert err.value.field == "directory"


def test_the_service_reports_an_ambiguous_person_when_planned_and_searches_only_active_directories():
    kim = {"InternalName": "g-kim", "SystemName": "kim@x.com", "EMail": "kim@x.com", "ServiceType": "AAD", "ServiceInstance": "aad"}
    client = ServiceClient([], [kim, dict(kim, InternalName="f-kim", ServiceType="FDS", ServiceInstance="fds")])
    client.directory_services = lambda: [CDS, FDS, ADPROXY, AAD_VARIANT]
    answer = client.call

    def call(name, body=None, params=None):  # rows of the directories asked for only
        rows = answer(name, body, params)["User"]["Results"]
        return {"User": {"Results": [r for r in rows if r["Row"]["ServiceInstance"] in body["directoryServices"]]}}
    client.call = call
    svc = u.PPUserService(client)
    ambiguous, chosen = spec(user="kim@x.com", source="directory"), spec(user="kim@x.com", source="directory", directory="Azure Active Directory")
    svc.prefetch([ambiguous, chosen])
    queried = [body["directoryServices"] for name, body in client.calls if name == "directory_query"]
    assert queried == [["fds", "aad"], ["aad"]]
    with pytest.raises(ValidationError, match="more than one source directory"):
        svc.directory_user(ambiguous)
    assert svc.directory_user(chosen)["InternalName"] == "g-kim"


def test_a_chunk_whose_answer_and_read_back_were_lost_fails_its_people_without_sending_again():
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import PracticeProtectUncertain
    fake = FakeDirectory(lose=1)
    unreachable = PracticeProtectUncertain("The connection to Practice Protect failed during /Redrock/query before an answer came.")

    def query(script, **kwargs):
        raise unreachable
    fake.query = query
    invitations = u.Invitations(fake)
    for index in range(3):
        invitations.add("p%d@x.com" % index, invite_body(index))
    for index in range(3):
        with pytest.raises(PracticeProtectUncertain) as caught:
            invitations.send("p%d@x.com" % index, invite_body(index))
        assert caught.value is unreachable
    assert fake.invited == [["p0@x.com", "p1@x.com", "p2@x.com"]]  # sent once, never again


def test_nobody_joins_a_chunk_that_is_on_its_way():
    fake = FakeDirectory()
    invitations = u.Invitations(fake)
    invitations.add("p1@x.com", invite_body(1))
    assert invitations.send("p1@x.com", invite_body(1)) == "pp-g-1"
    invitations.add("p2@x.com", invite_body(2))  # planned late: a chunk of its own
    assert invitations.send("p2@x.com", invite_body(2)) == "pp-g-2"
    assert fake.invited == [["p1@x.com"], ["p2@x.com"]]


def test_a_person_named_by_e_mail_gets_the_answer_of_their_directory_entity():
    fake = FakeDirectory()
    invitations = u.Invitations(fake)
    kim = {"Entities": [{"Type": "User", "Guid": "g-kim", "Name": "kim.ng@x.com"}], "EmailInvite": False, "SmsInvite": False, "GroupInvite": True}
    invitations.add("KIM@x.com", kim)  # the person's name is their e-mail address; the entity is their UPN
    invitations.add("p1@x.com", dict(invite_body(1), EmailInvite=False))
    assert invitations.send("KIM@x.com", kim) == "pp-g-kim"
    assert invitations.send("p1@x.com", dict(invite_body(1), EmailInvite=False)) == "pp-g-1"
    assert fake.invited == [["kim.ng@x.com", "p1@x.com"]]
