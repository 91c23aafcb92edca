# -*- coding: utf-8 -*-
"""The Exchange admin API client (fake HTTP session) and the plan of m365_mailbox."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _exchange as x
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import IN_LIMIT
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

TENANT = "5f0c6a3e-2b7d-4c1a-9e8f-3d6b1a2c4e50"
URL = "https://outlook.example/adminapi/beta/%s/InvokeCommand" % TENANT
NOT_FOUND_TEXT = ("Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed "
                  "because object 'x' couldn't be found on 'SY4PR01'.")
NOT_FOUND_BODY = {"error": {"code": "NotFound", "message": "Error executing cmdlet",
                            "details": [{"code": "Context", "target": "", "message": NOT_FOUND_TEXT}]}}


class FakeResponse:
    def __init__(self, status, body, headers=None):
        self.status_code = status
        self.body = body
        self.headers = headers or {"request-id": "rid-1"}
        self.content = json.dumps(body).encode() if body is not None else b""

    def json(self):
        return self.body


class FakeSession:
    def __init__(self, responses):
        self.responses = list(responses)
        self.calls = []

    def request(self, method, url, **kwargs):
        assert method == "POST"
        return self.post(url, **kwargs)

    def post(self, url, data=None, headers=None, timeout=None):
        self.calls.append({"url": url, "body": json.loads(data), "headers": headers})
        return self.responses.pop(0)


class FakeTokens:
    def __init__(self):
        self.resources = []
        self.forgotten = 0

    def token(self, resource):
        self.resources.append(resource)
        return "token-%d" % len(self.resources)

    def forget(self, resource=None):
        self.forgotten += 1


def client(*responses):
    session, tokens = FakeSession(responses), FakeTokens()
    return x.ExchangeClient(session, tokens, "https://outlook.example/", TENANT), session, tokens


def test_invoke_follows_next_link_with_the_same_body_and_exchange_token():
    c, session, tokens = client(
        FakeResponse(200, {"value": [{"n": 1}], "@odata.nextLink": URL + "?$skiptoken=abc", "@adminapi.warnings": ["careful"]}),
        FakeResponse(200, {"value": [{"n": 2}]}))
    assert c.invoke("Get-Mailbox", {"ResultSize": "Unlimited"}) == [{"n": 1}, {"n": 2}]
    assert [call["url"] for call in session.calls] == [URL, URL + "?$skiptoken=abc"]
    body = {"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}}
    assert session.calls[0]["body"] == session.calls[1]["body"] == body
    headers = session.calls[0]["headers"]
    assert headers["X-AnchorMailbox"] == "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@" + TENANT
    assert headers["Prefer"] == "odata.maxpagesize=1000" and headers["Authorization"] == "Bearer token-1"
    assert tokens.resources[0] == "https://outlook.example" and c.warnings == ["careful"] and c.requests_sent == 2


def test_a_401_gets_one_fresh_token():
    c, session, tokens = client(FakeResponse(401, {"error": {"code": "Unauthorized", "message": "expired"}}), FakeResponse(200, {"value": []}))
    assert c.invoke("Get-AcceptedDomain") == []
    assert tokens.forgotten == 1 and session.calls[1]["headers"]["Authorization"] == "Bearer token-2"


def test_errors_carry_text_code_id_and_request_id():
    c, _, _ = client(FakeResponse(404, NOT_FOUND_BODY))
    with pytest.raises(x.ExchangeError) as err:
        c.invoke("Set-Mailbox", {"Identity": "x"})
    exc = err.value
    assert exc.message == "The operation couldn't be performed because object 'x' couldn't be found on 'SY4PR01'."
    assert exc.code == "ManagementObjectNotFoundException" and exc.error_id == "Ex6F9304" and exc.status == 404
    assert exc.request_id == "rid-1" and exc.cmdlet == "Set-Mailbox" and exc.is_not_found()
    assert exc.as_dict()["cmdlet"] == "Set-Mailbox" and exc.as_dict()["error_code"] == "ManagementObjectNotFoundException"


def test_get_mailbox_answers_none_for_not_found_by_code_not_text():
    body = {"error": {"code": "BadRequest", "details": [{"message": "Ex1|Foo.ManagementObjectNotFoundException|anything"}]}}
    c, _, _ = client(FakeResponse(400, body))
    assert c.get_mailbox("x") is None
    c, _, _ = client(FakeResponse(400, {"error": {"code": "BadRequest", "details": [{"message": "Ex1|Foo.Other|couldn't be found"}]}}))
    with pytest.raises(x.ExchangeError):
        c.get_mailbox("x")


@pytest.mark.parametrize("body, expected", [
    ({"error": {"code": "Unauthorized", "message": "User is not allowed to call Get-Mailbox",
                "innererror": {"message": "User is not allowed to call Get-Mailbox", "type": "X.ODataServiceException"}}},
     ("User is not allowed to call Get-Mailbox", "Unauthorized", None)),
    ({"error": {"code": "BadRequest", "message": "m", "innererror": {"internalException": {"message": "inner", "type": "A.B.Problem"}}}},
     ("inner", "Problem", None)),
    ({"error": {"code": "BadRequest", "details": {"message": "plain detail"}}}, ("plain detail", "BadRequest", None)),
    ("<html>oops</html>", ("<html>oops</html>", None, None)),
])
def test_parse_error_reads_details_then_inner_exception_then_message(body, expected):
    assert x.parse_error(body, 400) == expected


def test_full_access_keeps_explicit_grants_only():
    c, _, _ = client(FakeResponse(200, {"value": [
        {"User": "NT AUTHORITY\\SELF", "AccessRights": ["FullAccess, ReadPermission"], "IsInherited": False, "Deny": False},
        {"User": "Sarah.Jones@northwindacct.com", "AccessRights": ["FullAccess"], "IsInherited": False, "Deny": False},
        {"User": "inherited@northwindacct.com", "AccessRights": ["FullAccess"], "IsInherited": True, "Deny": False},
        {"User": "denied@northwindacct.com", "AccessRights": ["FullAccess"], "IsInherited": False, "Deny": True},
        {"User": "S-1-5-21-1", "AccessRights": ["FullAccess"], "IsInherited": False, "Deny": False},
        {"User": "reader@northwindacct.com", "AccessRights": ["ReadPermission"], "IsInherited": False, "Deny": False}]}))
    assert c.full_access("x") == ["sarah.jones@northwindacct.com"]


# -- waiting --------------------------------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


class Mailboxes:
    def __init__(self, answers):
        self.answers = list(answers)

    def get_mailbox(self, identity):
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


LICENSED = {"id": "u1", "userPrincipalName": "jane@northwindacct.com", "assignedPlans": [{"service": "exchange", "capabilityStatus": "Enabled"}]}
UNLICENSED = {"id": "u1", "userPrincipalName": "jane@northwindacct.com", "assignedPlans": [{"service": "exchange", "capabilityStatus": "Deleted"}]}


def test_wait_for_mailbox_polls_with_backoff_until_it_appears():
    clock = Clock()
    mailbox, polls = x.wait_for_mailbox(Mailboxes([None, None, None, {"Alias": "jane"}]), LICENSED, True, 60, clock.sleep, clock)
    assert mailbox == {"Alias": "jane"} and polls == 3 and clock.sleeps == [1.0, 2.0, 4.0]


def test_wait_for_mailbox_gives_up_at_the_timeout():
    clock = Clock()
    with pytest.raises(ValidationError, match="still has no mailbox after 10 seconds"):
        x.wait_for_mailbox(Mailboxes([None]), LICENSED, True, 10, clock.sleep, clock)
    assert clock.now == 10


def test_no_mailbox_without_waiting_or_without_licence_fails_at_once():
    clock = Clock()
    with pytest.raises(ValidationError, match="Set wait_for_mailbox=true to wait for it"):
        x.wait_for_mailbox(Mailboxes([None]), LICENSED, False, 10, clock.sleep, clock)
    with pytest.raises(ValidationError, match="no licence that includes Exchange Online"):
        x.wait_for_mailbox(Mailboxes([None]), UNLICENSED, True, 10, clock.sleep, clock)
    assert clock.sleeps == []


def test_a_licence_not_replicated_yet_is_read_again_before_it_is_called_missing():
    clock = Clock()
    reads = [UNLICENSED, UNLICENSED, LICENSED]
    mailbox, polls = x.wait_for_mailbox(Mailboxes([None, {"Alias": "jane"}]), UNLICENSED, True, 600, clock.sleep, clock,
                                        reread=lambda: reads.pop(0))
    assert mailbox == {"Alias": "jane"} and reads == [] and polls == 4 and clock.sleeps == [1.0, 2.0, 4.0, 8.0]
    clock = Clock()
    with pytest.raises(ValidationError, match="no licence that includes Exchange Online"):
        x.wait_for_mailbox(Mailboxes([None]), UNLICENSED, True, 600, clock.sleep, clock, reread=lambda: UNLICENSED)
    assert clock.now == x.LICENCE_GRACE_S  # read again for the grace period, not the whole wait_timeout
    clock = Clock()
    with pytest.raises(ValidationError, match="no licence that includes Exchange Online"):
        x.wait_for_mailbox(Mailboxes([None]), UNLICENSED, False, 600, clock.sleep, clock, reread=lambda: LICENSED)
    assert clock.sleeps == []  # without waiting, a missing licence is reported at once


def test_wait_for_type_reports_done_only_when_exchange_shows_it():
    clock = Clock()
    shown = Mailboxes([{"RecipientTypeDetails": "UserMailbox"}, {"RecipientTypeDetails": "UserMailbox"}, {"RecipientTypeDetails": "SharedMailbox"}])
    mailbox, polls = x.wait_for_type(shown, "u1", "SharedMailbox", 60, clock.sleep, clock)
    assert mailbox["RecipientTypeDetails"] == "SharedMailbox" and polls == 2
    with pytest.raises(ValidationError, match="still shows UserMailbox after 5 seconds"):
        later = Clock()
        x.wait_for_type(Mailboxes([{"RecipientTypeDetails": "UserMailbox"}]), "u1", "SharedMailbox", 5, later.sleep, later)


# -- m365_mailbox planning ----------------------------------------------------------------------------------------

OWNER = {"id": "u-tom", "userPrincipalName": "tom.baker@northwindacct.com"}
SARAH = {"id": "u-sarah", "userPrincipalName": "sarah.jones@northwindacct.com"}
AMY = {"id": "u-amy", "userPrincipalName": "amy.lee@northwindacct.com"}
MAILBOX = {"RecipientTypeDetails": "UserMailbox", "PrimarySmtpAddress": "tom.baker@northwindacct.com", "ForwardingSmtpAddress": None,
           "DeliverToMailboxAndForward": False, "HiddenFromAddressListsEnabled": False}


def mspec(**kw):
    params = dict(user="tom.baker@northwindacct.com", type=None, forwarding_address=None, forwarding_keep_copy=None,
                  hidden_from_address_lists=None, full_access=None, max_removals=10, auto_mapping=True)
    params.update(kw)
    return x.build_mailbox_spec(params)


def mplan(mailbox=None, full_access=None, trustees=None, **kw):
    return x.plan_mailbox(mspec(**kw), mailbox or MAILBOX, full_access, trustees or {}, OWNER)


def test_offboarding_plan_converts_first_then_settings_then_access():
    p = x.plan_mailbox(mspec(type="shared", hidden_from_address_lists=True, forwarding_address="smtp:Sarah.Jones@northwindacct.com",
                             forwarding_keep_copy=True, full_access={"add": ["sarah.jones@northwindacct.com"]}),
                       MAILBOX, [], {"sarah.jones@northwindacct.com": SARAH}, OWNER)
    assert [c["cmdlet"] for c in p["calls"]] == ["Set-Mailbox", "Set-Mailbox", "Add-MailboxPermission"]
    assert p["calls"][0]["parameters"] == {"Identity": "u-tom", "Type": "Shared"}
    assert p["calls"][1]["parameters"] == {"Identity": "u-tom", "ForwardingSmtpAddress": "smtp:Sarah.Jones@northwindacct.com",
                                           "DeliverToMailboxAndForward": True, "HiddenFromAddressListsEnabled": True}
    assert p["calls"][2]["parameters"]["User"] == "sarah.jones@northwindacct.com"
    assert p["conversion"] == "SharedMailbox" and p["granted"] == ["sarah.jones@northwindacct.com"]
    assert p["before"]["type"] == "regular" and p["after"]["type"] == "shared" and p["after"]["full_access"] == ["sarah.jones@northwindacct.com"]
    assert x.public_calls(p["calls"])[0] == {"cmdlet": "Set-Mailbox", "method": "POST", "path": "InvokeCommand", "parameters": ["Identity", "Type"]}


def test_converged_mailbox_needs_no_call():
    shared = dict(MAILBOX, RecipientTypeDetails="SharedMailbox", ForwardingSmtpAddress="smtp:sarah.jones@northwindacct.com",
                  HiddenFromAddressListsEnabled=True)
    p = x.plan_mailbox(mspec(type="shared", hidden_from_address_lists=True, forwarding_address="Sarah.Jones@northwindacct.com",
                             full_access={"add": ["SARAH.JONES@northwindacct.com"]}),
                       shared, ["sarah.jones@northwindacct.com"], {"sarah.jones@northwindacct.com": SARAH}, OWNER)
    assert p["calls"] == [] and p["conversion"] is None


def test_empty_forwarding_address_clears_it():
    p = mplan(dict(MAILBOX, ForwardingSmtpAddress="smtp:sarah.jones@northwindacct.com"), forwarding_address="")
    assert p["calls"][0]["parameters"] == {"Identity": "u-tom", "ForwardingSmtpAddress": None}
    assert p["after"]["forwarding_address"] is None


def test_remove_and_set_with_the_removal_limit():
    trustees = {"sarah.jones@northwindacct.com": SARAH, "amy.lee@northwindacct.com": AMY, "gone@northwindacct.com": None}
    p = x.plan_mailbox(
        mspec(full_access={"remove": ["amy.lee@northwindacct.com", "gone@northwindacct.com"]}), MAILBOX,
        ["amy.lee@northwindacct.com", "sarah.jones@northwindacct.com"], trustees, OWNER)
    assert p["revoked"] == ["amy.lee@northwindacct.com"] and p["calls"][0]["cmdlet"] == "Remove-MailboxPermission"
    assert p["after"]["full_access"] == ["sarah.jones@northwindacct.com"]
    held = ["amy.lee@northwindacct.com", "sarah.jones@northwindacct.com", "x@northwindacct.com"]
    with pytest.raises(ValidationError) as err:
        x.plan_mailbox(mspec(full_access={"set": ["sarah.jones@northwindacct.com"]}, max_removals=1), MAILBOX, held, trustees, OWNER)
    assert err.value.message == (
        "Refusing to remove 2 users' full access from tom.baker@northwindacct.com's mailbox, more than max_removals (1): "
        "amy.lee@northwindacct.com, x@northwindacct.com. List them to keep them, or raise max_removals if this is intended.")
    p = x.plan_mailbox(mspec(full_access={"set": ["sarah.jones@northwindacct.com"]}, max_removals="67%"), MAILBOX, held, trustees, OWNER)
    assert p["revoked"] == ["amy.lee@northwindacct.com", "x@northwindacct.com"] and p["granted"] == []
    with pytest.raises(ValidationError, match=r"max_removals \(66% of the 3 held now, rounded down, at least 1: 1\)"):
        x.plan_mailbox(mspec(full_access={"set": ["sarah.jones@northwindacct.com"]}, max_removals="66%"), MAILBOX, held, trustees, OWNER)


@pytest.mark.parametrize("options, trustees, message", [
    (dict(forwarding_address="not an address"), {}, "forwarding_address 'not an address' is not a valid e-mail address"),
    (dict(full_access={"add": ["nobody@northwindacct.com"]}), {"nobody@northwindacct.com": None},
     "full_access.add: nobody@northwindacct.com is not a user in this tenant."),
    (dict(full_access={"set": ["tom.baker@northwindacct.com"]}), {"tom.baker@northwindacct.com": OWNER},
     "full_access.set: tom.baker@northwindacct.com is the mailbox's own user"),
    (dict(full_access={"add": ["jane"]}), {}, "full_access.add entry 'jane' is neither a UPN nor an object id."),
    (dict(full_access=["sarah.jones@northwindacct.com"]), {}, "full_access takes add, remove or set"),
    (dict(full_access={"add": ["a@northwindacct.com"], "remove": ["A@northwindacct.com"]}), {}, "full_access lists a@northwindacct.com under both"),
    (dict(max_removals="ten"), {}, "max_removals must be a number or a percentage"),
])
def test_bad_mailbox_options_are_refused(options, trustees, message):
    with pytest.raises(ValidationError) as err:
        x.plan_mailbox(mspec(**options), MAILBOX, [], trustees, OWNER)
    assert err.value.message.startswith(message)


# -- what a run reads once for everyone (ExchangeService) ----------------------------------------------------------

JANE_ID = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"


class FakeGraph:
    """Graph's users collection: ``in`` filters on userPrincipalName and id, and the owner queries of address_holders."""

    def __init__(self, users, groups=()):
        self.users = users
        self.groups = list(groups)
        self.calls = []

    def list(self, path, params=None, headers=None):
        assert path in ("users", "groups")
        if path == "groups":
            # Groups hold addresses too (mail, proxyAddresses); every group query is counted apart from the users'.
            self.calls.append("groups: " + params.get("$filter", "(all)"))
            flt = (params.get("$filter") or "").lower()
            return [g for g in self.groups if not flt or any(
                ("'%s'" % a.lower()) in flt for a in [g.get("mail")] + [p.split(":", 1)[1] for p in g.get("proxyAddresses") or []] if a)]
        if "$filter" not in params:
            self.calls.append("(all) " + params["$select"])
            return list(self.users)
        flt = params["$filter"]
        self.calls.append(flt)
        if " in (" in flt:
            field, values = flt.split(" in (", 1)
            wanted = [v.strip().strip("'").replace("''", "'").lower() for v in values.rstrip(")").split(",")]
            assert len(wanted) <= IN_LIMIT
            return [u for u in self.users if (u.get(field) or "").lower() in wanted]
        held = []
        for user in self.users:
            addresses = [user.get("userPrincipalName"), user.get("mail")] + [p.split(":", 1)[1] for p in user.get("proxyAddresses") or []]
            if any(a and ("'%s'" % a.lower()) in flt.lower() for a in addresses):
                held.append(user)
        return held


