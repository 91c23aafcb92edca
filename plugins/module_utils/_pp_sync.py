# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Outbound provisioning (outbound_sync): the preview, the job report and the Microsoft 365 read-back.

Plain Python, reachable by unit tests without Ansible.

The preview compares the app's scope in Practice Protect (the user members of its provisioning roles) with the
Graph tenant the way the provisioning job does:

- a user in scope with no Microsoft 365 user of the same UPN would be created;
- one whose display name differs, that is blocked from signing in, that lacks the anchor, or whose proxy addresses
  (from the proxyAddresses attribute) Microsoft 365 does not show yet, would be updated;
- a Microsoft 365 user anchored to a Practice Protect user outside the scope would be disabled;
- a Microsoft 365 user of the same UPN anchored to another identity is a conflict the job reports as a failure.

The anchor is ``onPremisesImmutableId``: base64 of the Practice Protect user's UUID in little-endian (.NET) byte
order, the form directory synchronisation uses. UNCONFIRMED for Practice Protect itself: compare it with a user the
platform provisioned (``GET /users/{upn}?$select=onPremisesImmutableId``) before relying on the disable preview.
Licences are not previewed: the app's licence settings are not readable through the API.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import uuid

from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._pp_users import parse_proxy_addresses

GRAPH_SELECT = "id,userPrincipalName,displayName,accountEnabled,proxyAddresses,onPremisesImmutableId"
VERIFY_SELECT = "id,userPrincipalName,accountEnabled,proxyAddresses,assignedLicenses,assignedPlans"
COUNTED = ("Created", "Updated", "Disabled", "Deleted")


def anchor_of(user_id):
    return base64.b64encode(uuid.UUID(user_id).bytes_le).decode("ascii")


def user_of_anchor(value):
    if not value:
        return None
    try:
        raw = base64.b64decode(value)
    except (ValueError, TypeError):
        return None
    if len(raw) != 16:
        return None
    return str(uuid.UUID(bytes_le=raw))


def addresses_applied(wanted, actual):
    """True when ``actual`` (Graph proxyAddresses) holds every wanted address and the wanted primary is primary."""
    actual = actual or []
    have = set(a.split(":", 1)[-1].lower() for a in actual)
    if any(w.split(":", 1)[-1].lower() not in have for w in wanted):
        return False
    primary = [w for w in wanted if w.startswith("SMTP:")]
    return not primary or any(a.startswith("SMTP:") and a[5:].lower() == primary[0][5:].lower() for a in actual)


def resolve_app(name, apps):
    """The Application row named ``name``, with outbound provisioning configured and enabled."""
    found = [a for a in apps if (a.get("Name") or "").lower() == name.lower() or (a.get("DisplayName") or "").lower() == name.lower()]
    if not found:
        names = [a.get("Name") for a in apps]
        matches = v.close_matches(name, names)
        provisioning = sorted(a["Name"] for a in apps if a.get("ProvConfigured"))
        raise v.ValidationError("Unknown application %r.%s Applications with outbound provisioning: %s." % (
            name, (" Close matches: %s." % ", ".join(matches)) if matches else "", ", ".join(provisioning) or "none"), field="app")
    app = found[0]
    if not app.get("ProvCapable") or not app.get("ProvConfigured"):
        raise v.ValidationError("Application %s has no outbound provisioning configured. Configure it in the Admin Portal "
                                "(Apps > %s > Provisioning) first." % (app["Name"], app["Name"]), field="app")
    if not app.get("ProvSettingEnabled"):
        raise v.ValidationError("Outbound provisioning is configured but not enabled for %s. Enable it in the Admin Portal "
                                "(Apps > %s > Provisioning) first." % (app["Name"], app["Name"]), field="app")
    return app


def scope_user_ids(members_by_role):
    """User ids (in order, without repeats) of the user members of the scope roles."""
    out = []
    for rows in members_by_role:
        for row in rows:
            if (row.get("Type") or "User") == "User" and row.get("Guid") not in out:
                out.append(row["Guid"])
    return out


