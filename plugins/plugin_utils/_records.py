# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the collection keeps with a person in the tenant, so that any machine (a laptop, another AWX node) can go on.

Both live in one Graph open extension of the Microsoft 365 user, ``EXTENSION`` (Graph allows an app two per user and
2 KB each, and replaces all its properties on every write, so the writer always sends both):

- ``activation: pending`` - this account was created with a password that has not reached the person yet. Written with
  the account (m365_user writes a new user's extensions right after creating it) and removed once the activation mail
  went out. A re-run that finds it gives the person a fresh password and mails it again.
- ``leaver`` - the leaver record, written by offboarding before its first write: what offboarding takes away or sets
  (licences, Practice Protect roles, Microsoft 365 groups (by object id), forwarding, full-access grants, whether it blocked, converted or hid, scrambled the
  password or set an automatic reply, the kinds of authentication method removed, the forwarding rules disabled), so that
  onboarding the same person again restores them and undoes the rest. Kept as a JSON string.

A federated joiner's account is their Practice Protect cloud user, which exists before Microsoft 365 shows them: its
pending marker is the Practice Protect user's description, ``PP_MARKER``, set in the same CreateUser call.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

EXTENSION = "com.practiceprotect.m365"
PENDING = "pending"
PP_MARKER = "practiceprotect.m365: activation mail pending"
RECORD_VERSION = 1
LIST_KEYS = ("licences", "roles", "full_access", "auth_methods", "rules_disabled", "groups")
FLAG_KEYS = ("blocked", "shared", "hidden", "pp_disabled", "scrambled", "auto_reply")


def decode(properties):
    """``(activation, record)`` from the extension's properties (``None`` and ``{}`` when absent or unreadable)."""
    properties = properties or {}
    record = properties.get("leaver")
    if isinstance(record, str):
        try:
            record = json.loads(record)
        except ValueError:
            record = None
    return properties.get("activation"), record if isinstance(record, dict) else {}


def encode(activation=None, record=None):
    """The extension's properties, or None when there is nothing left to keep (the extension is then removed)."""
    properties = {}
    if activation:
        properties["activation"] = activation
    if record:
        properties["leaver"] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return properties or None


def merge(old, new):
    """A leaver record that keeps what an earlier offboarding run recorded: lists are united, flags kept once set, the
    first forwarding address and time kept. A re-run of offboarding finds nothing left to remove and must not forget
    what the first run removed."""
    if not old:
        return dict(new)
    out = dict(old)
    for key in LIST_KEYS:
        out[key] = sorted(set(old.get(key) or []) | set(new.get(key) or []))
    for key in FLAG_KEYS:
        out[key] = bool(old.get(key) or new.get(key))
    out["forward_to"] = old.get("forward_to") or new.get("forward_to") or ""
    out["at"] = old.get("at") or new.get("at")
    out["deployment"] = old.get("deployment") or new.get("deployment")
    out["v"] = RECORD_VERSION
    return out


def leaver_record(at, deployment, licences, roles, forward_to, full_access, blocked, shared, hidden, pp_disabled, scrambled=False,
                  auto_reply=False, auth_methods=None, rules_disabled=None, groups=None):
    """What one offboarding run takes away or sets. ``scrambled``: the password was scrambled (a rehire needs a new one);
    ``auto_reply``: the run set an automatic reply (a rehire's is switched off); ``auth_methods``: the kinds of authentication
    method removed (the person registers again); ``rules_disabled``: the ids of the inbox rules disabled for forwarding
    outside the tenant (left disabled for a rehire, listed so that they can be looked at); ``groups``: the object ids of the
    groups the person was taken out of (a rehire is put back into those that still exist)."""
    return {"v": RECORD_VERSION, "at": at, "deployment": deployment, "licences": sorted(set(licences or [])), "roles": sorted(set(roles or [])),
            "forward_to": forward_to or "", "full_access": sorted(set(a.lower() for a in full_access or [])), "blocked": bool(blocked),
            "shared": bool(shared), "hidden": bool(hidden), "pp_disabled": bool(pp_disabled), "scrambled": bool(scrambled),
            "auto_reply": bool(auto_reply), "auth_methods": sorted(set(k for k in auth_methods or [] if k)),
            "rules_disabled": sorted(set(r for r in rules_disabled or [] if r)), "groups": sorted(set(g for g in groups or [] if g))}
