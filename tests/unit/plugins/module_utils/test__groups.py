# -*- coding: utf-8 -*-
"""Group membership planned without Ansible or a network: kinds, refusals, names, copy_from, the removal limit, calls."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.practiceprotect.m365.plugins.module_utils import _groups, _model
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError

USER = {"id": "11111111-1111-4111-8111-111111111111", "userPrincipalName": "jane@northwindacct.com"}


def group(gid, name, **props):
    out = {"id": "%08d-0000-4000-8000-000000000000" % gid, "displayName": name, "mail": None, "groupTypes": [], "mailEnabled": False,
           "securityEnabled": True, "onPremisesSyncEnabled": None, "isAssignableToRole": False, "membershipRule": None}
    out.update(props)
    return out


SECURITY = group(1, "Tax Team")
TEAM = group(2, "Client Services", groupTypes=["Unified"], mailEnabled=True, securityEnabled=False, mail="cs@northwindacct.com")
DL = group(3, "Tax Announcements", mailEnabled=True, securityEnabled=False, mail="tax@northwindacct.com")
MAIL_SECURITY = group(4, "File Share", mailEnabled=True, securityEnabled=True)
DYNAMIC = group(5, "Licensed Staff", groupTypes=["DynamicMembership"], membershipRule="(user.department -eq \"Tax\")")
SYNCED = group(6, "Head Office", onPremisesSyncEnabled=True)
ROLE = group(7, "Helpdesk Admins", isAssignableToRole=True)
ALL = [SECURITY, TEAM, DL, MAIL_SECURITY, DYNAMIC, SYNCED, ROLE]


def spec(**params):
    params.setdefault("user", USER["userPrincipalName"])
    return _groups.build_spec(params)


def named(*groups):
    return dict((g["displayName"].lower(), g) for g in groups)


@pytest.mark.parametrize("g, kind, service", [(SECURITY, "security", "graph"), (TEAM, "microsoft365", "graph"), (DL, "distribution", "exchange"),
                                              (MAIL_SECURITY, "mail_security", "exchange")])
def test_kinds_and_who_changes_them(g, kind, service):
    assert _groups.kind_of(g) == kind and _groups.service_of(g) == service


@pytest.mark.parametrize("g, reason", [(DYNAMIC, "dynamic membership"), (SYNCED, "synced from on-premises"), (ROLE, "role-assignable"),
                                       (SECURITY, None), (DL, None)])
def test_refusals(g, reason):
    found = _groups.refusal(g)
    assert (found[0] if found else None) == reason
    assert _groups.refusal(ROLE, allow_role_assignable=True) is None


@pytest.mark.parametrize("params, message", [
    ({"groups": {}}, "Give groups (add, remove or set) or copy_from; there is nothing to do."),
    ({"groups": {"add": [" "]}}, "groups.add has an empty entry; give display names, mail addresses or object ids of groups."),
    ({"groups": {"remove": ["x"]}, "copy_from": "tom@northwindacct.com"}, "copy_from only adds groups: give groups.add (or nothing) with it."),
    ({"copy_from": "JANE@northwindacct.com"}, "copy_from is the user itself; give a similar user whose groups to copy."),
    ({"groups": {"add": ["x"]}, "max_removals": "ten"}, "max_removals must be a number or a percentage such as 10%, not 'ten'."),
    ({"groups": ["x"]}, "groups takes add, remove or set, for example groups: {add: [...]}; a plain list is not accepted."),
])
def test_bad_options_fail_before_any_call(params, message):
    with pytest.raises(ValidationError) as caught:
        spec(**params)
    assert caught.value.message == message


def test_add_plans_graph_and_exchange_calls_and_skips_what_is_held():
    planned = _groups.plan_membership(spec(groups={"add": ["Tax Team", "Client Services", "Tax Announcements", "File Share"]}), USER,
                                      [SECURITY], named(SECURITY, TEAM, DL, MAIL_SECURITY))
    assert [(c["service"], c["action"], c["group"]["displayName"]) for c in planned["calls"]] == [
        ("exchange", "add", "Tax Announcements"), ("exchange", "add", "File Share"), ("graph", "add", "Client Services")]
    assert planned["added"] == ["Client Services", "Tax Announcements", "File Share"] and planned["removed"] == []
    assert [g["name"] for g in planned["after"]] == ["Client Services", "File Share", "Tax Announcements", "Tax Team"]
    requests = [_groups.request_of(c, USER, "https://graph.microsoft.com/v1.0") for c in planned["calls"]]
    assert requests[2] == {"method": "POST", "path": "groups/%s/members/$ref" % TEAM["id"],
                           "body": {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/%s" % USER["id"]}}
    assert requests[0] == {"cmdlet": "Add-DistributionGroupMember", "parameters": {
        "Identity": DL["id"], "Member": USER["userPrincipalName"], "BypassSecurityGroupManagerCheck": True}}


def test_remove_and_set_with_the_unmanaged_groups_kept():
    current = [SECURITY, TEAM, DL, DYNAMIC, SYNCED]
    planned = _groups.plan_membership(spec(groups={"remove": ["Client Services", "File Share"]}), USER, current, named(TEAM, MAIL_SECURITY))
    assert [(c["service"], c["action"]) for c in planned["calls"]] == [("graph", "remove")]
    assert _groups.request_of(planned["calls"][0], USER, "")["path"] == "groups/%s/members/%s/$ref" % (TEAM["id"], USER["id"])
    planned = _groups.plan_membership(spec(groups={"set": ["Tax Team"]}), USER, current, named(SECURITY))
    assert sorted(planned["removed"]) == ["Client Services", "Tax Announcements"]
    assert planned["kept"] == {"Licensed Staff": "dynamic membership", "Head Office": "synced from on-premises"}
    exchange = [_groups.request_of(c, USER, "") for c in planned["calls"] if c["service"] == "exchange"]
    assert exchange == [{"cmdlet": "Remove-DistributionGroupMember", "parameters": {
        "Identity": DL["id"], "Member": USER["userPrincipalName"], "BypassSecurityGroupManagerCheck": True, "Confirm": False}}]


def test_refused_kinds_are_all_named_before_any_call():
    with pytest.raises(ValidationError) as caught:
        _groups.plan_membership(spec(groups={"add": ["Licensed Staff", "Head Office", "Helpdesk Admins", "Tax Team"]}), USER, [],
                                named(DYNAMIC, SYNCED, ROLE, SECURITY))
    message = caught.value.message
    assert message.startswith("Refused before any change: groups.add: jane@northwindacct.com cannot be given Licensed Staff: its members "
                              "come from its membership rule ((user.department -eq \"Tax\"))")
    assert "Head Office: it is synced from on-premises Active Directory" in message and "allow_role_assignable: true" in message
    allowed = _groups.plan_membership(spec(groups={"add": ["Helpdesk Admins"]}, allow_role_assignable=True), USER, [], named(ROLE))
    assert allowed["added"] == ["Helpdesk Admins"]
    with pytest.raises(ValidationError):  # taking someone out of a dynamic group is refused too
        _groups.plan_membership(spec(groups={"remove": ["Licensed Staff"]}), USER, [DYNAMIC], named(DYNAMIC))


def test_copy_from_adds_the_managed_groups_and_names_the_others():
    planned = _groups.plan_membership(spec(copy_from="tom@northwindacct.com", groups={"add": ["Tax Team"]}), USER, [TEAM], named(SECURITY),
                                      template=ALL)
    assert planned["added"] == ["Tax Team", "Tax Announcements", "File Share"]
    assert planned["copy_skipped"] == {"Licensed Staff": "dynamic membership", "Head Office": "synced from on-premises",
                                       "Helpdesk Admins": "role-assignable"}


def test_the_removal_limit_refuses_and_names_what_it_would_remove():
    current = [SECURITY, TEAM, DL, MAIL_SECURITY]
    with pytest.raises(_model.RemovalRefused) as caught:
        _groups.plan_membership(spec(groups={"set": []}, max_removals=2), USER, current, {})
    assert caught.value.names == ["Client Services", "File Share", "Tax Announcements", "Tax Team"] and caught.value.limit == 2
    assert caught.value.message.startswith("Refusing to remove 4 groups from jane@northwindacct.com, more than max_removals (2)")
    assert _groups.plan_membership(spec(groups={"set": []}, max_removals="100%"), USER, current, {})["removal_limit"] == 4


class FakeGraph:
    base = "https://graph.example/v1.0"

    def __init__(self, groups):
        self.groups = groups
        self.calls = []
        self.memberships = []
        self.fail_with = None

    def list(self, path, params=None):
        self.calls.append((path, (params or {}).get("$filter")))
        if path.startswith("users/"):
            return [{"id": gid} for gid in self.memberships]
        return [g for g in self.groups if _matches(g, params["$filter"])]

    def request(self, method, path, body=None):
        self.calls.append((method, path))
        if self.fail_with is not None:
            raise self.fail_with


def _matches(g, clause):
    field, values = clause.split(" in (")
    wanted = [v.strip("'").replace("''", "'").lower() for v in values.rstrip(")").split(",")]
    return (g.get(field) or "").lower() in wanted


def test_names_resolve_by_name_mail_and_id_and_ambiguous_or_unknown_names_are_refused():
    twin = group(8, "Tax Team", mailEnabled=True, securityEnabled=False)
    directory = _groups.GroupDirectory(FakeGraph([SECURITY, TEAM, DL, twin]))
    found = directory.resolve(["cs@northwindacct.com", DL["id"], "tax announcements"])
    assert found == {"cs@northwindacct.com": TEAM, DL["id"]: DL, "tax announcements": DL}
    assert [c[1].split(" in ")[0] for c in directory.graph.calls] == ["id", "mail", "displayName"]
    directory.resolve(["cs@northwindacct.com"])  # read once per run
    assert len(directory.graph.calls) == 3
    with pytest.raises(ValidationError) as caught:
        directory.resolve(["Tax Team", "Tax Teem"])
    assert caught.value.message == (
        "groups: no group of this tenant has the display name, mail address or object id 'Tax Teem'; check the spelling, or give the group's "
        "object id; 'Tax Team' is the name of 2 groups: %s (security group), %s (distribution list); give the object id of the one you "
        "mean." % (SECURITY["id"], twin["id"]))


def test_a_group_read_without_its_properties_names_the_permission():
    with pytest.raises(ValidationError) as caught:
        _groups.check_properties([{"@odata.type": "#microsoft.graph.group", "id": "x", "displayName": None, "groupTypes": None}])
    assert "GroupMember.Read.All" in caught.value.message


class Failure(Exception):
    def __init__(self, status):
        super(Failure, self).__init__("failed")
        self.status = status


def test_a_failed_write_counts_as_done_when_a_fresh_read_shows_the_wanted_state():
    graph = FakeGraph([])
    graph.fail_with = Failure(400)
    calls = [{"service": "graph", "action": "add", "group": SECURITY}]
    graph.memberships = [SECURITY["id"]]  # added meanwhile
    _groups.apply(calls, USER, graph, None, lambda error: False)
    graph.memberships = []
    with pytest.raises(Failure):
        _groups.apply(calls, USER, graph, None, lambda error: False)
    graph.fail_with = Failure(403)  # refused: never read again
    with pytest.raises(Failure):
        _groups.apply(calls, USER, graph, None, lambda error: False)

    class Exchange:
        def __init__(self):
            self.invoked = []

        def invoke(self, cmdlet, parameters):
            self.invoked.append(cmdlet)
            if cmdlet == "Get-DistributionGroupMember":
                return [{"ExternalDirectoryObjectId": USER["id"]}]
            raise Failure(400)

    exchange = Exchange()
    _groups.apply([{"service": "exchange", "action": "add", "group": DL}], USER, graph, exchange, lambda error: isinstance(error, Failure))
    assert exchange.invoked == ["Add-DistributionGroupMember", "Get-DistributionGroupMember"]