class FakeExchange:
    def __init__(self, mailboxes):
        self.mailboxes = mailboxes
        self.calls = []

    def get_mailbox(self, identity):
        self.calls.append(("Get-Mailbox", identity))
        answer = self.mailboxes.get(identity)
        return answer.pop(0) if isinstance(answer, list) and len(answer) > 1 else (answer[0] if isinstance(answer, list) else answer)

    def invoke(self, cmdlet, parameters=None, select=None):
        assert cmdlet == "Get-Mailbox" and parameters == {"ResultSize": "Unlimited"}
        self.calls.append(("Get-Mailbox", "(all)"))
        return [dict(m, ExternalDirectoryObjectId=i.upper()) for i, m in self.mailboxes.items() if isinstance(m, dict)]

    def accepted_domains(self):
        self.calls.append(("Get-AcceptedDomain", None))
        return ["northwindacct.com", "northwindacct.onmicrosoft.com"]


def people(count):
    return [{"id": "u-%02d" % i, "userPrincipalName": "p%02d@northwindacct.com" % i, "displayName": "P %d" % i} for i in range(count)]


def test_users_are_read_with_in_queries_of_fifteen_and_kept():
    users = people(17) + [{"id": JANE_ID, "userPrincipalName": "jane@northwindacct.com", "displayName": "Jane"}]
    graph = FakeGraph(users)
    svc = x.ExchangeService(graph, FakeExchange({}))
    keys = ["P%02d@northwindacct.com" % i for i in range(17)] + [JANE_ID.upper(), "nobody@northwindacct.com"]
    found = svc.read_users(keys)
    assert len(graph.calls) == 3  # 18 UPNs in chunks of 15, then the id
    assert graph.calls[0].startswith("userPrincipalName in ('nobody@northwindacct.com','p00@northwindacct.com',")
    assert graph.calls[2] == "id in ('%s')" % JANE_ID
    assert found["p03@northwindacct.com"]["id"] == "u-03" and found[JANE_ID.lower()]["displayName"] == "Jane"
    assert found["nobody@northwindacct.com"] is None
    # Everything the plans ask for afterwards comes from what was read: by UPN, by id, or known not to exist.
    assert svc.user("p16@northwindacct.com")["id"] == "u-16"
    assert svc.lookup("jane@northwindacct.com") == {"id": JANE_ID, "userPrincipalName": "jane@northwindacct.com"}
    assert svc.lookup("nobody@northwindacct.com") is None
    with pytest.raises(ValidationError) as err:
        svc.user("nobody@northwindacct.com")
    assert err.value.message == "user nobody@northwindacct.com is not a user in this tenant; give the UPN or object id of an existing user."
    assert len(graph.calls) == 3
    svc.read_users(["o'brien@northwindacct.com"])
    assert graph.calls[-1] == "userPrincipalName in ('o''brien@northwindacct.com')"


