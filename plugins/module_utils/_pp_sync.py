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

The job API (``JOB_PATHS``) is UNCONFIRMED: no public client or document shows the vendor's endpoints (reference
sections 8 and 11), so the paths are this project's contract, overridable per task (``job_paths``), and the module can do
without them: changing a role's membership triggers the sync, and the scheduled sync runs anyway, so ``mode: wait`` makes no
job call and waits until Microsoft 365 shows the users as expected (``wait_expectations``, ``wait_state``), and ``mode: auto``
falls back to it when the tenant has no such endpoint (``no_job_api``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import re
import uuid

from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._pp_users import parse_proxy_addresses

GRAPH_SELECT = "id,userPrincipalName,displayName,accountEnabled,proxyAddresses,onPremisesImmutableId"
VERIFY_SELECT = "id,userPrincipalName,accountEnabled,proxyAddresses,assignedLicenses,assignedPlans,onPremisesImmutableId"
COUNTED = ("Created", "Updated", "Disabled", "Deleted")

# The outbound-provisioning job API, in one table: UNCONFIRMED. These are this project's own contract (reference section
# 11), which the sandbox serves; a real tenant's endpoints are in its /vfslow/lib/api/swagger.json or the portal's network
# requests (reference section 8). outbound_sync's job_paths option overrides them per task.
JOB_PATHS = {
    "start": "/Provisioning/StartSync",     # {"AppKey", "Users"?} -> {"JobId"}
    "status": "/Provisioning/GetJobStatus",  # {"JobId"} -> the job status object
}
JOB_WRITE_RIGHTS = {JOB_PATHS["start"]: "Application Management"}  # docs/permissions.md; the status read needs any admin right
FINAL_JOB_STATES = ("Succeeded", "CompletedWithErrors", "Failed")
# The answers that mean "this tenant has no such endpoint", on which mode auto waits for Microsoft 365 instead: an HTTP
# status, or a business error whose message says the method is unknown. UNCONFIRMED: the real platform's answer to an
# unknown path (the sandbox answers 404).
NO_JOB_API_STATUSES = (404, 405, 501)
NO_JOB_API_MESSAGE = re.compile(r"\bunknown (api|method|service)\b|\bno such (api|method)\b|\bmethod .*\b(not found|unknown)\b", re.I)


def job_paths(given):
    """JOB_PATHS with the ``job_paths`` option's entries; ValidationError for an unknown key or a value that is not a path."""
    paths = dict(JOB_PATHS)
    for key, value in (given or {}).items():
        if key not in JOB_PATHS:
            raise v.ValidationError("job_paths: %s is not a job endpoint; give %s." % (key, " and ".join(sorted(JOB_PATHS))), field="job_paths")
        if not isinstance(value, str) or not value.startswith("/") or " " in value:
            raise v.ValidationError("job_paths.%s must be a path on the tenant's host, such as %s." % (key, JOB_PATHS[key]), field="job_paths")
        paths[key] = value
    return paths


def no_job_api(error):
    """Whether a failed job call (a PracticeProtectError) says the tenant has no such endpoint."""
    if error.status in NO_JOB_API_STATUSES:
        return True
    return error.status == 200 and bool(NO_JOB_API_MESSAGE.search(error.message or ""))


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


# -- mode wait: Microsoft 365, the source of truth ---------------------------------------------------------------------------

def wait_expectations(user_ids, scope_ids, users_by_id, proxy_values):
    """What Microsoft 365 should show once the sync ran, for each cloud-directory user of ``user_ids``: UPN ->
    ``{"present": wanted proxy addresses}`` for a user in the scope, ``{"left": anchor}`` for one outside it (the sync
    disables the Microsoft 365 user it anchored to them). Source-directory users live in Microsoft 365 already."""
    in_scope = set(scope_ids)
    out = {}
    for user_id in user_ids:
        user = users_by_id.get(user_id)
        if user is None or (user.get("SourceDsType") or "CDS") != "CDS":
            continue
        if user_id in in_scope:
            out[user["Username"]] = {"present": parse_proxy_addresses(proxy_values.get(user_id))}
        else:
            out[user["Username"]] = {"left": anchor_of(user_id)}
    return out


def wait_state(expected, graph_users, skus_by_id):
    """(results, pending) for ``wait_expectations``: users in scope as ``verify_state`` sees them; a user who left the scope
    is done when Microsoft 365 has no user of that UPN anchored to them, or shows it blocked from signing in."""
    present = dict((upn, e["present"]) for upn, e in expected.items() if "present" in e)
    results, pending = verify_state(present, graph_users, skus_by_id)
    by_upn = dict(((g.get("userPrincipalName") or "").lower(), g) for g in graph_users)
    for upn in sorted((u for u, e in expected.items() if "left" in e), key=str.lower):
        graph_user = by_upn.get(upn.lower())
        anchored = graph_user is not None and graph_user.get("onPremisesImmutableId") == expected[upn]["left"]
        results.append({"user_principal_name": upn, "exists": graph_user is not None, "left_scope": True,
                        "account_enabled": graph_user.get("accountEnabled") if graph_user else None})
        if anchored and graph_user.get("accountEnabled") is not False:
            pending.append("%s (still enabled: the sync disables users who left the scope)" % upn)
    results.sort(key=lambda r: r["user_principal_name"].lower())
    return results, pending
