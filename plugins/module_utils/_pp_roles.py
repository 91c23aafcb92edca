# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Practice Protect role membership (pp_role_member): resolve names, plan, apply.

Plain Python, reachable by unit tests without Ansible. Roles are given by name and resolved to their ids with the
Redrock ``Role`` table; members by login name or e-mail with the ``User`` table; unknown names fail with the close
matches (or, with ``skip_unknown_members``, are left out and reported). ``copy_from`` reads a similar user's roles
(GetUsersRolesAndAdministrativeRights, by role name) and never touches Everybody, which holds every user implicitly
and cannot be changed through the role API.

``members`` takes the collection's list actions (``add``, ``remove``, ``set``); every removal counts against one
``max_removals`` (the users removed: a count, or a share of the user members the roles hold now), refused before any write.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v

EVERYBODY = "Everybody"
MAX_REMOVALS = 5


def build_spec(params):
    role = params.get("role")
    copy_from = params.get("copy_from")
    all_roles = bool(params.get("all_roles"))
    members = _model.ListChange(params.get("members"), "members", normalise=_member)
    if all_roles and (role or copy_from):
        raise v.ValidationError("all_roles takes the members out of every role they hold; use it without role and copy_from.", field="all_roles")
    if all_roles and (members.add or members.set is not None):
        raise v.ValidationError("all_roles only removes: give members.remove.", field="members")
    if not role and not copy_from and not all_roles:
        raise v.ValidationError("Give role (a role name) or copy_from (a user whose roles to copy).", field="role")
    if copy_from and (members.remove or members.set is not None):
        raise v.ValidationError("copy_from only adds roles: give members.add (and role, to change that role's members).", field="copy_from")
    if not members.given:
        raise v.ValidationError("members is empty; give add, remove or set with login names or e-mail addresses.", field="members")
    _model.removal_limit(params.get("max_removals"), 0, MAX_REMOVALS)  # a bad value fails before any call
    return {"role": role, "copy_from": copy_from, "members": members, "all_roles": all_roles,
            "max_removals": params.get("max_removals"), "skip_unknown_members": bool(params.get("skip_unknown_members")),
            "copy_exclude": [r.strip() for r in params.get("copy_exclude") or [] if r and r.strip()]}


def _member(value, where):
    value = (value or "").strip()
    if not value:
        raise v.ValidationError("%s has an empty entry; give login names or e-mail addresses." % where, field="members")
    return value


def resolve_role(name, roles, field="role"):
    """The Role row named ``name`` (exact, else the only case-insensitive match); ValidationError with close matches."""
    exact = [r for r in roles if r.get("Name") == name]
    if not exact:
        exact = [r for r in roles if (r.get("Name") or "").lower() == (name or "").lower()]
    if len(exact) == 1:
        return exact[0]
    names = [r.get("Name") for r in roles]
    matches = v.close_matches(name, names)
    raise v.ValidationError("Unknown role %r.%s" % (name, (" Close matches: %s." % ", ".join(matches)) if matches else
                                                    " Roles: %s." % ", ".join(sorted(n for n in names if n))), field=field)


def resolve_users(keys, users, field="members", missing_ok=False, skipped=None):
    """User rows for login names or e-mail addresses (case-insensitive); one error naming every unknown key.

    ``missing_ok`` drops unknown keys instead (removing a user who is not there is already done, and
    ``skip_unknown_members`` asks for it); the dropped keys are appended to ``skipped`` when it is a list."""
    by_name = {}
    by_mail = {}
    for user in users:
        if user.get("Username"):
            by_name.setdefault(user["Username"].lower(), user)
        if user.get("Email"):
            by_mail.setdefault(user["Email"].lower(), []).append(user)
    found, unknown, ambiguous = [], [], []
    for key in keys:
        user = by_name.get(key.lower())
        if user is None:
            candidates = by_mail.get(key.lower(), [])
            if len(candidates) > 1:
                ambiguous.append(key)
                continue
            user = candidates[0] if candidates else None
        if user is None:
            unknown.append(key)
        elif user not in found:
            found.append(user)
    if ambiguous:
        raise v.ValidationError("%s %s is the e-mail address of more than one user; give the login name instead." % (
            field, ", ".join(ambiguous)), field=field)
    if unknown and missing_ok:
        if skipped is not None:
            for key in unknown:
                if key.lower() not in [k.lower() for k in skipped]:
                    skipped.append(key)
    elif unknown:
        pool = list(by_name) + list(by_mail)
        parts = []
        for key in unknown:
            matches = v.close_matches(key, pool, cutoff=0.85)  # addresses share their domain: only near misses
            parts.append("%s (close matches: %s)" % (key, ", ".join(matches)) if matches else "%s (no close match)" % key)
        raise v.ValidationError("Unknown %s: no Practice Protect user has the login name or e-mail %s. Invite or create the user first "
                                "(pp_user)." % ("user" if len(unknown) == 1 else "users", "; ".join(parts)), field=field)
    return found


