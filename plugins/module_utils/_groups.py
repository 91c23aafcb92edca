# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Group membership of a user (``m365_group_member``): names resolved, kinds told apart, refusals, plan, apply.

Plain Python, reachable by unit tests without Ansible. A group is named by its display name, its mail address or its
object id; ``GroupDirectory`` reads the named groups with Graph list queries (``id in (...)``, ``mail in (...)``,
``displayName in (...)``) once per module run. A name several groups share is refused with their ids; a name no group has
is refused; both before any write.

Who owns a group's membership decides the call (``KINDS``, the one table of it):

- security groups and Microsoft 365 groups (a team is a Microsoft 365 group): Graph, ``POST /groups/{id}/members/$ref`` and
  ``DELETE /groups/{id}/members/{id}/$ref``;
- distribution lists and mail-enabled security groups: Exchange Online, ``Add-``/``Remove-DistributionGroupMember``. Graph
  answers their writes with 400 "Cannot Update a mail-enabled security groups and or distribution list."
  (microsoftgraph/microsoft-graph-docs issue 14827).

Refused before any write, with the reason (``refusal``): dynamic groups (members come from a rule), groups synced from
on-premises Active Directory (changed there), and role-assignable groups unless ``allow_role_assignable`` (their members hold
a directory role). ``set`` leaves the user in such groups and lists them as ``kept``; ``copy_from`` skips them and names
them in ``copy_skipped``.

The user's groups are read with ``GET /users/{id}/memberOf/microsoft.graph.group`` (direct memberships only: a membership
through a nested group is the nested group's). If a write meets an answer that may mean the work is done already (a member
added meanwhile, an Exchange change Graph did not show yet), the state is read again - Graph for its groups,
``Get-DistributionGroupMember`` for Exchange's - and the call counts as done when it shows the wanted state.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import in_filters

GRAPH, EXCHANGE = "graph", "exchange"
MAX_REMOVALS = 10
# The group properties every read asks for.
GROUP_SELECT = ("id", "displayName", "mail", "groupTypes", "mailEnabled", "securityEnabled", "onPremisesSyncEnabled", "isAssignableToRole",
                "membershipRule")
# Group kinds: the words for people and the service that changes the members.
KINDS = {
    "security": {"label": "security group", "service": GRAPH},
    "microsoft365": {"label": "Microsoft 365 group", "service": GRAPH},
    "mail_security": {"label": "mail-enabled security group", "service": EXCHANGE},
    "distribution": {"label": "distribution list", "service": EXCHANGE},
}
EXCHANGE_ADD = "Add-DistributionGroupMember"
EXCHANGE_REMOVE = "Remove-DistributionGroupMember"
EXCHANGE_MEMBERS = "Get-DistributionGroupMember"

MEMBERSHIP = _model.Resource("group membership", [
    _model.Field("user", required=True),
    _model.Field("groups", "memberOf", type="dict", options=_model.list_option()["options"]),
    _model.Field("max_removals", type="raw", default=MAX_REMOVALS),
    _model.Field("copy_from"),
    _model.Field("allow_role_assignable", type="bool", default=False),
    _model.Field("wait_for_mailbox", type="bool", default=False),
    _model.Field("wait_timeout", type="int", default=900),
])


# -- kinds and refusals --------------------------------------------------------------------------------------------------

def _types(group):
    return [str(t).lower() for t in group.get("groupTypes") or []]


def kind_of(group):
    """One of ``KINDS``: Microsoft 365 (``Unified``), else by mailEnabled / securityEnabled."""
    if "unified" in _types(group):
        return "microsoft365"
    if group.get("mailEnabled"):
        return "mail_security" if group.get("securityEnabled") else "distribution"
    return "security"


def service_of(group):
    return KINDS[kind_of(group)]["service"]


