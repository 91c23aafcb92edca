# -*- coding: utf-8 -*-
"""The offboarding engine (plugins/plugin_utils/_leavers.py) with a fake runner: the leaver record before the first
write, the safe order, a federated leaver's Practice Protect account, honest check mode."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _leavers, _people, _records

DOMAIN = "northwindacct.com"
DEFAULTS = {"offboard_deployment": "entra_source", "offboard_block_sign_in": True, "offboard_revoke_sessions": True,
            "offboard_remove_pp_roles": True, "offboard_convert_to_shared": True, "offboard_remove_licenses": True, "offboard_forward_to": "",
            "offboard_forward_keep_copy": True, "offboard_full_access_to": [], "offboard_hide_from_address_lists": True,
            "offboard_soft_delete": False, "offboard_sync": True, "offboard_shared_timeout": 900, "offboard_sync_timeout": 900}


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
                "extension": None, "pp_enabled": True}
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
            return {"changed": after != before or "forwarding_address" in item, "mailbox": after, "mailbox_before": before}
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


def run(people, tenant, check_mode=False):
    tenant.check_mode = check_mode
    _leavers.Offboarding(people, tenant, check_mode=check_mode, now=lambda: "2026-12-07T10:00:00+00:00").run()
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