def test_mailboxes_and_accepted_domains_are_read_once_and_waiting_starts_from_the_read():
    exchange = FakeExchange({"u-1": {"Alias": "one"}, "u-2": [None, None, {"Alias": "two"}]})
    svc = x.ExchangeService(FakeGraph([]), exchange)
    one = {"id": "u-1", "userPrincipalName": "one@northwindacct.com"}
    two = dict(LICENSED, id="u-2")
    assert svc.mailbox(one) == {"Alias": "one"} and svc.mailbox(two) is None
    assert svc.accepted_domains() == svc.accepted_domains()
    clock = Clock()
    assert svc.wait_for_mailbox(one, False, 60, clock.sleep, clock) == ({"Alias": "one"}, 0)
    mailbox, polls = svc.wait_for_mailbox(two, True, 60, clock.sleep, clock)
    assert mailbox == {"Alias": "two"} and polls == 2 and svc.mailbox(two) == {"Alias": "two"}
    # one read each, then only the polls of the mailbox that was not there yet
    assert exchange.calls == [("Get-Mailbox", "u-1"), ("Get-Mailbox", "u-2"), ("Get-AcceptedDomain", None),
                              ("Get-Mailbox", "u-2"), ("Get-Mailbox", "u-2")]


def test_owners_of_everyones_new_addresses_are_read_together_and_exclude_the_person():
    sarah = {"id": "u-sarah", "userPrincipalName": "sarah.jones@northwindacct.com", "displayName": "Sarah Jones",
             "mail": "sarah.jones@northwindacct.com", "proxyAddresses": ["SMTP:sarah.jones@northwindacct.com", "smtp:sj@northwindacct.com"]}
    tom = {"id": "u-tom", "userPrincipalName": "tom.baker@northwindacct.com", "displayName": "Tom Baker", "mail": "tom.baker@northwindacct.com",
           "proxyAddresses": ["SMTP:tom.baker@northwindacct.com"]}
    graph = FakeGraph([sarah, tom])
    svc = x.ExchangeService(graph, FakeExchange({}))
    wanted = ["SJ@northwindacct.com", "tb@northwindacct.com", "a@northwindacct.com", "b@northwindacct.com", "tom.baker@northwindacct.com"]
    svc.read_owners(wanted)
    assert len(graph.calls) == 2  # five addresses, four per query
    assert svc.owners(["sj@northwindacct.com", "tb@northwindacct.com"], "u-tom") == {"sj@northwindacct.com": "Sarah Jones (sarah.jones@northwindacct.com)"}
    assert svc.owners(["tom.baker@northwindacct.com"], "u-tom") == {}
    assert svc.owners(["tom.baker@northwindacct.com"], "u-sarah") == {"tom.baker@northwindacct.com": "Tom Baker (tom.baker@northwindacct.com)"}
    assert len(graph.calls) == 2
    assert x.owners_from(x.address_holders(graph, ["sj@northwindacct.com"]), ["sj@northwindacct.com"], "u-sarah") == {}