def refusal(group, allow_role_assignable=False):
    """``(short reason, what to do)`` when the module may not change this group's members, else None."""
    if "dynamicmembership" in _types(group):
        return ("dynamic membership", "its members come from its membership rule (%s); change the rule, or the user's attributes, "
                                      "instead" % (group.get("membershipRule") or "no rule shown"))
    if group.get("onPremisesSyncEnabled"):
        return ("synced from on-premises", "it is synced from on-premises Active Directory; change its members there")
    if group.get("isAssignableToRole") and not allow_role_assignable:
        return ("role-assignable", "it is role-assignable, so its members hold a directory role; set allow_role_assignable: true to "
                                   "change it")
    return None


def view(group):
    """A group as results show it."""
    reason = refusal(group)
    return {"id": group.get("id"), "name": group.get("displayName"), "mail": group.get("mail") or None, "kind": kind_of(group),
            "not_managed": reason[0] if reason else None}


def label(group):
    return "%s (%s)" % (group.get("displayName") or group.get("id"), KINDS[kind_of(group)]["label"])


def check_properties(groups, permission_hint="GroupMember.Read.All"):
    """Graph returns a group without its properties (id and type only) to an app that may read users but not groups."""
    for group in groups:
        if group.get("groupTypes") is None and group.get("displayName") is None:
            raise v.ValidationError(
                "Microsoft Graph returned the user's groups without their properties: the application lacks a permission to read groups "
                "(%s, or GroupMember.ReadWrite.All); see docs/permissions.md." % permission_hint, field="groups")


# -- the options ------------------------------------------------------------------------------------------------------

def _group_key(value, where):
    value = (value or "").strip() if isinstance(value, str) else value
    if not value or not isinstance(value, str):
        raise v.ValidationError("%s has an empty entry; give display names, mail addresses or object ids of groups." % where, field="groups")
    return value


def build_spec(params):
    """Validate and normalise m365_group_member's options. Raises ValidationError; makes no call."""
    user = (params.get("user") or "").strip()
    if not user:
        raise v.ValidationError("user is empty; give the user's UPN or object id.", field="user")
    groups = _model.ListChange(params.get("groups"), "groups", normalise=_group_key)
    copy_from = (params.get("copy_from") or "").strip() or None
    if copy_from and (groups.remove or groups.set is not None):
        raise v.ValidationError("copy_from only adds groups: give groups.add (or nothing) with it.", field="copy_from")
    if copy_from and copy_from.lower() == user.lower():
        raise v.ValidationError("copy_from is the user itself; give a similar user whose groups to copy.", field="copy_from")
    if not groups.given and not copy_from:
        raise v.ValidationError("Give groups (add, remove or set) or copy_from; there is nothing to do.", field="groups")
    _model.removal_limit(params.get("max_removals"), 0, MAX_REMOVALS)  # a bad value fails before any call
    return {"user": user, "groups": groups, "copy_from": copy_from, "max_removals": params.get("max_removals"),
            "allow_role_assignable": bool(params.get("allow_role_assignable")),
            "keys": groups.add + groups.remove + (groups.set or [])}


# -- reading groups ---------------------------------------------------------------------------------------------------

def key_field(key):
    """Which property a group key names: the object id, the mail address or the display name."""
    if v.is_guid(key):
        return "id"
    return "mail" if "@" in key else "displayName"


class GroupDirectory:
    """The groups named by a module run's keys, read once with list queries (15 values per ``in``)."""

    def __init__(self, graph):
        self.graph = graph
        self._found = {}  # lower-case key -> [groups]

    def read(self, keys):
        missing = sorted(set(k.lower() for k in keys if k) - set(self._found))
        if not missing:
            return
        for key in missing:
            self._found[key] = []
        for field in ("id", "mail", "displayName"):
            values = [k for k in missing if key_field(k) == field]
            for clause in in_filters(field, values):
                for group in self.graph.list("groups", params={"$filter": clause, "$select": ",".join(GROUP_SELECT)}):
                    value = (group.get(field) or "").lower()
                    if value in self._found and group["id"] not in [g["id"] for g in self._found[value]]:
                        self._found[value].append(group)

    def resolve(self, keys, where="groups"):
        """``{lower key: group}`` for ``keys``; ValidationError naming every unknown key and every ambiguous one (with ids)."""
        self.read(keys)
        out, unknown, ambiguous = {}, [], []
        for key in keys:
            matches = self._found.get(key.lower()) or []
            if not matches:
                unknown.append(key)
            elif len(matches) > 1:
                ambiguous.append("%r is the %s of %d groups: %s" % (
                    key, "mail address" if key_field(key) == "mail" else "name", len(matches),
                    ", ".join("%s (%s)" % (g["id"], KINDS[kind_of(g)]["label"]) for g in sorted(matches, key=lambda g: g["id"]))))
            else:
                out[key.lower()] = matches[0]
        problems = []
        if unknown:
            problems.append("no group of this tenant has the display name, mail address or object id %s; check the spelling, or give the "
                            "group's object id" % ", ".join(repr(k) for k in unknown))
        if ambiguous:
            problems.append("; ".join(ambiguous) + "; give the object id of the one you mean")
        if problems:
            raise v.ValidationError("%s: %s." % (where, "; ".join(problems)), field="groups")
        return out


