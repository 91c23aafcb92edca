# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offboarding decided in Python: the engine behind the offboard_user role and the ``offboard`` action.

Plain Python with no Ansible import (see ``_joiners`` for the shape). The order keeps mail safe and is the same for
everyone of the play at once, each step one module run with ``items``:

1. checks, reads and check-mode plans only: the leaver is a user of the tenant, forwarding, full access and the
   automatic reply can be given, the switches do not contradict each other; and what the run will take away (licences,
   roles, authentication methods, mobile devices, forwarding rules) or set.
2. the leaver record written with the user (``_records``): what this offboarding takes away or sets, merged with what
   an earlier run recorded, so that onboarding the person again restores them from any machine. Nothing else is done
   for a leaver whose record could not be written.
3. sign-in blocked, the password scrambled (once: a password changed since the record was first written counts as
   scrambled), and only then the sessions revoked, so that no session outlives the last password event;
4. the other ways in closed: authentication methods removed, the mailbox's mobile devices removed, and inbox rules that
   forward or redirect outside the tenant disabled and listed - before any forwarding of this run is set up; then the
   person taken out of every group the collection may change (dynamic, on-premises-synced and role-assignable groups are
   left, and named);
5. Practice Protect roles removed, and a federated leaver's Practice Protect account disabled;
6. the automatic reply, while the mailbox is still the person's and before the licences go;
7. the mailbox converted to shared, and confirmed shared by Exchange;
8. only then the licences removed (a leaver with a mailbox that is not confirmed shared keeps them);
9. forwarding, full access, hidden from the address lists;
10. soft delete (never together with a kept mailbox);
11. outbound sync for federated leavers whose roles changed or who could still sign in.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _people, _records
from ansible_collections.practiceprotect.m365.plugins.plugin_utils._people import CHECKS, active

PREFIX = "offboard_"
RESERVED = ("offboard_result", "offboard_user_run", "offboard_hosts")

RECORD = "record"
BLOCK = "block"
ACCESS = "access"
GROUPS = "groups"
AUTO_REPLY = "auto_reply"
PP_ROLES = "pp_roles"
PP_ACCOUNT = "pp_account"
SHARED = "shared"
LICENCES = "licences"
MAILBOX = "mailbox"
DELETE = "delete"
SYNC = "sync"

TITLES = {
    CHECKS: "checks before the first write",
    RECORD: "leaver record",
    BLOCK: "sign-in, password and sessions",
    ACCESS: "authentication methods, mobile devices and forwarding rules",
    GROUPS: "Microsoft 365 groups",
    AUTO_REPLY: "automatic reply",
    PP_ROLES: "Practice Protect roles",
    PP_ACCOUNT: "Practice Protect account",
    SHARED: "shared mailbox",
    LICENCES: "licences",
    MAILBOX: "forwarding, full access and address lists",
    DELETE: "soft delete",
    SYNC: "outbound sync",
}

# The modules' options and the variables behind them (the offboarding playbook hands person keys to the role).
PERSON_FIELDS = {"forwarding_address": "person.forward_to (offboard_forward_to)",
                 "full_access.add": "person.full_access_to (offboard_full_access_to)"}
# Sub-step titles of the access step in each leaver's report.
METHODS_TITLE, DEVICES_TITLE, RULES_TITLE = "authentication methods", "mobile devices", "forwarding rules"


