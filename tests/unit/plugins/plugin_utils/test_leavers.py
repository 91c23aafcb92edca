# -*- coding: utf-8 -*-
"""The offboarding engine (plugins/plugin_utils/_leavers.py) with a fake runner: the leaver record before the first
write, the safe order, a federated leaver's Practice Protect account, honest check mode; the password scrambled once, the
other ways in closed, the automatic reply and the forwarding rules in the report."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

import pytest

from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _leavers, _people, _records

DOMAIN = "northwindacct.com"
DEFAULTS = {"offboard_deployment": "entra_source", "offboard_block_sign_in": True, "offboard_revoke_sessions": True,
            "offboard_remove_pp_roles": True, "offboard_convert_to_shared": True, "offboard_remove_licenses": True, "offboard_forward_to": "",
            "offboard_forward_keep_copy": True, "offboard_full_access_to": [], "offboard_hide_from_address_lists": True,
            "offboard_soft_delete": False, "offboard_sync": True, "offboard_shared_timeout": 900, "offboard_sync_timeout": 900,
            "offboard_scramble_password": True, "offboard_remove_auth_methods": True, "offboard_remove_mobile_devices": True,
            "offboard_disable_forwarding_rules": True, "offboard_auto_reply": False, "offboard_auto_reply_internal": "",
            "offboard_auto_reply_external": "", "offboard_auto_reply_audience": "all", "offboard_auto_reply_start": "",
            "offboard_auto_reply_end": ""}
REPLY = {"offboard_auto_reply": True, "offboard_auto_reply_internal": "Tom has left; please contact Sarah Jones."}


def leaver(host, **options):
    return _people.Person(host, dict(DEFAULTS, offboard_upn="%s@%s" % (host, DOMAIN), **options))


class Tenant:
    def __init__(self):
        self.users = {}
        self.calls = []
        self.fail = {}
        self.check_mode = False
        self.shows_shared = True

    def add(self, name, **fields):
        user = {"enabled": True, "licences": ["O365_BUSINESS_PREMIUM"], "mail": True, "shared": False, "hidden": False, "roles": ["Tax Team"],
                "extension": None, "pp_enabled": True, "password_changed": "2024-06-17T22:05:10Z", "auto_reply": None,
                "methods": ["phone", "microsoftAuthenticator"], "devices": ["Tom's iPhone"],
                "rules": [{"id": "r1", "name": "Forward to my Gmail", "to": ["tom@gmail.com"], "enabled": True}],
                "groups": [{"id": "g-tax", "name": "Tax Announcements"}, {"id": "g-client", "name": "Client Services"}],
                "kept_groups": {"Licensed Staff": "dynamic membership"}}
        user.update(fields)
        self.users["%s@%s" % (name, DOMAIN)] = user
        return user

    def module(self, name, args, check=None, no_log=False):
        short = name.rsplit(".", 1)[-1]
        check = bool(check) or self.check_mode
        self.calls.append((short, check, copy.deepcopy(args)))
        if short in self.fail:
            return {"failed": True, "msg": self.fail[short]}
        return getattr(self, short)(args, check)

    def items(self, args, key, plan):
        out = dict((i[key].lower(), plan(self.users[i[key].lower()], i)) for i in args["items"])
        return {"outcomes": out}

    def m365_user_info(self, args, check):
        users = []
        for upn in args["users"]:
            user = self.users.get(upn)
            if user:
                users.append({"userPrincipalName": upn, "accountEnabled": user["enabled"], "mail": upn if user["mail"] else None,
                              "assignedLicenses": [{"skuId": x} for x in user["licences"]],
                              "extensions": {_records.EXTENSION: user["extension"]} if user["extension"] else {}})
        return {"users": users}

    def m365_mailbox(self, args, check):
        def plan(user, item):
            before = {"type": "shared" if user["shared"] else "regular", "hidden_from_address_lists": user["hidden"],
                      "recipient_type_details": "SharedMailbox" if user["shared"] else "UserMailbox"}
            after = dict(before)
            if item.get("type") == "shared":
                after.update(type="shared", recipient_type_details="SharedMailbox" if (check or self.shows_shared) else "UserMailbox")
                if not check:
                    user["shared"] = self.shows_shared
            if item.get("hidden_from_address_lists") and not check:
                user["hidden"] = True
            if "auto_reply" in item:
                before["auto_reply"] = user["auto_reply"] or {"state": "disabled"}
                reply = item["auto_reply"]
                after["auto_reply"] = {"state": "scheduled" if reply.get("start") else "enabled", "start": reply.get("start"), "end": reply.get("end"),
                                       "internal_message": reply["internal_message"]}
                if not check:
                    user["auto_reply"] = after["auto_reply"]
            return {"changed": after != before or "forwarding_address" in item, "mailbox": after, "mailbox_before": before}
        return self.items(args, "user", plan)

    def m365_access(self, args, check):
        def plan(user, item):
            methods = list(user["methods"]) if "authentication_methods" in item else []
            devices = list(user["devices"]) if "mobile_devices" in item else []
            rules = [dict(r) for r in user["rules"] if r["enabled"]] if item.get("disable_external_forwarding_rules") else []
            if not check:
                user["methods"] = [m for m in user["methods"] if m not in methods]
                user["devices"] = [d for d in user["devices"] if d not in devices]
                for rule in user["rules"]:
                    if rule in rules:
                        rule["enabled"] = False
            return {"changed": bool(methods or devices or rules), "authentication_methods_removed": [{"kind": m, "detail": ""} for m in methods],
                    "mobile_devices_removed": [{"name": d} for d in devices], "forwarding_rules_disabled": rules, "forwarding_rules_kept": []}
        return self.items(args, "user", plan)

    def m365_group_member(self, args, check):
        def plan(user, item):
            assert item["groups"] == {"set": []} and item["max_removals"] == "100%"
            calls = [{"service": "graph", "action": "remove", "group": g["name"], "group_id": g["id"]} for g in user["groups"]]
            if not check:
                user["groups"] = []
            return {"changed": bool(calls), "plan": calls, "removed": [c["group"] for c in calls], "kept": dict(user["kept_groups"])}
        return self.items(args, "user", plan)

    def m365_user(self, args, check):
        def plan(user, item):
            out = {"changed": False, "licenses_removed": []}
            if (item.get("licenses") or {}).get("set") == [] and user["licences"]:
                out.update(changed=True, licenses_removed=list(user["licences"]))
                if not check:
                    user["licences"] = []
            if item.get("account_enabled") is False and user["enabled"]:
                out["changed"] = True
                if not check:
                    user["enabled"] = False
            if "extensions" in item and item["extensions"][_records.EXTENSION] != user["extension"]:
                out["changed"] = True
                if not check:
                    user["extension"] = item["extensions"][_records.EXTENSION]
            if item.get("scramble_password") and user["password_changed"] < item["password_changed_since"]:
                out.update(changed=True, password_scrambled=True, sessions_revoked=bool(item.get("revoke_sessions")))
                if not check:
                    user["password_changed"] = NOW
            return out
        return self.items(args, "user", plan)

    def pp_role_member(self, args, check):
        removed = {}
        assert args["all_roles"] and args["max_removals"] == "100%"
        for upn in args["members"]["remove"]:
            for role in self.users[upn]["roles"]:
                removed.setdefault(role, []).append(upn)
            if not check:
                self.users[upn]["roles"] = []
        return {"removed": removed}

    def pp_user(self, args, check):
        def plan(user, item):
            changed = user["pp_enabled"] and item.get("enabled") is False
            if changed and not check:
                user["pp_enabled"] = False
            return {"changed": changed}
        return self.items(args, "user", plan)

    def outbound_sync(self, args, check):
        return {"changed": True, "summary": {"Disabled": len(args["users"])}, "failures": []}

    def writes(self):
        return [(name, args) for name, check, args in self.calls if not check and name != "m365_user_info"]


NOW = "2026-12-07T10:00:00+00:00"


def run(people, tenant, check_mode=False):
    tenant.check_mode = check_mode
    _leavers.Offboarding(people, tenant, check_mode=check_mode, now=lambda: NOW).run()
    return dict((p.host, p) for p in people)


def test_the_leaver_record_is_written_before_anything_is_taken_away():
    tenant = Tenant()
    tom = tenant.add("tom")
    done = run([leaver("tom", offboard_forward_to="sarah.jones@northwindacct.com", offboard_full_access_to=["Sarah.Jones@northwindacct.com"])], tenant)
    assert not done["tom"].failed
    first = tenant.writes()[0]
    assert first[0] == "m365_user" and "extensions" in first[1]["items"][0]
    _, record = _records.decode(tom["extension"])
    assert record["licences"] == ["O365_BUSINESS_PREMIUM"] and record["roles"] == ["Tax Team"]
    assert record["forward_to"] == "sarah.jones@northwindacct.com" and record["full_access"] == ["sarah.jones@northwindacct.com"]
    assert record["blocked"] and record["shared"] and record["hidden"] and not record["pp_disabled"]
    order = [(name, sorted(args["items"][0])) for name, args in tenant.writes() if args.get("items")]
    names = [name for name, _ in tenant.writes()]
    assert names.index("m365_mailbox") < [i for i, (n, keys) in enumerate(order) if "licenses" in keys][0] + 1


def test_a_rerun_keeps_what_the_first_run_recorded():
    tenant = Tenant()
    tom = tenant.add("tom")
    run([leaver("tom")], tenant)
    first = _records.decode(tom["extension"])[1]
    tenant.calls = []
    again = run([leaver("tom")], tenant)
    assert not again["tom"].changed
    assert _records.decode(tom["extension"])[1] == first  # nothing left to take, nothing forgotten
    assert not [args for name, args in tenant.writes() if name == "m365_user" and "extensions" in args["items"][0]]


def test_licences_stay_when_exchange_does_not_show_the_mailbox_shared():
    tenant = Tenant()
    tom = tenant.add("tom")
    tenant.shows_shared = False
    done = run([leaver("tom")], tenant)
    assert tom["licences"] == ["O365_BUSINESS_PREMIUM"]
    assert not [args for name, args in tenant.writes() if name == "m365_user" and "licenses" in args["items"][0]]
    assert done["tom"].facts["mail_safe"] is False


def test_a_federated_leavers_practice_protect_account_is_disabled():
    tenant = Tenant()
    mia = tenant.add("mia")
    done = run([leaver("mia", offboard_deployment="federated"), leaver("tom")], tenant.add("tom") and tenant)
    assert mia["pp_enabled"] is False and tenant.users["tom@northwindacct.com"]["pp_enabled"] is True
    assert any(text == "disabled" for title, text in done["mia"].notes if title == _leavers.TITLES[_leavers.PP_ACCOUNT])
    assert [name for name, _ in tenant.writes()][-1] == "outbound_sync"


def test_check_mode_writes_nothing_and_never_says_done():
    tenant = Tenant()
    tenant.add("tom")
    done = run([leaver("tom")], tenant, check_mode=True)
    assert tenant.writes() == []
    assert done["tom"].facts["mailbox"] == "would convert to shared"
    for _, text in done["tom"].notes:
        assert text.startswith("would"), text
    assert _people.outcome_text(done["tom"], "offboarded", True) == "tom@northwindacct.com: would be offboarded"


def test_a_failed_record_stops_that_leaver_only():
    tenant = Tenant()
    tenant.add("tom")
    tenant.add("zoe")
    real = tenant.m365_user

    def refuse_tom(args, check):
        if not check and "extensions" in args["items"][0]:
            result = real(args, check)
            result["outcomes"]["tom@northwindacct.com"] = {"failed": True, "msg": "Insufficient privileges"}
            return result
        return real(args, check)
    tenant.m365_user = refuse_tom
    done = run([leaver("tom"), leaver("zoe")], tenant)
    assert done["tom"].failures[0][0] == _leavers.RECORD and tenant.users["tom@northwindacct.com"]["enabled"]
    assert not done["zoe"].failed and not tenant.users["zoe@northwindacct.com"]["enabled"]


def test_a_leaver_who_is_not_a_user_is_refused():
    tenant = Tenant()
    done = run([leaver("ghost")], tenant)
    assert "is not a user of this Microsoft 365 tenant" in done["ghost"].failures[0][2]
    assert tenant.writes() == []


def test_every_step_in_the_safe_order_and_in_the_report():
    tenant = Tenant()
    tom = tenant.add("tom")
    done = run([leaver("tom", offboard_forward_to="sarah.jones@northwindacct.com", **REPLY)], tenant)["tom"]
    assert not done.failed
    steps = []
    for name, args in tenant.writes():
        item = (args.get("items") or [{}])[0]
        if name == "m365_user" and "extensions" in item:
            steps.append("record")
        elif name == "m365_user" and item.get("scramble_password"):
            assert item["password_changed_since"] == NOW and item["account_enabled"] is False and item["revoke_sessions"] is True
            steps.append("block, scramble, revoke")
        elif name == "m365_access":
            assert item == {"user": "tom@northwindacct.com", "max_removals": "100%", "authentication_methods": {"set": []},
                            "mobile_devices": {"set": []}, "disable_external_forwarding_rules": True}
            steps.append("access")
        elif name == "m365_mailbox" and "auto_reply" in item:
            steps.append("auto reply")
        elif name == "m365_mailbox" and item.get("type") == "shared":
            steps.append("shared")
        elif name == "m365_user" and "licenses" in item:
            steps.append("licences")
        elif name == "m365_mailbox" and "forwarding_address" in item:
            steps.append("forwarding")
    assert steps == ["record", "block, scramble, revoke", "access", "auto reply", "shared", "licences", "forwarding"]
    assert tom["methods"] == [] and tom["devices"] == [] and tom["rules"][0]["enabled"] is False and tom["auto_reply"]["state"] == "enabled"
    fact = _leavers.result_fact(done)
    assert fact["password_scrambled"] is True and fact["auth_methods_removed"] == ["microsoftAuthenticator", "phone"]
    assert fact["mobile_devices_removed"] == ["Tom's iPhone"] and fact["auto_reply"] == "enabled"
    assert fact["forwarding_rules_disabled"] == [{"name": "Forward to my Gmail", "to": ["tom@gmail.com"]}]
    notes = dict(done.notes)
    assert notes["forwarding rules"] == "disabled 'Forward to my Gmail' (to tom@gmail.com)"
    assert notes[_leavers.TITLES[_leavers.BLOCK]] == "sign-in blocked, password scrambled (nobody knows the new one), sessions revoked"
    _, record = _records.decode(tom["extension"])
    assert record["scrambled"] and record["auto_reply"] and record["auth_methods"] == ["microsoftAuthenticator", "phone"]
    assert record["rules_disabled"] == ["r1"]


def test_a_rerun_of_every_step_changes_nothing_and_keeps_the_record():
    tenant = Tenant()
    tom = tenant.add("tom")
    run([leaver("tom", **REPLY)], tenant)
    first = _records.decode(tom["extension"])[1]
    tenant.calls = []
    again = run([leaver("tom", **REPLY)], tenant)["tom"]
    assert not again.changed and not again.failed, again.notes
    assert _records.decode(tom["extension"])[1] == first
    assert _leavers.result_fact(again)["password_scrambled"] is True  # done by the first run, from the record


def test_check_mode_plans_the_new_steps_and_writes_nothing():
    tenant = Tenant()
    tenant.add("tom")
    done = run([leaver("tom", **REPLY)], tenant, check_mode=True)["tom"]
    assert tenant.writes() == []
    notes = dict(done.notes)
    assert notes["authentication methods"] == "would remove phone, microsoftAuthenticator"
    assert notes["forwarding rules"].startswith("would disable") and notes[_leavers.TITLES[_leavers.AUTO_REPLY]] == "would set"
    assert "would scramble the password" in notes[_leavers.TITLES[_leavers.BLOCK]]


def test_each_new_step_switches_off():
    tenant = Tenant()
    tom = tenant.add("tom")
    run([leaver("tom", offboard_scramble_password=False, offboard_remove_auth_methods=False, offboard_remove_mobile_devices=False,
                offboard_disable_forwarding_rules=False)], tenant)
    assert [name for name, _ in tenant.writes() if name == "m365_access"] == []
    assert not [args for name, args in tenant.writes() if name == "m365_user" and args["items"][0].get("scramble_password")]
    assert tom["methods"] and tom["devices"] and tom["rules"][0]["enabled"] and tom["auto_reply"] is None


def test_a_federated_leavers_password_is_left_to_practice_protect():
    tenant = Tenant()
    mia = tenant.add("mia")
    done = run([leaver("mia", offboard_deployment="federated")], tenant)["mia"]
    assert not [args for name, args in tenant.writes() if name == "m365_user" and args["items"][0].get("scramble_password")]
    assert mia["methods"] == [] and done.facts["password_scrambled"] is False


def test_a_leaver_without_a_mailbox_has_only_methods_removed():
    tenant = Tenant()
    tenant.add("kim", mail=False)
    run([leaver("kim", **REPLY)], tenant)
    items = [args["items"][0] for name, args in tenant.writes() if name == "m365_access"]
    assert items == [{"user": "kim@northwindacct.com", "max_removals": "100%", "authentication_methods": {"set": []}}]
    assert not [args for name, args in tenant.writes() if name == "m365_mailbox"]


@pytest.mark.parametrize("options, message", [
    ({"offboard_auto_reply": True}, "offboard_auto_reply is on but offboard_auto_reply_internal is empty; give the text colleagues get "
                                    "(the external reply defaults to it)"),
    (dict(REPLY, offboard_auto_reply_start="2027-01-31T17:00:00+11:00", offboard_auto_reply_end="2026-12-24T17:00:00+11:00"),
     "offboard_auto_reply_end (2026-12-24T17:00:00+11:00) is not after offboard_auto_reply_start (2027-01-31T17:00:00+11:00); give an end "
     "after the start"),
    (dict(REPLY, offboard_auto_reply_start="2026-12-24T17:00:00+11:00"),
     "offboard_auto_reply_start and offboard_auto_reply_end go together: give both for a scheduled reply, or neither for one that starts now "
     "and stays on"),
    (dict(REPLY, offboard_auto_reply_start="24/12/2026", offboard_auto_reply_end="2027-01-31T17:00:00Z"),
     "offboard_auto_reply_start '24/12/2026' is not a time with its zone; write it like 2026-12-24T17:00:00+11:00"),
])
def test_a_bad_automatic_reply_is_refused_before_any_write(options, message):
    tenant = Tenant()
    tenant.add("tom")
    done = run([leaver("tom", **options)], tenant)["tom"]
    assert done.failures == [(_people.CHECKS, _leavers.TITLES[_people.CHECKS], message)]
    assert tenant.writes() == []


def test_a_leaver_leaves_every_group_it_may_change_and_the_record_keeps_them_for_a_rehire():
    tenant = Tenant()
    tom = tenant.add("tom")
    done = run([leaver("tom")], tenant)
    assert tom["groups"] == [] and done["tom"].facts["groups_removed"] == ["Tax Announcements", "Client Services"]
    _, record = _records.decode(tom["extension"])
    assert record["groups"] == ["g-client", "g-tax"]
    notes = dict((text.split(" ", 1)[0], text) for title, text in done["tom"].notes if title == _leavers.TITLES[_leavers.GROUPS])
    assert notes["removed"] == "removed from Tax Announcements, Client Services"
    assert notes["stays"] == "stays in Licensed Staff (dynamic membership: change it where the group is managed)"
    # The record is written before the groups go: a re-run finds no group left and keeps what the first run recorded.
    names = [name for name, _ in tenant.writes()]
    assert names.index("m365_user") < names.index("m365_group_member")
    run([leaver("tom")], tenant)
    assert _records.decode(tom["extension"])[1]["groups"] == ["g-client", "g-tax"]


def test_groups_are_left_alone_when_switched_off():
    tenant = Tenant()
    tom = tenant.add("tom")
    run([leaver("tom", offboard_remove_groups=False)], tenant)
    assert len(tom["groups"]) == 2 and not [c for c in tenant.calls if c[0] == "m365_group_member"]
    assert _records.decode(tom["extension"])[1]["groups"] == []