def member_of(graph, user_id):
    """The user's direct groups (Graph group objects with GROUP_SELECT)."""
    groups = graph.list("users/%s/memberOf/microsoft.graph.group" % user_id, params={"$select": ",".join(GROUP_SELECT)})
    check_properties(groups)
    return groups


# -- the plan ---------------------------------------------------------------------------------------------------------

def plan_membership(spec, user, current, named, template=None, template_user=None):
    """The plan for one user. ``current``: the user's groups now; ``named``: lower-case key -> group (``GroupDirectory.resolve``);
    ``template``: the groups of ``copy_from`` (None without it).

    Returns ``{calls, added, removed, kept, copy_skipped, before, after, removal_limit}``; ``calls`` are
    ``{"service", "action", "group"}`` (the group object). Raises ValidationError for a group the module may not change (every
    such group named) and RemovalRefused over the limit, both before any write.
    """
    who = user.get("userPrincipalName") or user.get("id")
    allow = spec["allow_role_assignable"]
    held = dict((g["id"], g) for g in current)
    change = spec["groups"]
    to_add, to_remove, refused = [], [], []
    kept, copy_skipped = {}, {}

    def take(group, where, action):
        """Plan ``action`` (add or remove) on ``group`` unless it is done already; a group the module may not change is refused."""
        planned = to_add if action == "add" else to_remove
        if (group["id"] in held) == (action == "add") or group["id"] in [g["id"] for g in planned]:
            return
        why = refusal(group, allow)
        if why:
            verb = "given" if action == "add" else "taken out of"
            refused.append("%s: %s cannot be %s %s: %s" % (where, who, verb, group.get("displayName"), why[1]))
        else:
            planned.append(group)

    if change.set is not None:
        wanted = [named[k.lower()] for k in change.set]
        for group in wanted:
            take(group, "groups.set", "add")
        wanted_ids = set(g["id"] for g in wanted)
        for group in current:
            if group["id"] in wanted_ids:
                continue
            why = refusal(group, allow)
            if why:
                kept[group.get("displayName") or group["id"]] = why[0]  # set leaves what it may not change
            else:
                to_remove.append(group)
    else:
        for key in change.add:
            take(named[key.lower()], "groups.add", "add")
        for key in change.remove:
            take(named[key.lower()], "groups.remove", "remove")
    for group in template or []:
        why = refusal(group, allow)
        if why:
            copy_skipped[group.get("displayName") or group["id"]] = why[0]
        elif group["id"] not in [g["id"] for g in to_remove]:
            take(group, "copy_from", "add")
    if refused:
        raise v.ValidationError("Refused before any change: %s." % "; ".join(refused), field="groups")
    manageable = [g for g in current if not refusal(g, allow)]
    limit = _model.removal_limit(spec["max_removals"], len(manageable), MAX_REMOVALS)[0]
    if to_remove:
        limit = _model.check_removals(sorted(g.get("displayName") or g["id"] for g in to_remove), spec["max_removals"], len(manageable),
                                      MAX_REMOVALS, "groups", who)
    # Exchange first: its calls are the likelier to be refused (its own permission and role, a mailbox not there yet), and a refusal
    # then leaves nothing half done in Graph.
    calls = [{"service": service_of(g), "action": action, "group": g} for action, groups in (("add", to_add), ("remove", to_remove))
             for g in groups]
    calls = [c for c in calls if c["service"] == EXCHANGE] + [c for c in calls if c["service"] == GRAPH]
    gone = set(g["id"] for g in to_remove)
    after = [g for g in current if g["id"] not in gone] + to_add
    return {"calls": calls, "added": [g.get("displayName") for g in to_add], "removed": [g.get("displayName") for g in to_remove],
            "kept": kept, "copy_skipped": copy_skipped, "before": sorted_views(current), "after": sorted_views(after),
            "removal_limit": limit}