def auto_reply_option(o):
    """The m365_mailbox ``auto_reply`` of a leaver's role variables (None when the step is off); ValidationError naming the
    variable for a reply without text or a schedule that cannot be."""
    if not o.get("offboard_auto_reply"):
        return None
    internal = (o.get("offboard_auto_reply_internal") or "").strip()
    if not internal:
        raise v.ValidationError("offboard_auto_reply is on but offboard_auto_reply_internal is empty; give the text colleagues get (the "
                                "external reply defaults to it)", field="offboard_auto_reply_internal")
    option = {"internal_message": internal, "external_audience": o.get("offboard_auto_reply_audience") or "all"}
    external = (o.get("offboard_auto_reply_external") or "").strip()
    if external:
        option["external_message"] = external
    start, end = (o.get("offboard_auto_reply_start") or "").strip(), (o.get("offboard_auto_reply_end") or "").strip()
    if bool(start) != bool(end):
        raise v.ValidationError("offboard_auto_reply_start and offboard_auto_reply_end go together: give both for a scheduled reply, or "
                                "neither for one that starts now and stays on", field="offboard_auto_reply_start")
    if start:
        times = {}
        for name, text in (("offboard_auto_reply_start", start), ("offboard_auto_reply_end", end)):
            times[name] = v.parse_time(text)
            if times[name] is None:
                raise v.ValidationError("%s %r is not a time with its zone; write it like 2026-12-24T17:00:00+11:00" % (name, text), field=name)
        if times["offboard_auto_reply_end"] <= times["offboard_auto_reply_start"]:
            raise v.ValidationError("offboard_auto_reply_end (%s) is not after offboard_auto_reply_start (%s); give an end after the start"
                                    % (end, start), field="offboard_auto_reply_end")
        option.update(start=start, end=end)
    return option


def access_item(person):
    """The m365_access item of a leaver (None when every access switch is off or there is nothing to close)."""
    item = {"user": person.upn, "max_removals": "100%"}
    if switch(person, "offboard_remove_auth_methods"):
        item["authentication_methods"] = {"set": []}
    if person.facts.get("has_mailbox", True):
        if switch(person, "offboard_remove_mobile_devices"):
            item["mobile_devices"] = {"set": []}
        if switch(person, "offboard_disable_forwarding_rules"):
            item["disable_external_forwarding_rules"] = True
    return item if len(item) > 2 else None


def scrambles(person):
    """Whether the leaver's password is scrambled: switched on, for a leaver whose Microsoft 365 password is theirs
    (a federated leaver signs in with the Practice Protect account, which is disabled instead)."""
    return switch(person, "offboard_scramble_password") and person.deployment != "federated"


def describe(person):
    o = person.options
    upn = (o.get("offboard_upn") or "").strip().lower()
    person.upn = upn or person.host
    person.deployment = o.get("offboard_deployment") or "entra_source"
    try:
        v.validate_upn(upn, "user")
    except v.ValidationError as exc:
        raise v.ValidationError(exc.message.replace("user", "offboard_upn (person.upn)", 1), field="upn")
    if o.get("offboard_soft_delete") and o.get("offboard_convert_to_shared", True):
        raise v.ValidationError(
            "offboard_soft_delete deletes the user and with it the mailbox that offboard_convert_to_shared keeps. Keep the shared mailbox "
            "(offboard_soft_delete false), or set offboard_convert_to_shared false if the mail is not kept", field="offboard_soft_delete")
    forward = (o.get("offboard_forward_to") or "").strip()
    full_access = [a.strip() for a in o.get("offboard_full_access_to") or [] if a and a.strip()]
    mailbox_item = {"user": upn}
    if forward:
        mailbox_item.update(forwarding_address=forward, forwarding_keep_copy=bool(o.get("offboard_forward_keep_copy", True)))
    if full_access:
        mailbox_item["full_access"] = {"add": full_access}
    if o.get("offboard_hide_from_address_lists", True):
        mailbox_item["hidden_from_address_lists"] = True
    block = {"user": upn, "revoke_sessions": bool(o.get("offboard_revoke_sessions", True))}
    if o.get("offboard_block_sign_in", True):
        block["account_enabled"] = False
    auto_reply = auto_reply_option(o)
    person.spec = {"upn": upn, "block_item": block, "mailbox_item": mailbox_item, "forward_to": forward, "full_access": full_access,
                   "auto_reply": auto_reply}