def test_an_address_a_group_holds_is_owned_by_that_group():
    sarah = {"id": "u-sarah", "userPrincipalName": "sarah.jones@northwindacct.com", "displayName": "Sarah Jones"}
    tax = {"id": "g-tax", "displayName": "Tax Team", "mail": "tax@northwindacct.com",
           "proxyAddresses": ["SMTP:tax@northwindacct.com", "smtp:taxteam@northwindacct.com"]}
    graph = FakeGraph([sarah], [tax])
    assert x.address_holders(graph, ["taxteam@northwindacct.com"]) == {"taxteam@northwindacct.com": []}  # users only
    holders = x.address_holders(graph, ["taxteam@northwindacct.com", "free@northwindacct.com"], with_groups=True)
    assert holders["free@northwindacct.com"] == []
    group = {"id": "g-tax", "userPrincipalName": "tax@northwindacct.com", "displayName": "Tax Team", "kind": "group"}
    assert holders["taxteam@northwindacct.com"] == [group]
    assert x.owners_from(holders, ["taxteam@northwindacct.com"], "u-sarah") == {
        "taxteam@northwindacct.com": "the group Tax Team (tax@northwindacct.com)"}


def test_two_people_of_one_task_cannot_be_given_the_same_address():
    svc = x.ExchangeService(FakeGraph([]), FakeExchange({}))
    jane = {"id": "u-jane", "userPrincipalName": "jane@northwindacct.com"}
    svc.claim(["jc@northwindacct.com"], jane)
    svc.claim(["JC@northwindacct.com"], jane)  # the same person again is fine
    with pytest.raises(ValidationError) as err:
        svc.claim(["ok@northwindacct.com", "Jc@northwindacct.com"], {"id": "u-john", "userPrincipalName": "john@northwindacct.com"})
    assert err.value.message == ("john@northwindacct.com cannot get Jc@northwindacct.com: this task gives it to jane@northwindacct.com as well. "
                                 "Give each address to one person.")