def copyable_roles(held, provisioning_roles, excluded=()):
    """The roles ``copy_from`` gives a joiner, and those it leaves out with the reason.

    ``held``: the template user's roles (``{"Name", "AdministrativeRights"}``). Never copied: Everybody (implicit), a role
    whose members an application provisions (outbound provisioning would then create or change the joiner's account in
    that application), a role that carries administrative rights, and ``excluded``. Name such a role explicitly
    (``role``) to give it. Returns ``(names, {name: reason})``."""
    provisioning = set(r.lower() for r in provisioning_roles)
    excluded = set(r.lower() for r in excluded)
    names, skipped = [], {}
    for role in held:
        name = role.get("Name")
        if not name or name == EVERYBODY or name in names:
            continue
        if name.lower() in provisioning:
            skipped[name] = "drives outbound provisioning"
        elif role.get("AdministrativeRights"):
            skipped[name] = "administrative (%s)" % ", ".join(role["AdministrativeRights"])
        elif name.lower() in excluded:
            skipped[name] = "in copy_exclude"
        else:
            names.append(name)
    return names, skipped


def provisioning_role_names(applications):
    """Roles that drive an application's outbound provisioning: Practice Protect maps a provisioning application (the
    Office 365 app) to the role of the same name."""
    return [app.get("Name") for app in applications if app.get("Name") and (app.get("ProvConfigured") or app.get("ProvSettingEnabled"))]


def target_roles(spec, roles, template_role_names=None):
    """The Role rows the members should be in (present) or out of (absent)."""
    targets = []
    if spec["role"]:
        role = resolve_role(spec["role"], roles)
        if role.get("Name") == EVERYBODY:
            raise v.ValidationError("Everybody holds every user implicitly and cannot be changed; choose another role.", field="role")
        targets.append(role)
    for name in template_role_names or []:
        if not name or name == EVERYBODY:
            continue  # never touch Everybody
        role = resolve_role(name, roles, field="copy_from")
        if role not in targets:
            targets.append(role)
    return targets


def plan_membership(spec, targets, current_members, resolved, users_by_id):
    """Plan per role. ``current_members``: role id -> member rows (Guid, Name, Type) of GetRoleMembers; ``resolved``:
    ``{"add": [user rows], "remove": [...], "set": [...] or None}``, the members option's users.

    ``add`` and ``remove`` apply to every target role (with ``all_roles``, the roles the members hold), ``set`` to
    ``role`` only. Returns ``{calls, added: {role: [names]}, removed: {...}, before: {role: [names]}, after: {...},
    removal_limit}``. Raises RemovalRefused when more users would be removed than ``max_removals`` (before any write).
    """
    plan = {"calls": [], "added": {}, "removed": {}, "before": {}, "after": {}}
    removals, held = [], set()
    for role in targets:
        rows = current_members.get(role["ID"], [])
        users_now = [r["Guid"] for r in rows if (r.get("Type") or "User") == "User"]
        held.update(users_now)
        exact = resolved["set"] is not None and spec["role"] and role is targets[0]
        change = _model.ListChange({"add": [u["ID"] for u in resolved["add"]], "remove": [u["ID"] for u in resolved["remove"]],
                                    "set": [u["ID"] for u in resolved["set"]] if exact else None}, "members", key=lambda uid: uid)
        add, delete = change.plan(users_now)

        def name_of(uid):
            user = users_by_id.get(uid)
            if user:
                return user["Username"]
            return next((r.get("Name") for r in rows if r["Guid"] == uid), uid)

        plan["before"][role["Name"]] = sorted(name_of(uid) for uid in users_now)
        plan["after"][role["Name"]] = sorted(name_of(uid) for uid in change.after(users_now))
        if add:
            plan["added"][role["Name"]] = sorted(name_of(uid) for uid in add)
        if delete:
            plan["removed"][role["Name"]] = sorted(name_of(uid) for uid in delete)
            removals.extend(name_of(uid) for uid in delete)
        if add or delete:
            users = {}
            if add:
                users["Add"] = add
            if delete:
                users["Delete"] = delete
            plan["calls"].append({"op": "members", "endpoint": "update_role", "role": role["Name"], "body": {"Name": role["ID"], "Users": users},
                                  "fields": ["Name", "Users." + "/".join(sorted(users))]})
    # The limit counts people: a leaver taken out of eight roles is one removal.
    where = "role %s" % targets[0]["Name"] if len(targets) == 1 else "%d roles" % len(targets)
    if not removals:
        plan["removal_limit"] = _model.removal_limit(spec["max_removals"], len(held), MAX_REMOVALS)[0]
        return plan
    plan["removal_limit"] = _model.check_removals(sorted(set(removals)), spec["max_removals"], len(held), MAX_REMOVALS, "users", where)
    return plan


def public_calls(plan):
    from ansible_collections.practiceprotect.m365.plugins.module_utils._practice_protect import ENDPOINTS
    return [{"op": c["op"], "method": "POST", "path": ENDPOINTS[c["endpoint"]], "role": c["role"], "fields": c["fields"]} for c in plan["calls"]]


def apply(client, plan):
    for call in plan["calls"]:
        client.call(call["endpoint"], call["body"])