def _comparable(record):
    """A record without its time, to tell whether a run adds anything to it."""
    return dict((k, val) for k, val in (record or {}).items() if k != "at")


def switch(person, name, default=True):
    value = person.options.get(name)
    return default if value is None else bool(value)


class Offboarding(_people.Flow):
    """One run of offboarding for the leavers of a play batch (see the module docstring for the order)."""

    done_word = "offboarded"
    titles = TITLES

    def __init__(self, people, runner, check_mode=False, now=None):
        super(Offboarding, self).__init__(people, runner, check_mode)
        self.now = now or (lambda: "")

    def run(self):
        for person in self.people:
            if person.failed:  # the role variables themselves are wrong: nothing else is read into them
                person.upn = str(person.options.get("offboard_upn") or person.host).strip().lower()
            else:
                try:
                    describe(person)
                except v.ValidationError as exc:
                    person.fail(CHECKS, TITLES[CHECKS], exc.message)
            person.facts.update(sign_in_blocked=False, sessions_revoked=False, password_scrambled=False, auth_methods_removed=[],
                                mobile_devices_removed=[], forwarding_rules_disabled=[], groups_removed=[], pp_roles_removed=[], auto_reply="unchanged",
                                mailbox="none", licenses_removed=[], mail_safe=False, soft_deleted=False, sync="not needed")
        self.check()
        self.record()
        self.block()
        self.access()
        self.groups()
        self.pp_roles()
        self.auto_reply()
        self.shared()
        self.licences()
        self.mailbox()
        self.delete()
        self.sync()
        return self.people

    # 1. checks --------------------------------------------------------------------------------------------------------

    def check(self):
        # (duplicates: opens as the joiner engine's check() does; the checks that follow are the leavers' own)
        people = active(self.people)
        if not people:
            return
        result = self.module("m365_user_info", {"users": [p.upn for p in people], "extensions": [_records.EXTENSION],
                                                "select": ["id", "userPrincipalName", "accountEnabled", "mail", "assignedLicenses"]}, check=True)
        if result.get("failed"):
            for person in people:
                person.fail(CHECKS, TITLES[CHECKS], "reading the leavers from Microsoft 365 failed: %s" % result.get("msg"))
            return
        found = dict(((u.get("userPrincipalName") or "").lower(), u) for u in result.get("users") or [])
        for person in people:
            user = found.get(person.upn)
            if user is None:
                person.fail(CHECKS, TITLES[CHECKS], "%s is not a user of this Microsoft 365 tenant; check the UPN" % person.upn)
                continue
            person.facts["enabled"] = user.get("accountEnabled") is not False
            person.facts["has_mailbox"] = bool(user.get("mail"))
            person.facts["has_licences"] = bool(user.get("assignedLicenses"))
            activation, record = _records.decode((user.get("extensions") or {}).get(_records.EXTENSION))
            person.facts["activation"] = activation
            person.facts["record_before"] = record

        # What the mailbox steps would do (refused forwarding or full access stops the leaver here), and how it is now.
        def mailbox_check(p):
            item = dict(p.spec["mailbox_item"], type="shared") if switch(p, "offboard_convert_to_shared") else dict(p.spec["mailbox_item"])
            if p.spec["auto_reply"]:
                item["auto_reply"] = p.spec["auto_reply"]
            return item

        with_mailbox = [p for p in active(self.people) if p.facts.get("has_mailbox")]
        for person, outcome in self.items("m365_mailbox", with_mailbox, mailbox_check, CHECKS, check=True).items():
            person.facts["mailbox_before"] = outcome.get("mailbox_before") or {}
            person.facts["auto_reply_changes"] = bool(person.spec["auto_reply"]) and (outcome.get("mailbox") or {}).get("auto_reply") != (
                outcome.get("mailbox_before") or {}).get("auto_reply")
        _people.name_fields(with_mailbox, PERSON_FIELDS)
        # What closing the ways in would remove and disable (for the record; an unknown user or a refusal stops the leaver here).
        closing = [p for p in active(self.people) if access_item(p)]
        for person, outcome in self.items("m365_access", closing, access_item, CHECKS, check=True).items():
            person.facts["access_plan"] = outcome
        # The groups the person would be taken out of, by object id (for the record: a rehire goes back into them).
        grouped = [p for p in active(self.people) if switch(p, "offboard_remove_groups")]
        for person, outcome in self.items("m365_group_member", grouped, group_item, CHECKS, check=True).items():
            person.facts["groups_held"] = removed_groups(outcome)
        # What would be taken away, for the leaver record: the licences (planned with the mail guard off, since a plan
        # writes nothing and the conversion comes first) and the Practice Protect roles.
        licensed = [p for p in active(self.people) if p.facts.get("has_licences") and switch(p, "offboard_remove_licenses")]

        def plan_licences(person):
            return {"user": person.upn, "licenses": {"set": []}, "max_removals": "100%", "allow_mail_loss": True}

        for person, outcome in self.items("m365_user", licensed, plan_licences, CHECKS, check=True).items():
            person.facts["licences_held"] = outcome.get("licenses_removed") or []
        roles = [p for p in active(self.people) if switch(p, "offboard_remove_pp_roles")]
        if roles:
            result = self.module("pp_role_member", {"all_roles": True, "members": {"remove": [p.upn for p in roles]}, "max_removals": "100%"}, check=True)
            for person in roles:
                if result.get("failed"):
                    person.fail(CHECKS, TITLES[CHECKS], "reading the Practice Protect roles failed: %s" % result.get("msg"))
                    continue
                person.facts["roles_held"] = sorted(role for role, names in (result.get("removed") or {}).items()
                                                    if person.upn in [n.lower() for n in names])

    # 2. the leaver record ------------------------------------------------------------------------------------------------

    def record(self):
        people = active(self.people)
        for person in people:
            before = person.facts.get("mailbox_before") or {}
            closing = person.facts.get("access_plan") or {}
            new = _records.leaver_record(
                at=self.now(), deployment=person.deployment, licences=person.facts.get("licences_held"), roles=person.facts.get("roles_held"),
                forward_to=person.spec["forward_to"], full_access=person.spec["full_access"],
                blocked=switch(person, "offboard_block_sign_in") and person.facts.get("enabled"),
                shared=bool(before) and switch(person, "offboard_convert_to_shared") and before.get("type") != "shared",
                hidden=bool(before) and switch(person, "offboard_hide_from_address_lists") and not before.get("hidden_from_address_lists"),
                pp_disabled=person.deployment == "federated",
                scrambled=scrambles(person) and not (person.facts.get("record_before") or {}).get("scrambled"),
                auto_reply=bool(person.facts.get("auto_reply_changes")),
                auth_methods=[m.get("kind") for m in closing.get("authentication_methods_removed") or []],
                rules_disabled=[r.get("id") for r in closing.get("forwarding_rules_disabled") or []],
                groups=[g["id"] for g in person.facts.get("groups_held") or []])
            person.facts["record"] = _records.merge(person.facts.get("record_before"), new)
        changing = [p for p in people if _comparable(p.facts["record"]) != _comparable(p.facts.get("record_before"))]
        outcomes = self.items("m365_user", changing, lambda p: {
            "user": p.upn,
            "extensions": {_records.EXTENSION: _records.encode(p.facts.get("activation"), p.facts["record"])}}, RECORD)
        for person in outcomes:
            person.note(TITLES[RECORD], self.would("kept with the user", "would be kept with the user"), changed=True)

    # 3. sign-in -------------------------------------------------------------------------------------------------------

    def block(self):
        people = [p for p in active(self.people, RECORD)
                  if switch(p, "offboard_block_sign_in") or switch(p, "offboard_revoke_sessions") or scrambles(p)]

        def block_item(person):
            item = dict(person.spec["block_item"])
            if scrambles(person):
                # Once: a password changed at or after the leaver record's first write is this offboarding's (or newer).
                item.update(scramble_password=True, password_changed_since=person.facts["record"].get("at") or self.now())
            return item

        for person, outcome in self.items("m365_user", people, block_item, BLOCK).items():
            blocked = switch(person, "offboard_block_sign_in")
            person.facts["sign_in_blocked"] = blocked
            person.facts["sessions_revoked"] = bool(outcome.get("sessions_revoked"))
            person.facts["password_scrambled"] = bool(outcome.get("password_scrambled")) or bool(
                scrambles(person) and (person.facts["record"] or {}).get("scrambled"))
            if outcome.get("changed"):
                what = []
                if blocked and person.facts.get("enabled"):
                    what.append(self.would("sign-in blocked", "would block sign-in"))
                if outcome.get("password_scrambled"):
                    what.append(self.would("password scrambled (nobody knows the new one)", "would scramble the password"))
                if outcome.get("sessions_revoked"):
                    what.append(self.would("sessions revoked", "would revoke sessions"))
                person.note(TITLES[BLOCK], ", ".join(what) or self.would("updated", "would update"), changed=True)

    # 4. the other ways in -------------------------------------------------------------------------------------------

    def access(self):
        people = [p for p in active(self.people, RECORD) if access_item(p)]
        for person, outcome in self.items("m365_access", people, access_item, ACCESS).items():
            methods = outcome.get("authentication_methods_removed") or []
            devices = outcome.get("mobile_devices_removed") or []
            rules = outcome.get("forwarding_rules_disabled") or []
            person.facts["auth_methods_removed"] = sorted(set(m.get("kind") for m in methods))
            person.facts["mobile_devices_removed"] = [d.get("name") for d in devices]
            person.facts["forwarding_rules_disabled"] = [{"name": r.get("name"), "to": r.get("to")} for r in rules]
            if methods:
                person.note(METHODS_TITLE, "%s %s" % (self.would("removed", "would remove"), ", ".join(
                    "%s%s" % (m.get("kind"), " (%s)" % m["detail"] if m.get("detail") else "") for m in methods)), changed=True)
            if devices:
                person.note(DEVICES_TITLE, "%s %s" % (self.would("removed", "would remove"), ", ".join(d.get("name") or "?" for d in devices)),
                            changed=True)
            if rules:
                person.note(RULES_TITLE, "%s %s" % (self.would("disabled", "would disable"), "; ".join(
                    "'%s' (to %s)" % (r.get("name"), ", ".join(r.get("to") or [])) for r in rules)), changed=True)
            for kept in outcome.get("forwarding_rules_kept") or []:
                person.note(RULES_TITLE, "kept '%s' (to %s): %s" % (kept.get("name"), ", ".join(kept.get("to") or []), kept.get("reason")))

    def groups(self):
        people = [p for p in active(self.people, RECORD) if switch(p, "offboard_remove_groups")]
        for person, outcome in self.items("m365_group_member", people, group_item, GROUPS).items():
            person.facts["groups_removed"] = [g["name"] for g in removed_groups(outcome)]
            if person.facts["groups_removed"]:
                person.note(TITLES[GROUPS], "%s %s" % (self.would("removed from", "would be removed from"), ", ".join(person.facts["groups_removed"])),
                            changed=True)
            for name, why in sorted((outcome.get("kept") or {}).items()):
                person.note(TITLES[GROUPS], "%s %s (%s: change it where the group is managed)" % (self.would("stays in", "would stay in"), name, why))

    # 6. the automatic reply ------------------------------------------------------------------------------------------

    def auto_reply(self):
        people = [p for p in active(self.people, RECORD) if p.spec["auto_reply"] and p.facts.get("has_mailbox")]
        items = self.items("m365_mailbox", people, lambda p: {"user": p.upn, "auto_reply": p.spec["auto_reply"]}, AUTO_REPLY)
        for person, outcome in items.items():
            reply = (outcome.get("mailbox") or {}).get("auto_reply") or {}
            person.facts["auto_reply"] = reply.get("state") or "unchanged"
            if outcome.get("changed"):
                when = " from %s to %s" % (reply.get("start"), reply.get("end")) if reply.get("state") == "scheduled" else ""
                person.note(TITLES[AUTO_REPLY], "%s%s" % (self.would("set", "would set"), when), changed=True)

    # 5. Practice Protect ----------------------------------------------------------------------------------------------

    def pp_roles(self):
        people = [p for p in active(self.people, RECORD) if switch(p, "offboard_remove_pp_roles")]
        if people:
            result = self.module("pp_role_member", {"all_roles": True, "members": {"remove": [p.upn for p in people]}, "max_removals": "100%"})
            for person in people:
                if result.get("failed"):
                    person.fail(PP_ROLES, TITLES[PP_ROLES], result.get("msg"))
                    continue
                removed = sorted(role for role, names in (result.get("removed") or {}).items() if person.upn in [n.lower() for n in names])
                person.facts["pp_roles_removed"] = removed
                if removed:
                    person.note(TITLES[PP_ROLES], "%s %s" % (self.would("removed from", "would be removed from"), ", ".join(removed)), changed=True)
        # A federated leaver's Practice Protect account is the account: disabled, not only taken out of its roles.
        federated = [p for p in active(self.people, RECORD) if p.deployment == "federated"]
        for person, outcome in self.items("pp_user", federated, lambda p: {"user": p.upn, "source": "cloud", "enabled": False},
                                          PP_ACCOUNT).items():
            if outcome.get("changed"):
                person.note(TITLES[PP_ACCOUNT], self.would("disabled", "would be disabled"), changed=True)

    # 7-8. mail first, then licences ------------------------------------------------------------------------------

    def shared(self):
        people = [p for p in active(self.people, RECORD) if p.facts.get("has_mailbox") and switch(p, "offboard_convert_to_shared")]
        timeout = max([int(p.options.get("offboard_shared_timeout") or 900) for p in people] or [900])
        for person, outcome in self.items("m365_mailbox", people, lambda p: {"user": p.upn, "type": "shared"}, SHARED, wait_timeout=timeout).items():
            mailbox = outcome.get("mailbox") or {}
            shown = mailbox.get("recipient_type_details")
            if self.check_mode:
                safe = mailbox.get("type") == "shared"
                person.facts["mailbox"] = "would convert to shared" if outcome.get("changed") else (shown or "shared")
            else:
                safe = shown == "SharedMailbox"
                person.facts["mailbox"] = shown or "unchanged"
            person.facts["mail_safe"] = safe
            if outcome.get("changed"):
                person.note(TITLES[SHARED], "would convert to shared" if self.check_mode else "converted, Exchange shows %s" % shown, changed=True)

    def licences(self):
        people = []
        for person in active(self.people, RECORD):
            if not person.facts.get("has_mailbox"):
                person.facts["mail_safe"] = True  # no mailbox, no mail to keep
            if not switch(person, "offboard_remove_licenses"):
                continue
            if person.facts.get("mail_safe"):
                people.append(person)
            elif not person.blocked(SHARED):
                person.note(TITLES[LICENCES], "kept, because the mailbox is not shared (offboard_convert_to_shared is off)")
        # m365_user refuses to take a regular mailbox's last licence; a plan (check mode) comes before the conversion it counts
        # on, so only a plan may skip that guard.

        def licences_item(person):
            item = {"user": person.upn, "licenses": {"set": []}, "max_removals": "100%"}
            if self.check_mode:
                item["allow_mail_loss"] = True
            return item

        for person, outcome in self.items("m365_user", people, licences_item, LICENCES).items():
            removed = outcome.get("licenses_removed") or []
            person.facts["licenses_removed"] = removed
            if removed:
                person.note(TITLES[LICENCES], "%s %s" % (self.would("removed", "would remove"), ", ".join(removed)), changed=True)

    # 9-11 -------------------------------------------------------------------------------------------------------------

    def mailbox(self):
        people = [p for p in active(self.people, RECORD) if p.facts.get("has_mailbox") and len(p.spec["mailbox_item"]) > 1]
        for person, outcome in self.items("m365_mailbox", people, lambda p: p.spec["mailbox_item"], MAILBOX).items():
            if outcome.get("changed"):
                mailbox = outcome.get("mailbox") or {}
                person.note(TITLES[MAILBOX], "%sforwarding %s, full access %s, hidden %s" % (
                    "would set " if self.check_mode else "", mailbox.get("forwarding_address") or "none",
                    ", ".join(mailbox.get("full_access") or []) or "none", bool(mailbox.get("hidden_from_address_lists"))), changed=True)

    def delete(self):
        people = [p for p in active(self.people, RECORD) if switch(p, "offboard_soft_delete", False)]
        for person, outcome in self.items("m365_user", people, lambda p: {"user": p.upn, "state": "absent"}, DELETE).items():
            person.facts["soft_deleted"] = True
            if outcome.get("changed"):
                person.note(TITLES[DELETE], self.would("soft-deleted", "would be soft-deleted"), changed=True)

    def sync(self):
        people = [p for p in active(self.people, RECORD, PP_ROLES) if p.deployment == "federated" and switch(p, "offboard_sync")
                  and (p.facts.get("pp_roles_removed") or p.facts.get("enabled"))]
        if not people:
            return
        timeout = max(int(p.options.get("offboard_sync_timeout") or 900) for p in people)
        result = self.module("outbound_sync", {"users": [p.upn for p in people], "timeout": timeout, "fail_on_user_errors": False})
        for person in people:
            if result.get("failed"):
                person.fail(SYNC, TITLES[SYNC], result.get("msg"))
                continue
            person.facts["sync"] = result.get("summary") or {}
            failure = next((f for f in result.get("failures") or [] if (f.get("User") or "").lower() == person.upn), None)
            if failure:
                person.fail(SYNC, TITLES[SYNC], "%s - %s" % (failure.get("Reason"), failure.get("Message") or ""))
            elif result.get("changed"):
                person.note(TITLES[SYNC], self.would("the sync ran", "would run the sync"), changed=True)