def test_exchange_errors_are_described_with_their_cmdlet_and_the_permission_hint():
    refused = x.ExchangeError("User is not allowed to call Get-Mailbox", status=401, code="Unauthorized", request_id="r-1",
                              path="/adminapi/beta/t/InvokeCommand", cmdlet="Get-Mailbox", error_id="Ex1")
    message, fields = x.describe(refused)
    assert message == "Exchange Online refused Get-Mailbox: User is not allowed to call Get-Mailbox " + x.PERMISSION_HINT
    assert fields["cmdlet"] == "Get-Mailbox" and fields["exchange_error_id"] == "Ex1" and fields["status"] == 401 and fields["request_id"] == "r-1"
    message, _ = x.describe(x.ExchangeError("No.", status=400, cmdlet="Set-Mailbox"))
    assert message == "Exchange Online refused Set-Mailbox: No."


def test_many_people_their_mailboxes_and_the_owners_of_many_addresses_are_read_with_one_list_each():
    users = [{"id": "u-%03d" % i, "userPrincipalName": "p%03d@northwindacct.com" % i, "displayName": "P %d" % i,
              "proxyAddresses": ["SMTP:p%03d@northwindacct.com" % i, "smtp:alias%03d@northwindacct.com" % i]} for i in range(100)]
    graph = FakeGraph(users)
    exchange = FakeExchange(dict(("u-%03d" % i, {"Alias": "p%03d" % i}) for i in range(0, 100, 2)))
    svc = x.ExchangeService(graph, exchange)
    found = svc.read_users(["p%03d@northwindacct.com" % i for i in range(80)] + ["nobody@northwindacct.com"])
    assert graph.calls == ["(all) " + x.USER_SELECT] and found["nobody@northwindacct.com"] is None
    svc.read_mailboxes([found["p%03d@northwindacct.com" % i] for i in range(80)])
    assert exchange.calls == [("Get-Mailbox", "(all)")]  # one list, matched on ExternalDirectoryObjectId
    assert svc.mailbox(found["p002@northwindacct.com"]) == {"Alias": "p002", "ExternalDirectoryObjectId": "U-002"}
    assert svc.mailbox(found["p003@northwindacct.com"]) is None and len(exchange.calls) == 1
    wanted = ["alias%03d@northwindacct.com" % i for i in range(20)] + ["new%d@northwindacct.com" % i for i in range(5)]
    svc.read_owners(wanted)
    assert graph.calls[-1] == "(all) " + x.OWNER_SELECT and len(graph.calls) == 2
    assert svc.owners(["alias007@northwindacct.com", "new1@northwindacct.com"], "u-001") == {"alias007@northwindacct.com": "P 7 (p007@northwindacct.com)"}
    assert svc.owners(["alias007@northwindacct.com"], "u-007") == {}