def sorted_views(groups):
    return sorted((view(g) for g in groups), key=lambda g: ((g["name"] or "").lower(), g["id"]))


def diff_view(views):
    return {"groups": ["%s (%s)" % (g["name"], KINDS[g["kind"]]["label"]) for g in views]}


# -- calls ------------------------------------------------------------------------------------------------------------

def request_of(call, user, graph_base):
    """The request of a planned call: Graph (method, path, body) or Exchange (cmdlet, parameters)."""
    group, action = call["group"], call["action"]
    if call["service"] == GRAPH:
        if action == "add":
            return {"method": "POST", "path": "groups/%s/members/$ref" % group["id"],
                    "body": {"@odata.id": "%s/directoryObjects/%s" % (graph_base, user["id"])}}
        return {"method": "DELETE", "path": "groups/%s/members/%s/$ref" % (group["id"], user["id"]), "body": None}
    parameters = {"Identity": group["id"], "Member": user.get("userPrincipalName") or user["id"], "BypassSecurityGroupManagerCheck": True}
    if action == "remove":
        parameters["Confirm"] = False
    return {"cmdlet": EXCHANGE_ADD if action == "add" else EXCHANGE_REMOVE, "parameters": parameters}


def public_calls(calls, user):
    """The calls as shown to people: service, method and path (or cmdlet and parameter names), and the group."""
    out = []
    for call in calls:
        request = request_of(call, user, "")
        entry = {"service": call["service"], "action": call["action"], "group": call["group"].get("displayName"), "group_id": call["group"]["id"]}
        if call["service"] == GRAPH:
            entry.update(method=request["method"], path="/" + request["path"])
        else:
            entry.update(method="POST", path="InvokeCommand", cmdlet=request["cmdlet"], parameters=sorted(request["parameters"]))
        out.append(entry)
    return out


def apply(calls, user, graph, exchange, is_exchange_error):
    """Make the calls. A failed call whose wanted state a fresh read shows anyway (a member added meanwhile, an Exchange change
    not yet in Graph) counts as done; any other failure is raised."""
    for call in calls:
        request = request_of(call, user, graph.base)
        try:
            if call["service"] == GRAPH:
                graph.request(request["method"], request["path"], body=request["body"])
            else:
                exchange.invoke(request["cmdlet"], request["parameters"])
        except Exception as exc:  # re-raised below unless the state is already the wanted one
            if not _already_done(call, user, graph, exchange, exc, is_exchange_error):
                raise


def _already_done(call, user, graph, exchange, error, is_exchange_error):
    wanted = call["action"] == "add"
    status = getattr(error, "status", None)
    if status in (401, 403, 429) or (status or 0) >= 500:
        return False
    if call["service"] == GRAPH and not is_exchange_error(error) and status in (400, 404):
        ids = [g["id"] for g in graph.list("users/%s/memberOf/microsoft.graph.group" % user["id"], params={"$select": "id"})]
        return (call["group"]["id"] in ids) == wanted
    if call["service"] == EXCHANGE and is_exchange_error(error):
        members = exchange.invoke(EXCHANGE_MEMBERS, {"Identity": call["group"]["id"], "ResultSize": "Unlimited"})
        ids = [(m.get("ExternalDirectoryObjectId") or "").lower() for m in members]
        return (user["id"].lower() in ids) == wanted
    return False