def group_item(person):
    """Out of every group the collection may change: ``set`` to none, with no removal limit (a leaver keeps no group)."""
    return {"user": person.upn, "groups": {"set": []}, "max_removals": "100%"}


def removed_groups(outcome):
    """``[{id, name}]`` of the groups an m365_group_member outcome took (or would take) the person out of."""
    out = []
    for call in outcome.get("plan") or []:
        if call.get("action") == "remove" and call.get("group_id") and call["group_id"] not in [g["id"] for g in out]:
            out.append({"id": call["group_id"], "name": call.get("group")})
    return out


def result_fact(person):
    """The ``offboard_result`` fact of a leaver's host."""
    facts = person.facts
    return {"upn": person.upn, "deployment": person.deployment, "sign_in_blocked": facts.get("sign_in_blocked"),
            "sessions_revoked": facts.get("sessions_revoked"), "password_scrambled": facts.get("password_scrambled"),
            "auth_methods_removed": facts.get("auth_methods_removed"), "mobile_devices_removed": facts.get("mobile_devices_removed"),
            "forwarding_rules_disabled": facts.get("forwarding_rules_disabled"), "groups_removed": facts.get("groups_removed"),
            "auto_reply": facts.get("auto_reply"),
            "pp_roles_removed": facts.get("pp_roles_removed"), "mailbox": facts.get("mailbox"),
            "licenses_removed": facts.get("licenses_removed"), "mail_safe": facts.get("mail_safe"), "soft_deleted": facts.get("soft_deleted"),
            "sync": facts.get("sync")}
