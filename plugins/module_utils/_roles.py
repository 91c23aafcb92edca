# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entra directory roles, and the Practice Protect service account that holds them.

Plain Python, reachable by unit tests without Ansible. Role names and template ids are resolved against
the tenant's role definitions (``resolve_roles``); ``plan_roles`` compares the wanted roles with a
principal's role assignments and returns the exact calls; ``RoleService`` reads and applies them.

The service account (``service_account_spec`` / ``plan_service_account``, run by the module) is a
user planned by ``_users`` (create, identity, no licence, password) plus the roles its purpose needs:
Global Administrator for federation, Exchange Administrator for mail redirection.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils import _users
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._client import wait_until
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import GraphError, odata_string

DEFINITIONS = "roleManagement/directory/roleDefinitions"
ASSIGNMENTS = "roleManagement/directory/roleAssignments"
ASSIGNMENT_TYPE = "#microsoft.graph.unifiedRoleAssignment"
TENANT_SCOPE = "/"

# Built-in template ids (Microsoft Entra built-in roles reference).
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
KNOWN_NAMES = {GLOBAL_ADMIN: "Global Administrator", EXCHANGE_ADMIN: "Exchange Administrator"}
PURPOSE_ROLES = {"federation": GLOBAL_ADMIN, "mail_redirection": EXCHANGE_ADMIN}

DEFAULT_NAME = "practiceprotect"
DEFAULT_DISPLAY_NAME = "Practice Protect"
DEFAULT_GIVEN_NAME = "Practice"
DEFAULT_SURNAME = "Protect"


# -- role definitions -------------------------------------------------------------------------------------------

def definition_ids(definition):
    """The ids a role may be given by: its definition id and its template id (equal for built-in roles)."""
    return set(i.lower() for i in (definition.get("id"), definition.get("templateId")) if i)


def role_name(role_id, definitions):
    role_id = (role_id or "").lower()
    for definition in definitions:
        if role_id in definition_ids(definition):
            return definition.get("displayName") or role_id
    return KNOWN_NAMES.get(role_id, role_id)


def resolve_roles(requested, definitions, field="roles"):
    """Map role display names (any case) or ids to definitions, in the order given, without duplicates.

    Unknown names fail before any write, each with the closest role names of this tenant.
    """
    by_name = {}
    by_id = {}
    for definition in definitions:
        if definition.get("displayName"):
            by_name[definition["displayName"].strip().lower()] = definition
        for role_id in definition_ids(definition):
            by_id[role_id] = definition
    resolved, problems = [], []
    for item in requested:
        item = (item or "").strip()
        definition = by_id.get(item.lower()) if v.is_guid(item) else by_name.get(item.lower())
        if definition is None:
            if v.is_guid(item):
                problems.append("%s is not the id or template id of a directory role in this tenant" % item)
            else:
                similar = v.close_matches(item, [d.get("displayName") for d in definitions], containing=True)
                problems.append("%r is not a directory role in this tenant (%s)" % (
                    item, "did you mean %s?" % " or ".join(similar) if similar else "no role has a similar name"))
        elif definition not in resolved:
            resolved.append(definition)
    if problems:
        raise v.ValidationError(
            "Unknown directory role: %s. Give roles by display name (for example Exchange Administrator) or by template id." % "; ".join(problems),
            field=field)
    return resolved


# -- role plan ----------------------------------------------------------------------------------------------------