def preview(scope_ids, users_by_id, proxy_values, graph_users, subset_ids=None):
    """What the job would do. ``users_by_id``: Redrock User rows; ``proxy_values``: user id -> attribute value;
    ``graph_users``: every Microsoft 365 user (GRAPH_SELECT). Returns lists of UPNs and changes."""
    out = {"create": [], "update": [], "disable": [], "unchanged": [], "conflicts": []}
    by_upn = dict(((g.get("userPrincipalName") or "").lower(), g) for g in graph_users)
    for user_id in scope_ids:
        if subset_ids is not None and user_id not in subset_ids:
            continue
        user = users_by_id.get(user_id)
        if user is None:
            continue
        upn = user["Username"]
        if (user.get("SourceDsType") or "CDS") != "CDS":
            out["unchanged"].append(upn)  # a source-directory user already lives in Microsoft 365
            continue
        graph_user = by_upn.get(upn.lower())
        if graph_user is None:
            out["create"].append(upn)
            continue
        anchor = graph_user.get("onPremisesImmutableId")
        if anchor and anchor != anchor_of(user_id):
            out["conflicts"].append(upn)
            continue
        changes = []
        if user.get("DisplayName") and graph_user.get("displayName") != user["DisplayName"]:
            changes.append("displayName")
        if graph_user.get("accountEnabled") is False:
            changes.append("accountEnabled")
        if not anchor:
            changes.append("onPremisesImmutableId")
        wanted = parse_proxy_addresses(proxy_values.get(user_id))
        if wanted and not addresses_applied(wanted, graph_user.get("proxyAddresses")):
            changes.append("proxyAddresses")
        if changes:
            out["update"].append({"user": upn, "changes": changes})
        else:
            out["unchanged"].append(upn)
    in_scope = set(scope_ids)
    for graph_user in graph_users:
        owner = user_of_anchor(graph_user.get("onPremisesImmutableId"))
        if owner is None or owner in in_scope or (subset_ids is not None and owner not in subset_ids):
            continue
        if graph_user.get("accountEnabled") is not False:
            out["disable"].append(graph_user["userPrincipalName"])
    for key in ("create", "disable", "unchanged", "conflicts"):
        out[key] = sorted(out[key], key=lambda s: s.lower())
    out["update"] = sorted(out["update"], key=lambda item: item["user"].lower())
    return out


def preview_changed(result):
    return bool(result["create"] or result["update"] or result["disable"])


def job_changed(job):
    summary = (job or {}).get("Summary") or {}
    return any(int(summary.get(key) or 0) > 0 for key in COUNTED)


def describe_failures(failures, limit=10):
    parts = []
    for failure in failures[:limit]:
        message = (failure.get("Message") or "no message").rstrip(".")
        if failure.get("User"):
            parts.append("%s: %s (%s)" % (failure["User"], message, failure.get("Reason") or "Failed"))
        else:
            parts.append("%s (%s)" % (message, failure.get("Reason") or "Failed"))
    more = len(failures) - limit
    return "; ".join(parts) + ("; and %d more" % more if more > 0 else "")


def job_problem(app_name, job):
    """The failure sentence for a final job, or None when the job and every user succeeded."""
    state = job.get("State")
    failures = job.get("Failures") or []
    if state == "Failed":
        return "The outbound provisioning job %s for %s failed: %s." % (job.get("JobId"), app_name, describe_failures(failures) or "no reason given")
    if failures:
        return "Outbound provisioning for %s finished with %d user failure%s: %s." % (
            app_name, len(failures), "" if len(failures) == 1 else "s", describe_failures(failures))
    return None


def has_mailbox_plan(graph_user):
    """Whether the user holds an enabled Exchange service plan (only then does Exchange give it its addresses)."""
    return any((plan.get("service") or "").lower() == "exchange" and plan.get("capabilityStatus") == "Enabled"
               for plan in graph_user.get("assignedPlans") or [])


def verify_state(expected, graph_users, skus_by_id):
    """``expected``: UPN -> wanted proxy address list. Returns (results, pending UPNs with the reason)."""
    by_upn = dict(((g.get("userPrincipalName") or "").lower(), g) for g in graph_users)
    results, pending = [], []
    for upn in sorted(expected, key=str.lower):
        wanted = expected[upn]
        graph_user = by_upn.get(upn.lower())
        if graph_user is None:
            results.append({"user_principal_name": upn, "exists": False})
            pending.append("%s (not in Microsoft 365)" % upn)
            continue
        licences = sorted((skus_by_id.get((lic.get("skuId") or "").lower()) or {}).get("skuPartNumber") or lic.get("skuId")
                          for lic in graph_user.get("assignedLicenses") or [])
        mailbox = has_mailbox_plan(graph_user)
        applied = addresses_applied(wanted, graph_user.get("proxyAddresses")) if wanted else True
        results.append({"user_principal_name": upn, "id": graph_user["id"], "exists": True,
                        "account_enabled": graph_user.get("accountEnabled"), "licenses": licences,
                        "proxy_addresses": graph_user.get("proxyAddresses") or [], "addresses_applied": applied,
                        "mailbox_licence": mailbox})
        if graph_user.get("accountEnabled") is False:
            pending.append("%s (blocked from signing in)" % upn)
        elif wanted and mailbox and not applied:
            pending.append("%s (proxy addresses not applied yet)" % upn)
    return results, pending