def sequentially(read, keys):
    """Module.concurrently's answer shape, one read after another."""
    out = []
    for key in keys:
        try:
            out.append((read(key), None))
        except Exception as exc:  # the error is the answer, as Module.concurrently gives it
            out.append((None, exc))
    return out


def test_per_person_reads_made_ahead_serve_the_plans_and_keep_each_persons_error():
    svc = x.ExchangeService(FakeGraph([]), FakeExchange({}))
    refused = x.ExchangeError("The mailbox is being moved.", status=400, cmdlet="Get-MobileDevice")
    reads = []

    def read(key):
        reads.append(key)
        if key == ("devices", "u-2"):
            raise refused
        return ["%s of %s" % key]
    batches = []

    def concurrently(func, keys):
        batches.append(list(keys))
        return sequentially(func, keys)
    svc.read_each([("devices", "u-1"), ("devices", "u-2"), ("devices", "u-1")], read, concurrently)
    svc.read_each([("devices", "u-1"), ("rules", "u-1")], read, concurrently)  # what was read already is not read again
    assert batches == [[("devices", "u-1"), ("devices", "u-2")], [("rules", "u-1")]]
    assert svc.each(("devices", "u-1"), read) == ["devices of u-1"]
    with pytest.raises(x.ExchangeError) as err:
        svc.each(("devices", "u-2"), read)  # the read's own error, for that person only
    assert err.value is refused
    assert reads == [("devices", "u-1"), ("devices", "u-2"), ("rules", "u-1")]
    assert svc.each(("devices", "u-3"), read) == ["devices of u-3"]  # not read ahead (one object): read now
    assert reads[-1] == ("devices", "u-3")