def plan_roles(wanted, assignments, definitions, principal_id=None, max_removals=None, who="the account"):
    """Calls that make a principal's tenant-wide roles what ``wanted`` asks: ``{"add": [definitions], "remove": [...],
    "set": [...] or None}`` (the roles option's list actions, resolved).

    ``assignments`` are the principal's current role assignments (Graph objects). Returns
    ``{"calls", "added", "removed", "before", "after"}``; role lists are display names, sorted. Raises RemovalRefused
    when more assignments would go than ``max_removals`` allows.
    """
    def ids(definitions_):
        out = set()
        for definition in definitions_ or []:
            out |= definition_ids(definition)
        return out

    held_here = set((a.get("roleDefinitionId") or "").lower() for a in assignments if a.get("directoryScopeId", TENANT_SCOPE) == TENANT_SCOPE)
    calls, added, removed = [], [], []
    for definition in wanted["set"] if wanted["set"] is not None else wanted["add"]:
        if definition_ids(definition) & held_here:
            continue
        body = {"@odata.type": ASSIGNMENT_TYPE, "roleDefinitionId": definition.get("templateId") or definition["id"],
                "principalId": principal_id or "{id}", "directoryScopeId": TENANT_SCOPE}
        calls.append({"op": "role_add", "method": "POST", "path": ASSIGNMENTS, "body": body, "role": definition.get("displayName"),
                      "fields": ["directoryScopeId", "principalId", "roleDefinitionId"]})
        added.append(definition.get("displayName") or body["roleDefinitionId"])
    if wanted["set"] is not None:
        keep = ids(wanted["set"])
        extra = [a for a in assignments if (a.get("roleDefinitionId") or "").lower() not in keep]
    else:
        unwanted = ids(wanted["remove"])
        extra = [a for a in assignments if (a.get("roleDefinitionId") or "").lower() in unwanted]
    if extra:
        _model.check_removals(sorted(role_name(a.get("roleDefinitionId"), definitions) for a in extra), max_removals, len(assignments),
                              MAX_REMOVALS, "directory role assignments", who)
        for assignment in extra:
            name = role_name(assignment.get("roleDefinitionId"), definitions)
            calls.append({"op": "role_remove", "method": "DELETE", "path": "%s/%s" % (ASSIGNMENTS, assignment["id"]), "role": name,
                          "fields": []})
            removed.append(name)
    before = sorted(set(role_name(a.get("roleDefinitionId"), definitions) for a in assignments))
    after = sorted(set(role_name(a.get("roleDefinitionId"), definitions) for a in assignments if a not in extra) | set(added))
    return {"calls": calls, "added": added, "removed": removed, "before": before, "after": after}


MAX_REMOVALS = 3


def plan_remove_all(assignments, definitions):
    """Calls that remove every role assignment of a principal (before the principal itself is deleted)."""
    calls = []
    for assignment in assignments:
        name = role_name(assignment.get("roleDefinitionId"), definitions)
        calls.append({"op": "role_remove", "method": "DELETE", "path": "%s/%s" % (ASSIGNMENTS, assignment["id"]), "role": name, "fields": []})
    return calls


def public_calls(calls):
    """Calls as shown to people: method, path, field names and the role concerned, never values."""
    out = []
    for call in calls:
        item = {"op": call["op"], "method": call["method"], "path": "/" + call["path"], "fields": list(call.get("fields", []))}
        if call.get("role"):
            item["role"] = call["role"]
        out.append(item)
    return out


class RoleService:
    """Reads role definitions and assignments, and applies role calls, through a ``GraphClient``."""

    def __init__(self, graph):
        self.graph = graph
        self._definitions = None

    def definitions(self):
        if self._definitions is None:
            self._definitions = self.graph.list(DEFINITIONS)
        return self._definitions

    def assignments_of(self, principal_id):
        return self.graph.list(ASSIGNMENTS, params={"$filter": "principalId eq %s" % odata_string(principal_id)})

    def apply(self, calls, principal_id, lagging=False):
        """Send role calls in order. ``lagging``: the principal was just created (404s are replication lag)."""
        for call in calls:
            if call["op"] == "role_add":
                body = dict(call["body"], principalId=principal_id)
                try:
                    self.graph.request("POST", call["path"], body=body, lagging=lagging)
                except GraphError as exc:
                    # A retried POST that had reached the service answers 400 (conflict): the assignment exists.
                    # Decide by reading the assignments, never by the message text.
                    if exc.status != 400 or not self._holds(principal_id, body["roleDefinitionId"]):
                        raise
            else:
                try:
                    self.graph.request("DELETE", call["path"])
                except GraphError as exc:
                    if exc.status != 404:  # already gone
                        raise

    def _holds(self, principal_id, role_id):
        """Whether the principal holds the role; a read that does not show it yet (the assignment was made moments ago,
        by an earlier run, and has not replicated to this read) is repeated with backoff within the client's
        ``replication_timeout``."""
        graph = self.graph
        return wait_until(lambda: self._holds_now(principal_id, role_id), getattr(graph, "replication_timeout", 0) or 0, sleep=graph.sleep,
                          clock=graph.clock).done

    def _holds_now(self, principal_id, role_id):
        return any((a.get("roleDefinitionId") or "").lower() == role_id.lower() and a.get("directoryScopeId", TENANT_SCOPE) == TENANT_SCOPE
                   for a in self.assignments_of(principal_id))