# ---------------------------------------------------------------------------------------------------------------------
# The tenant's concurrency limit, and error details that are JSON


BUSY = "You have reached the maximum number of concurrent requests per tenant. Please wait and try again."


class TextResponse(FakeResponse):
    """A plain-text answer, as Exchange gives the concurrency refusal."""

    def __init__(self, status, text, headers=None):
        super(TextResponse, self).__init__(status, None, headers)
        self.content = text.encode()
        self.text = text

    def json(self):
        raise ValueError("not JSON")


class Stats:
    def __init__(self):
        self.events = []

    def record(self, method, url, status, error):
        self.events.append((method, status))


def limited_client(responses, deadline=300):
    clock, stats = Clock(), Stats()
    session, tokens = FakeSession(responses), FakeTokens()
    c = x.ExchangeClient(session, tokens, "https://outlook.example/", TENANT, retry_deadline=deadline, stats=stats, sleep=clock.sleep,
                         clock=clock)
    return c, session, clock, stats


@pytest.mark.parametrize("status", [429, 500, 400])
def test_the_concurrency_refusal_is_sent_again_after_a_backoff_whatever_its_status(status):
    c, session, clock, stats = limited_client([TextResponse(status, BUSY), TextResponse(status, BUSY, {"Retry-After": "7"}),
                                              FakeResponse(200, {"value": [{"n": 1}]})])
    assert c.invoke("Set-Mailbox", {"Identity": "x"}) == [{"n": 1}]
    assert len(session.calls) == 3 and c.concurrency_retries == 2 and stats.events == [("POST", status), ("POST", status)]
    assert 1.0 <= clock.sleeps[0] <= 1.5 and clock.sleeps[1] == 7.0  # backoff, then the service's Retry-After


def test_the_concurrency_refusal_is_reported_once_the_deadline_would_pass():
    c, session, clock, _ = limited_client([TextResponse(429, BUSY)] * 10, deadline=10)
    with pytest.raises(x.ExchangeError) as err:
        c.invoke("Get-Mailbox", {"Identity": "x"})
    assert err.value.message.startswith(BUSY) and err.value.status == 429 and "gave up: another try would pass retry_deadline" in err.value.message
    assert sum(clock.sleeps) <= 10 and len(session.calls) == len(clock.sleeps) + 1 >= 3