# -- the service account ------------------------------------------------------------------------------------------

def service_account_spec(params):
    """Validate the options that need no tenant data. Raises ValidationError; makes no call."""
    name = (params.get("name") or "").strip()
    if (not name or not v.UPN_LOCAL_RE.match(name) or len(name) > v.UPN_LOCAL_MAX or name.startswith(".") or name.endswith(".")
            or ".." in name):
        raise v.ValidationError(
            "name %r is not a valid sign-in name: use up to %d letters, digits and ' . - _ ! # ^ ~ characters, "
            "not starting or ending with a dot." % (params.get("name"), v.UPN_LOCAL_MAX), field="name")
    domain = params.get("domain")
    if domain:
        domain = v.validate_domain_name(domain.strip(), "domain")
    state = params.get("state") or "present"
    purpose = params.get("purpose")
    roles = params.get("roles")
    if state == "present" and purpose is None and roles is None:
        raise v.ValidationError("Give purpose (federation or mail_redirection) or an explicit roles list for the service account.", field="purpose")
    roles = _model.ListChange(roles, "roles", normalise=lambda value, where: (value or "").strip()) if roles is not None else None
    if state == "present" and roles is not None and not roles.given:
        raise v.ValidationError("roles is empty; give add, remove or set with directory role names.", field="roles")
    max_removals = params.get("max_removals")
    _model.removal_limit(max_removals, 0, MAX_REMOVALS)  # a bad value fails before any call
    for option in ("display_name", "given_name", "surname"):
        if params.get(option) is not None and not params[option].strip():
            raise v.ValidationError("%s is empty; leave it out to use the default." % option, field=option)
    return {
        "name": name, "domain": domain, "state": state, "purpose": purpose, "roles": roles, "max_removals": max_removals,
        "display_name": params.get("display_name") or DEFAULT_DISPLAY_NAME,
        "given_name": params.get("given_name") or DEFAULT_GIVEN_NAME,
        "surname": params.get("surname") or DEFAULT_SURNAME,
        "federation_enabled": bool(params.get("federation_enabled")), "force": bool(params.get("force")),
        "rotate_password": bool(params.get("rotate_password")), "return_password": bool(params.get("return_password")),
        "force_change_password": params.get("force_change_password", True),
    }


def initial_domain(domains):
    """The tenant's initial *.onmicrosoft.com domain from the GET /domains list."""
    for domain in domains:
        if domain.get("isInitial"):
            return domain["id"].lower()
    raise v.ValidationError("The tenant reports no initial (*.onmicrosoft.com) domain; set domain explicitly.", field="domain")


def wanted_roles(spec, definitions):
    """``{"add", "remove", "set"}`` of role definitions: a purpose is exactly its one role."""
    if spec["purpose"] is not None:
        return {"add": [], "remove": [], "set": resolve_roles([PURPOSE_ROLES[spec["purpose"]]], definitions, field="purpose")}
    change = spec["roles"]
    return {"add": resolve_roles(change.add, definitions, field="roles.add"),
            "remove": resolve_roles(change.remove, definitions, field="roles.remove"),
            "set": resolve_roles(change.set, definitions, field="roles.set") if change.set is not None else None}


def serves_federation(spec):
    """Why the account is taken to serve federation (a phrase), or None."""
    if spec["purpose"] == "federation":
        return "purpose: federation"
    if spec["federation_enabled"]:
        return "federation_enabled: true"
    return None


def user_spec(spec, upn, password=None):
    """The ``_users`` spec of the account: names, enabled, no licence, a generated password."""
    return _users.build_spec({
        "user": upn, "state": spec["state"], "display_name": spec["display_name"], "given_name": spec["given_name"],
        "surname": spec["surname"], "account_enabled": True, "licenses": {"set": []}, "password": password,
        "update_password": "always" if password is not None else "on_create", "force_change_password": spec["force_change_password"],
        "restore_deleted": False,
    })


def plan_service_account(spec, upn, current, assignments, definitions, skus, password=None):
    """The whole plan for the account: user calls (``_users.plan_user``) then role calls.

    ``current`` is the active user or None, ``assignments`` its role assignments. ``password`` is a
    new password for an existing account (rotation); a created account gets one generated by
    ``plan_user``. Raises ValidationError for unknown roles, too many removals and the federation guard.
    """
    uspec = user_spec(spec, upn, password if current else None)
    user_plan = _users.plan_user(uspec, current, None, skus)
    principal_id = current["id"] if current else None
    plan = {"upn": upn, "action": user_plan["action"], "user_plan": user_plan, "role_calls": [], "roles_added": [], "roles_removed": [],
            "licenses_removed": list(user_plan.get("licenses_removed") or []), "password_set": bool(user_plan.get("password_set")),
            "password": user_plan.get("password") if current is None else password}
    if spec["state"] == "absent":
        if current is None:
            plan["roles_before"] = plan["roles_after"] = []
            return _finish(plan)
        reason = serves_federation(spec)
        if reason and not spec["force"]:
            raise v.ValidationError(
                "Refusing to remove %s: it serves Practice Protect's Office 365 federation (%s), and sign-in through Practice Protect "
                "stops working without it. Turn federation off in Practice Protect first, then run again with federation_enabled: false "
                "and without purpose: federation; or set force: true to remove it anyway." % (upn, reason), field="force")
        plan["role_calls"] = plan_remove_all(assignments, definitions)
        plan["roles_removed"] = sorted(c["role"] for c in plan["role_calls"])
        plan["roles_before"] = sorted(set(role_name(a.get("roleDefinitionId"), definitions) for a in assignments))
        plan["roles_after"] = []
        plan["password_set"] = False
        plan["password"] = None
        return _finish(plan)
    wanted = wanted_roles(spec, definitions)
    roles = plan_roles(wanted, assignments, definitions, principal_id, max_removals=spec["max_removals"], who=upn)
    ga_name = role_name(GLOBAL_ADMIN, definitions)
    if spec["federation_enabled"] and ga_name in roles["removed"] and not spec["force"]:
        raise v.ValidationError(
            "Refusing to remove Global Administrator from %s: federation_enabled is true, and Practice Protect's Office 365 federation "
            "needs this account to stay a Global Administrator. Keep purpose: federation while federation is on, or turn federation off "
            "in Practice Protect first and set federation_enabled: false; force: true removes it anyway." % upn, field="force")
    plan["role_calls"] = roles["calls"]
    plan["roles_added"] = roles["added"]
    plan["roles_removed"] = roles["removed"]
    plan["roles_before"] = roles["before"]
    plan["roles_after"] = roles["after"]
    if plan["action"] == "none" and roles["calls"]:
        plan["action"] = "update"
    return _finish(plan)


def _finish(plan):
    user_plan = plan["user_plan"]
    plan["before"] = dict(user_plan["before"], roles=plan["roles_before"]) if user_plan["before"] else {}
    plan["after"] = dict(user_plan["after"], roles=plan["roles_after"]) if user_plan["after"] else {}
    if plan["user_plan"]["action"] == "delete":
        # Roles first: Microsoft refuses to delete a user who holds an admin role unless the caller is a higher admin.
        plan["calls"] = plan["role_calls"] + user_plan["calls"]
    else:
        plan["calls"] = user_plan["calls"] + plan["role_calls"]
    plan["changed"] = bool(plan["calls"])
    return plan


def service_account_public_plan(plan):
    user_calls = _users.public_calls(plan["user_plan"])
    role_calls = public_calls(plan["role_calls"])
    if plan["user_plan"]["action"] == "delete":
        return role_calls + user_calls
    return user_calls + role_calls


ADMIN_REFUSAL = ("Microsoft 365 refused to %s %s (%s): the account holds an admin role (%s), and an application may do that to an admin "
                 "only if its own service principal holds a higher directory role such as Privileged Authentication Administrator; the Graph "
                 "permission User.ReadWrite.All is not enough. Assign that directory role to the automation app (see docs/permissions.md), "
                 "or %s.")