def test_other_errors_are_not_retried_and_no_more_than_four_calls_run_at_once():
    c, session, clock, _ = limited_client([FakeResponse(400, NOT_FOUND_BODY)])
    with pytest.raises(x.ExchangeError):
        c.invoke("Set-Mailbox", {"Identity": "x"})
    assert len(session.calls) == 1 and clock.sleeps == []
    import threading
    import time as real_time

    state = {"now": 0, "most": 0}
    lock = threading.Lock()

    class SlowSession(FakeSession):
        def post(self, url, data=None, headers=None, timeout=None):
            with lock:
                state["now"] += 1
                state["most"] = max(state["most"], state["now"])
            real_time.sleep(0.05)
            with lock:
                state["now"] -= 1
            return FakeResponse(200, {"value": []})

    slow = x.ExchangeClient(SlowSession([]), FakeTokens(), "https://outlook.example/", TENANT)
    threads = [threading.Thread(target=slow.invoke, args=("Get-AcceptedDomain",)) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert state["most"] == x.MAX_CONCURRENT_CALLS == 4


@pytest.mark.parametrize("detail, expected", [
    (json.dumps({"localizedString": {"stringId": "ErrorRecipientNotFound"}, "ClassName": "Microsoft.Exchange.Data.RecipientNotFoundException",
                 "Message": "The recipient x wasn't found."}), ("The recipient x wasn't found.", "RecipientNotFoundException", "ErrorRecipientNotFound")),
    (json.dumps({"message": "Plain text inside JSON."}), ("Plain text inside JSON.", "BadRequest", None)),
    ("{not json", ("{not json", "BadRequest", None)),
])
def test_a_detail_that_is_a_json_string_is_read_as_a_message(detail, expected):
    body = {"error": {"code": "BadRequest", "message": "Error executing cmdlet", "details": [{"code": "Context", "message": detail}]}}
    assert x.parse_error(body, 400) == expected


# -- automatic replies ---------------------------------------------------------------------------------------------------

REPLY = {"internal_message": "Tom has left; please contact Sarah Jones.", "external_message": None, "external_audience": "all"}
EXCHANGE_REPLY = {"AutoReplyState": "Scheduled", "InternalMessage": "<html>\n<body>\nTom has left; please contact Sarah Jones.\n</body>\n</html>\n",
                  "ExternalMessage": "<html><body>Tom has left; please contact Sarah Jones.</body></html>", "ExternalAudience": "All",
                  "StartTime": "2026-12-24T06:00:00", "EndTime": "2027-01-31T06:00:00"}


def test_a_scheduled_reply_is_one_call_with_times_in_utc():
    spec = mspec(auto_reply=dict(REPLY, start="2026-12-24T17:00:00+11:00", end="2027-01-31T17:00:00+11:00"))
    p = x.plan_mailbox(spec, MAILBOX, None, {}, OWNER, auto_reply={"AutoReplyState": "Disabled"})
    assert p["calls"] == [{"cmdlet": "Set-MailboxAutoReplyConfiguration", "parameters": {
        "Identity": "u-tom", "AutoReplyState": "Scheduled", "InternalMessage": REPLY["internal_message"], "ExternalMessage": REPLY["internal_message"],
        "ExternalAudience": "All", "StartTime": "2026-12-24T06:00:00Z", "EndTime": "2027-01-31T06:00:00Z"}}]
    assert p["before"]["auto_reply"]["state"] == "disabled" and p["after"]["auto_reply"]["start"] == "2026-12-24T06:00:00Z"


def test_the_reply_exchange_keeps_as_html_converges():
    spec = mspec(auto_reply=dict(REPLY, start="2026-12-24T06:00:00Z", end="2027-01-31T06:00:00Z"))
    assert x.plan_mailbox(spec, MAILBOX, None, {}, OWNER, auto_reply=EXCHANGE_REPLY)["calls"] == []
    assert x.plan_mailbox(mspec(auto_reply={"enabled": False}), MAILBOX, None, {}, OWNER, auto_reply={"AutoReplyState": "Disabled"})["calls"] == []
    off = x.plan_mailbox(mspec(auto_reply={"enabled": False}), MAILBOX, None, {}, OWNER, auto_reply=EXCHANGE_REPLY)
    assert off["calls"][0]["parameters"] == {"Identity": "u-tom", "AutoReplyState": "Disabled"}


@pytest.mark.parametrize("reply, message", [
    ({"internal_message": " "}, "auto_reply.internal_message is empty; give the text colleagues get (external_message defaults to it), or set "
                                "auto_reply.enabled false to switch automatic replies off."),
    (dict(REPLY, start="2026-12-24T17:00:00+11:00"), "auto_reply.start and auto_reply.end go together: give both for a scheduled reply, or "
                                                     "neither for one that starts now and stays on."),
    (dict(REPLY, start="2027-01-31T17:00:00+11:00", end="2026-12-24T17:00:00+11:00"),
     "auto_reply.end (2026-12-24T17:00:00+11:00) is not after auto_reply.start (2027-01-31T17:00:00+11:00); give an end after the start."),
    (dict(REPLY, start="2026-12-24 17:00", end="2027-01-31T17:00:00Z"),
     "auto_reply.start '2026-12-24 17:00' is not a time with its zone; write it like 2026-12-24T17:00:00+11:00 (or ...Z for UTC)."),
])
def test_a_bad_reply_is_refused_before_any_call(reply, message):
    with pytest.raises(ValidationError) as caught:
        mspec(auto_reply=reply)
    assert caught.value.message == message
