# -*- coding: utf-8 -*-
"""The onboarding engine (plugins/plugin_utils/_joiners.py) on tables of scenarios, with a fake runner: what each step
takes, who is refused before the first write, what each person's outcome is, and that a failed step stops only what
depends on it."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json

import pytest

from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _joiners, _people, _records

DOMAIN = "northwindacct.com"
DEFAULTS = {
    "onboard_deployment": "entra_source", "onboard_default_licenses": ["O365_BUSINESS_PREMIUM"], "onboard_usage_location": "AU",
    "onboard_phone_region": "AU", "onboard_office365_role": "Office 365", "onboard_pp_roles": [], "onboard_password_delivery": "email",
    "onboard_password_recipient": "manager", "onboard_mail_sender": "it@%s" % DOMAIN, "onboard_mail_subject": "Your new account",
    "onboard_sync_timeout": 900, "onboard_mailbox_timeout": 900, "onboard_verify": True,
}
WRITES = ("m365_user", "m365_alias", "m365_mailbox", "m365_send_mail", "pp_user", "pp_role_member", "outbound_sync", "m365_group_member")


def person(host, deployment="entra_source", **fields):
    data = {"upn": "%s@%s" % (host, DOMAIN), "manager": "sarah.jones@%s" % DOMAIN}
    data.update(fields)
    options = dict(DEFAULTS, onboard_deployment=deployment, onboard_person=data)
    return _people.Person(host, options)


class Tenant:
    """Just enough of a tenant for the engine: who exists where, and what each module run would answer."""

    def __init__(self):
        self.m365 = {}        # upn -> {"enabled", "licences", "mail", "extension"}
        self.pp = {}          # upn -> {"roles", "description", "enabled"}
        self.holders = {}     # address -> [holder]
        self.accepted = [DOMAIN, "northwindacct.onmicrosoft.com"]
        self.roles = {"Office 365", "Portal Access", "Tax Team"}
        self.fail = {}        # module -> whole-run failure message; (module, upn) -> item failure message
        self.calls = []       # (module, check, args)
        self.mails = []
        self.sync_failures = {}
        self.groups = {"tax team": "Tax Team", "clientservices@northwindacct.com": "Client Services", "tax announcements": "Tax Announcements",
                       "g-client": "Client Services", "g-tax": "Tax Announcements"}
        self.members = {}     # upn -> [group names]
        self.template_groups = {"tom@northwindacct.com": ["Tax Team", "Tax Announcements"]}

    # -- the runner ---------------------------------------------------------------------------------------------------

    def module(self, name, args, check=None, no_log=False):
        short = name.rsplit(".", 1)[-1]
        check = bool(check) or self.check_mode  # None: the task's own check mode, as the action plugin's runner does
        self.calls.append((short, check, copy.deepcopy(args)))
        if short in self.fail:
            return {"failed": True, "msg": self.fail[short]}
        self.current = short
        return getattr(self, short)(args, check)

    check_mode = False
    current = None

    def _items(self, args, key, plan):
        outcomes = {}
        for item in args["items"]:
            name = item[key].lower()
            problem = self.fail.get((self.current, name))
            outcomes[name] = {"failed": True, "msg": problem} if problem else plan(item)
        return {"outcomes": outcomes, "changed": any(o.get("changed") for o in outcomes.values())}

    def m365_user(self, args, check):
        def plan(item):
            upn = item["user"].lower()
            if ("m365_user", upn) in self.fail:
                return {"failed": True, "msg": self.fail[("m365_user", upn)]}
            user = self.m365.get(upn)
            licences = item.get("licenses") or {}
            wanted = licences.get("set") if licences.get("set") is not None else licences.get("add") or []
            fields = []
            if user is None:
                if item.get("state") == "absent":
                    return {"changed": False, "action": "none", "plan": []}
                if not check:
                    self.m365[upn] = {"enabled": True, "licences": list(wanted), "mail": upn,
                                      "extension": (item.get("extensions") or {}).get(_records.EXTENSION)}
                out = {"changed": True, "action": "create", "plan": [{"op": "create", "fields": ["userPrincipalName"]}],
                       "user": {"licenses": list(wanted)}}
                if item.get("return_password", args.get("return_password")) and not check:
                    out["password"] = "Generated-%s-1!" % upn.split("@")[0]
                return out
            if item.get("account_enabled") is True and not user["enabled"]:
                fields.append("accountEnabled")
            if item.get("account_enabled") is False and user["enabled"]:
                fields.append("accountEnabled")
            add = [lic for lic in wanted if lic not in user["licences"]]
            removed = [lic for lic in user["licences"] if lic not in wanted] if licences.get("set") is not None else []
            if add or removed:
                fields.append("addLicenses")
            if item.get("password"):
                fields.append("passwordProfile")
            if "extensions" in item and item["extensions"].get(_records.EXTENSION) != user.get("extension"):
                fields.append(_records.EXTENSION)
            if fields and not check:
                if "accountEnabled" in fields:
                    user["enabled"] = item["account_enabled"]
                user["licences"] = [lic for lic in user["licences"] if lic not in removed] + add
                if "extensions" in item:
                    user["extension"] = item["extensions"].get(_records.EXTENSION)
            return {"changed": bool(fields), "action": "update" if fields else "none", "plan": [{"op": "update", "fields": fields}] if fields else [],
                    "user": {"licenses": user["licences"]}, "licenses_removed": removed}
        return self._items(args, "user", plan)

    def m365_user_info(self, args, check):
        if args.get("member_of"):
            unknown = [g for g in args["member_of"] if g.lower() not in self.groups]
            if unknown:
                return {"failed": True, "field": "member_of", "msg": "member_of names no group of this tenant: %s." % unknown}
            return {"users": []}
        users = []
        for upn in args["users"]:
            user = self.m365.get(upn.lower())
            if user:
                found = {"userPrincipalName": upn, "id": "id-" + upn, "accountEnabled": user["enabled"], "mail": user["mail"]}
                if user.get("extension"):
                    found["extensions"] = {_records.EXTENSION: user["extension"]}
                users.append(found)
        return {"users": users}

    def m365_address_info(self, args, check):
        found = {}
        for address in args["addresses"]:
            domain = address.split("@")[1]
            holders = self.holders.get(address, []) + ([{"kind": "group", "id": "g"}] if address.lower() in self.groups else [])
            found[address] = {"domain": domain, "accepted": domain in self.accepted, "holders": holders}
        return {"accepted_domains": self.accepted, "addresses": found}

    def m365_alias(self, args, check):
        return self._items(args, "user", lambda item: {"changed": False, "added": []})

    def m365_mailbox(self, args, check):
        def plan(item):
            user = self.m365[item["user"].lower()]
            changed = item.get("type") == "regular" and user.get("shared")
            if changed and not check:
                user["shared"] = False
            if item.get("auto_reply") == {"enabled": False} and user.get("auto_reply"):
                changed = True
                if not check:
                    user["auto_reply"] = False
            return {"changed": bool(changed), "mailbox_before": {"type": "shared" if user.get("shared") else "regular"}}
        return self._items(args, "user", plan)

    def m365_send_mail(self, args, check):
        def plan(item):
            if not check:
                self.mails.append({"to": item["to"], "body": item["body"]})
            return {"changed": True, "sent": not check}
        return self._items(args, "label", plan)

    def pp_user(self, args, check):
        def plan(item):
            name = item["user"].lower()
            if ("pp_user", name) in self.fail:
                return {"failed": True, "msg": self.fail[("pp_user", name)]}
            user = self.pp.get(name)
            if user is None:
                if not check:
                    self.pp[name] = {"roles": set(), "description": item.get("description") or "", "enabled": True}
                out = {"changed": True, "action": "create" if item.get("source") == "cloud" else "invite"}
                if item.get("return_password", args.get("return_password")) and not check and item.get("source") == "cloud":
                    out["password"] = "Generated-pp-%s-1!" % name.split("@")[0]
                return out
            out = {"changed": False, "action": "none"}
            if item.get("description") is not None:
                out["description_before"] = user["description"]
                if user["description"] != item["description"]:
                    out.update(changed=True, action="update")
                    if not check:
                        user["description"] = item["description"]
            if item.get("enabled") is True and not user["enabled"]:
                out.update(changed=True, action="enable")
                if not check:
                    user["enabled"] = True
            if item.get("password"):
                out.update(changed=True, action="update")
            return out
        return self._items(args, "user", plan)

    def pp_role_member(self, args, check):
        if args.get("role") and args["role"] not in self.roles:
            return {"failed": True, "field": "role", "msg": "Unknown role %r." % args["role"]}
        if args.get("copy_from"):
            return {"added": {}, "copy_skipped": {"Office 365": "drives outbound provisioning"}}
        added, skipped = [], []
        for member in args["members"]["add"]:
            user = self.pp.get(member.lower())
            if user is None and args.get("skip_unknown_members"):
                skipped.append(member)
            if user is not None and args["role"] not in user["roles"]:
                added.append(member)
                if not check:
                    user["roles"].add(args["role"])
        return {"added": {args["role"]: added} if added else {}, "changed": bool(added), "skipped_members": skipped}

    def m365_group_member(self, args, check):
        def plan(item):
            upn = item["user"].lower()
            if upn not in self.m365:
                return {"failed": True, "msg": "user %s is not a user in this tenant" % upn}
            held = self.members.setdefault(upn, [])
            wanted = [self.groups[g.lower()] for g in (item.get("groups") or {}).get("add", [])]
            wanted += self.template_groups.get(item.get("copy_from"), [])
            added = [g for g in dict.fromkeys(wanted) if g not in held]
            if not check:
                held.extend(added)
            return {"changed": bool(added), "added": added, "copy_skipped": {"Licensed Staff": "dynamic membership"} if item.get("copy_from") else {}}
        return self._items(args, "user", plan)

    sync_licences = ("O365_BUSINESS_PREMIUM",)  # token-based provisioning assigns none

    def outbound_sync(self, args, check):
        verified = []
        for upn in args["users"]:
            if upn in self.sync_failures:
                continue
            self.m365.setdefault(upn, {"enabled": True, "licences": list(self.sync_licences), "mail": upn})
            verified.append({"user_principal_name": upn, "exists": True, "licenses": list(self.m365[upn]["licences"])})
        failures = [{"User": upn, "Reason": reason, "Message": ""} for upn, reason in self.sync_failures.items()]
        return {"changed": True, "failures": failures, "verified": verified, "summary": {}}

    # -- helpers ----------------------------------------------------------------------------------------------------------

    def writes(self):
        return [(name, args) for name, check, args in self.calls if not check and name in WRITES]


def run(people, tenant, check_mode=False):
    tenant.check_mode = check_mode
    _joiners.Onboarding(people, tenant, check_mode=check_mode, render_mail=lambda p: "password %s" % p.password).run()
    return dict((p.host, p) for p in people)


def test_a_failed_sync_fails_only_the_federated_joiners_and_the_others_are_complete():
    tenant = Tenant()
    tenant.fail["outbound_sync"] = "The Office 365 service account practiceprotect@northwindacct.onmicrosoft.com does not exist."
    done = run([person("jane"), person("mia", "federated")], tenant)
    assert not done["jane"].failed and done["jane"].changed
    assert done["mia"].failures[0][0] == _joiners.SYNC
    text = _people.outcome_text(done["mia"], "onboarded", False)
    assert "outbound provisioning to Microsoft 365" in text and "service account" in text and "relaunch on failed hosts" in text
    # Both got their activation mail before the sync could fail, and nobody's password is kept.
    assert sorted(m["to"][0] for m in tenant.mails) == ["sarah.jones@northwindacct.com"] * 2
    assert all(p.password is None for p in done.values())


def test_practice_protect_down_keeps_the_microsoft_365_work_and_its_mail():
    tenant = Tenant()
    tenant.fail["pp_user"] = "Cannot reach the service after retrying: connection refused"
    tenant.fail["pp_role_member"] = "Cannot reach the service after retrying: connection refused"
    done = run([person("jane", pp_roles=["Portal Access"]), person("mia", "federated")], tenant)
    jane = done["jane"]
    # The role check before any write reads Practice Protect: nobody with a role is written, and the message says why.
    assert jane.failed and jane.failures[0][0] == _people.CHECKS and "checking the role" in jane.failures[0][2]
    assert tenant.writes() == []
    # Without roles to check, the entra_source joiner is created, mailed, and fails only where Practice Protect is needed.
    tenant = Tenant()
    tenant.fail["pp_user"] = "Cannot reach the service after retrying: connection refused"
    done = run([person("jane")], tenant)
    jane = done["jane"]
    assert "jane@northwindacct.com" in tenant.m365 and len(tenant.mails) == 1
    assert [step for step, _, _ in jane.failures] == [_joiners.INVITE]


@pytest.mark.parametrize("setup, people, refused, why", [
    # an alias on a domain the tenant does not accept
    (lambda t: None, [person("jane", aliases=["jane@northwind-legacy.com"])], {"jane": "not an accepted domain"}, None),
    # an alias that is an unlicensed user's sign-in name (no mailbox, so not a proxy address)
    (lambda t: t.holders.update({"bob@northwindacct.com": [{"userPrincipalName": "bob@northwindacct.com", "displayName": "Bob", "id": "b"}]}),
     [person("jane", aliases=["bob@northwindacct.com"])], {"jane": "already belongs to Bob (bob@northwindacct.com)"}, None),
    # one joiner asks for another joiner's own address: the owner keeps it
    (lambda t: None, [person("jane", aliases=["oliver@northwindacct.com"]), person("oliver")],
     {"jane": "is the own address of oliver@northwindacct.com"}, "oliver"),
    # two joiners ask for an address that is nobody's own: both are refused
    (lambda t: None, [person("jane", aliases=["team@northwindacct.com"]), person("oliver", aliases=["team@northwindacct.com"])],
     {"jane": "asked for by oliver@northwindacct.com", "oliver": "asked for by jane@northwindacct.com"}, None),
    # a malformed sign-in name is named as the person's field
    (lambda t: None, [person("jane", upn="jane citizen@northwindacct.com")], {"jane": "person.upn 'jane citizen@northwindacct.com'"}, None),
    # an unknown role
    (lambda t: None, [person("jane", pp_roles=["Portal Acess"])], {"jane": "person.pp_roles (or onboard_pp_roles): Unknown role"}, None),
])
def test_refusals_come_before_any_write_and_name_the_field(setup, people, refused, why):
    tenant = Tenant()
    setup(tenant)
    done = run(people, tenant)
    for host, fragment in refused.items():
        assert done[host].failures[0][0] == _people.CHECKS, done[host].failures
        assert fragment in done[host].failures[0][2]
    refused_upns = set(done[host].upn for host in refused)
    for name, args in tenant.writes():
        for item in args.get("items") or []:
            key = item.get("user") or item.get("label") or ""
            assert key.lower() not in refused_upns, (name, item)
        assert not refused_upns & set(m.lower() for m in args.get("members") or []), name
    if why:
        assert not done[why].failed and why + "@northwindacct.com" in tenant.m365


def test_check_mode_writes_nothing_and_says_would():
    tenant = Tenant()
    done = run([person("jane"), person("mia", "federated")], tenant, check_mode=True)
    assert tenant.writes() == []
    assert all(check for _, check, _ in tenant.calls)
    assert _people.outcome_text(done["jane"], "onboarded", True) == "jane@northwindacct.com: would be onboarded"
    assert done["jane"].pending and any("would be created" in text for _, text in done["jane"].notes)
    # Nothing after the account's creation is planned for someone who does not exist yet.
    assert not [c for c in tenant.calls if c[0] == "m365_alias"]


def test_a_person_created_but_never_told_gets_a_new_password_and_mail():
    tenant = Tenant()
    tenant.m365["jane@northwindacct.com"] = {"enabled": True, "licences": ["O365_BUSINESS_PREMIUM"], "mail": "jane@northwindacct.com",
                                             "extension": _records.encode(_records.PENDING)}
    tenant.pp["jane@northwindacct.com"] = {"roles": set(), "description": "", "enabled": True}
    done = run([person("jane")], tenant)
    assert not done["jane"].failed
    assert len(tenant.mails) == 1 and "password" in tenant.mails[0]["body"]
    password_writes = [i for name, args in tenant.writes() if name == "m365_user" for i in args["items"] if i.get("password")]
    assert len(password_writes) == 1 and password_writes[0]["update_password"] == "always"
    assert tenant.mails[0]["body"] == "password %s" % password_writes[0]["password"]
    assert tenant.m365["jane@northwindacct.com"]["extension"] is None  # the marker went with the mail


def test_a_new_account_carries_the_marker_until_its_mail_went():
    tenant = Tenant()
    tenant.fail[("m365_send_mail", "jane@northwindacct.com")] = "Mail.Send missing"
    done = run([person("jane")], tenant)
    assert done["jane"].failures[0][0] == _joiners.MAIL
    assert _records.decode(tenant.m365["jane@northwindacct.com"]["extension"])[0] == _records.PENDING
    assert "new password" in _people.outcome_text(done["jane"], "onboarded", False)


def test_a_rehire_is_restored_from_the_leaver_record():
    record = _records.leaver_record("2026-12-01T10:00:00+00:00", "entra_source", ["ENTERPRISEPACK"], ["Tax Team"], "sarah.jones@northwindacct.com",
                                    ["sarah.jones@northwindacct.com"], True, True, True, False)
    tenant = Tenant()
    tenant.m365["tom@northwindacct.com"] = {"enabled": False, "licences": [], "mail": "tom@northwindacct.com", "shared": True,
                                            "extension": _records.encode(None, record)}
    tenant.pp["tom@northwindacct.com"] = {"roles": set(), "description": "", "enabled": True}
    done = run([person("tom")], tenant)
    tom = done["tom"]
    assert not tom.failed and tom.changed
    user = tenant.m365["tom@northwindacct.com"]
    assert user["enabled"] and sorted(user["licences"]) == ["ENTERPRISEPACK", "O365_BUSINESS_PREMIUM"] and not user["shared"]
    mailbox = [i for name, args in tenant.writes() if name == "m365_mailbox" for i in args["items"]][0]
    assert mailbox == {"user": "tom@northwindacct.com", "type": "regular", "hidden_from_address_lists": False, "forwarding_address": "",
                       "full_access": {"remove": ["sarah.jones@northwindacct.com"]}}
    assert "Tax Team" in tenant.pp["tom@northwindacct.com"]["roles"]
    assert user["extension"] is None  # restored in full: the record goes
    order = [name for name, _ in tenant.writes()]
    assert order.index("m365_user") < order.index("m365_mailbox")  # a licence before the mailbox is regular again


def test_a_rehire_gets_their_groups_back_a_new_password_and_no_automatic_reply():
    record = _records.leaver_record("2026-12-01T10:00:00+00:00", "entra_source", ["O365_BUSINESS_PREMIUM"], [], "", [], True, True, False, False,
                                    scrambled=True, auto_reply=True, groups=["g-client", "g-tax"])
    tenant = Tenant()
    tenant.m365["tom@northwindacct.com"] = {"enabled": False, "licences": [], "mail": "tom@northwindacct.com", "shared": True, "auto_reply": True,
                                            "extension": _records.encode(None, record)}
    tenant.pp["tom@northwindacct.com"] = {"roles": set(), "description": "", "enabled": True}
    done = run([person("tom", groups=["Tax Team"])], tenant)
    tom = done["tom"]
    assert not tom.failed, tom.failures
    assert tenant.members["tom@northwindacct.com"] == ["Tax Team", "Client Services", "Tax Announcements"]
    group_items = [i for name, args in tenant.writes() if name == "m365_group_member" for i in args["items"]]
    assert group_items[0]["groups"] == {"add": ["Tax Team", "g-client", "g-tax"]}
    # The scrambled password is known to nobody: a new one, mailed as a joiner's.
    password_writes = [i for name, args in tenant.writes() if name == "m365_user" for i in args["items"] if i.get("password")]
    assert len(password_writes) == 1 and tenant.mails[0]["body"] == "password %s" % password_writes[0]["password"]
    assert any("new password (offboarding scrambled the old one)" in text for _, text in tom.notes)
    assert tenant.m365["tom@northwindacct.com"]["auto_reply"] is False
    assert tenant.m365["tom@northwindacct.com"]["extension"] is None  # restored in full


def test_a_rehire_without_password_delivery_is_told_the_password_is_unknown():
    record = _records.leaver_record("2026-12-01T10:00:00+00:00", "entra_source", [], [], "", [], True, False, False, False, scrambled=True)
    tenant = Tenant()
    tenant.m365["tom@northwindacct.com"] = {"enabled": False, "licences": [], "mail": None, "extension": _records.encode(None, record)}
    tenant.pp["tom@northwindacct.com"] = {"roles": set(), "description": "", "enabled": True}
    tom = person("tom")
    tom.options["onboard_password_delivery"] = "none"
    done = run([tom], tenant)
    assert not [i for name, args in tenant.writes() if name == "m365_user" for i in args["items"] if i.get("password")]
    assert any("known to nobody" in text for _, text in done["tom"].notes)


def test_copy_skips_are_noted_for_the_person():
    tenant = Tenant()
    done = run([person("oliver", pp_roles_copy_from="sarah.jones@northwindacct.com")], tenant)
    assert any("not copied from sarah.jones@northwindacct.com: Office 365 (drives outbound provisioning)" in text for _, text in done["oliver"].notes)


def test_the_activation_sender_is_checked_before_anyone_is_created():
    tenant = Tenant()
    tenant.fail["m365_send_mail"] = "sender it@northwindacct.com is not a user in this tenant"
    done = run([person("jane"), person("mia", "federated")], tenant)
    for host in ("jane", "mia"):
        assert done[host].failures[0][0] == _people.CHECKS and "onboard_mail_sender" in done[host].failures[0][2]
    assert tenant.writes() == []


def test_the_run_report_holds_no_password():
    tenant = Tenant()
    people = [person("jane"), person("mia", "federated")]
    _joiners.Onboarding(people, tenant, render_mail=lambda p: "password %s" % p.password).run()
    reports = [_people.person_report(p, "onboarded", False) for p in people]
    text = _people.markdown("Onboarding", reports, False, "start", "end") + json.dumps([_joiners.result_fact(p, False) for p in people])
    for mail in tenant.mails:
        assert mail["body"].split()[-1] not in text
    assert "| 2 | 2 | 0 | 0 |" in text


def with_tom(tenant):
    tenant.m365["tom@northwindacct.com"] = {"enabled": True, "licences": ["O365_BUSINESS_PREMIUM"], "mail": "tom@northwindacct.com"}
    return tenant


def test_groups_are_given_once_the_account_exists_in_both_deployments_and_a_rerun_changes_nothing():
    tenant = with_tom(Tenant())
    people = [person("jane", groups=["Tax Team", "clientservices@northwindacct.com"], groups_copy_from="tom@northwindacct.com"),
              person("mia", "federated", groups=["Tax Announcements"])]
    done = run(people, tenant)
    assert not done["jane"].failed and not done["mia"].failed, [p.failures for p in done.values()]
    assert tenant.members == {"jane@northwindacct.com": ["Tax Team", "Client Services", "Tax Announcements"],
                              "mia@northwindacct.com": ["Tax Announcements"]}
    notes = dict((p, [text for title, text in done[p].notes if title == _joiners.TITLES[_joiners.GROUPS]]) for p in done)
    assert notes["jane"] == ["added to Tax Team, Client Services, Tax Announcements",
                             "not copied from tom@northwindacct.com: Licensed Staff (dynamic membership)"]
    # federated: the groups step runs after the sync has shown the account in Microsoft 365
    order = [name for name, check, _ in tenant.calls if not check]
    assert order.index("outbound_sync") < len(order) - 1 - order[::-1].index("m365_group_member")
    group_calls = [args for name, check, args in tenant.calls if name == "m365_group_member" and not check]
    assert group_calls[0]["wait_for_mailbox"] is True
    assert _joiners.result_fact(done["jane"], False)["groups"] == ["Tax Team", "clientservices@northwindacct.com"]
    again = run([person("jane", groups=["Tax Team", "clientservices@northwindacct.com"], groups_copy_from="tom@northwindacct.com")], tenant)
    assert not again["jane"].changed and not [text for title, text in again["jane"].notes if text.startswith("added to")]


@pytest.mark.parametrize("fields, why", [
    ({"groups": ["Tax Team", "Tax Teem"]}, "person.groups: no group of this tenant has the display name, mail address or object id 'Tax Teem'"),
    ({"groups": ["nobody@northwindacct.com"]}, "person.groups: no group of this tenant has the display name, mail address or object id "
                                               "'nobody@northwindacct.com'"),
    ({"groups_copy_from": "ghost@northwindacct.com"}, "person.groups_copy_from ghost@northwindacct.com is not a user in this tenant"),
])
def test_an_unknown_group_or_copy_source_is_refused_before_any_write(fields, why):
    tenant = Tenant()
    done = run([person("jane", **fields), person("oliver", groups=["Tax Team"])], tenant)
    assert done["jane"].failed and done["jane"].failures[0][0] == _people.CHECKS and why in done["jane"].failures[0][2]
    assert "jane@northwindacct.com" not in tenant.m365 and not done["oliver"].failed
    assert tenant.members == {"oliver@northwindacct.com": ["Tax Team"]}


def test_check_mode_plans_the_groups_of_a_joiner_not_created_yet():
    tenant = with_tom(Tenant())
    done = run([person("jane", groups=["Tax Team"], groups_copy_from="tom@northwindacct.com")], tenant, check_mode=True)
    assert tenant.writes() == [] and tenant.members == {}
    assert ("Microsoft 365 groups", "would be added to Tax Team, the groups of tom@northwindacct.com") in done["jane"].notes


# ---------------------------------------------------------------------------------------------------------------------
# Two provisioning methods (onboard_provisioning)


def federated(host, method=None, **fields):
    joiner = person(host, "federated", **fields)
    if method:
        joiner.options["onboard_provisioning"] = method
    return joiner


def calls_of(tenant, name, check=False):
    return [args for module, was_check, args in tenant.calls if module == name and was_check == check]


def test_token_based_joiners_get_licences_and_aliases_from_the_engine_and_a_rerun_changes_nothing():
    tenant = Tenant()
    tenant.sync_licences = ()
    done = run([federated("mia", aliases=["mia.n@northwindacct.com"], licenses=["O365_BUSINESS_PREMIUM"])], tenant)
    mia = done["mia"]
    assert not mia.failed, mia.failures
    # Practice Protect gets no proxyAddresses attribute: on such a tenant the sync would ignore it.
    assert all("proxy_addresses" not in item for args in calls_of(tenant, "pp_user") for item in args["items"])
    # The check plan holds the licences (SKUs and seats are checked before the first write).
    planned = [item for args in calls_of(tenant, "m365_user", check=True) for item in args["items"] if item["user"] == mia.upn][0]
    assert planned["licenses"] == {"add": ["O365_BUSINESS_PREMIUM"]} and planned["usage_location"] == "AU"
    # After the sync: the licences, then the aliases once the mailbox exists, both through Microsoft 365.
    order = [module for module, check, _ in tenant.calls if not check and module in ("outbound_sync", "m365_user", "m365_alias")]
    assert order == ["outbound_sync", "m365_user", "m365_alias"]
    assert calls_of(tenant, "m365_user")[0]["items"] == [{"user": mia.upn, "licenses": {"add": ["O365_BUSINESS_PREMIUM"]}, "usage_location": "AU"}]
    alias = calls_of(tenant, "m365_alias")[0]
    assert alias["items"] == [{"user": mia.upn, "aliases": {"add": ["mia.n@northwindacct.com"]}, "primary": mia.upn}] and alias["wait_for_mailbox"]
    assert tenant.m365[mia.upn]["licences"] == ["O365_BUSINESS_PREMIUM"]
    fact = _joiners.result_fact(mia, False)
    assert fact["licenses"] == ["O365_BUSINESS_PREMIUM"] and fact["sync"].startswith("provisioned (token-based")
    assert "Microsoft 365 licences: assigned O365_BUSINESS_PREMIUM" in fact["steps"]
    # A re-run: nothing to write.
    tenant.calls = []
    again = run([federated("mia", aliases=["mia.n@northwindacct.com"], licenses=["O365_BUSINESS_PREMIUM"])], tenant)
    assert not again["mia"].failed and not again["mia"].changed
    assert calls_of(tenant, "outbound_sync") == []


def test_the_older_method_keeps_the_attribute_and_the_sync_licence():
    tenant = Tenant()
    done = run([federated("mia", "service_account", aliases=["mia.n@northwindacct.com"])], tenant)
    assert not done["mia"].failed
    items = [item for args in calls_of(tenant, "pp_user") for item in args["items"]]
    assert items[0]["proxy_addresses"] == ["mia@northwindacct.com", "mia.n@northwindacct.com"]
    assert calls_of(tenant, "m365_user") == [] and calls_of(tenant, "m365_alias") == []
    planned = [item for args in calls_of(tenant, "m365_user", check=True) for item in args["items"]][0]
    assert "licenses" not in planned
    assert _joiners.result_fact(done["mia"], False)["sync"] == "provisioned, licences: O365_BUSINESS_PREMIUM"


def test_token_based_refusals_come_before_any_write():
    tenant = Tenant()
    tenant.fail[("m365_user", "mia@northwindacct.com")] = "No free O365_BUSINESS_PREMIUM seat: 25 bought, 25 in use."
    done = run([federated("mia"), federated("liam", aliases=["liam@northwind-legacy.com"]), federated("zoe", "basic")], tenant)
    assert done["mia"].failures[0][0] == _people.CHECKS and "No free O365_BUSINESS_PREMIUM seat" in done["mia"].failures[0][2]
    assert done["liam"].failures[0][0] == _people.CHECKS and "not an accepted domain" in done["liam"].failures[0][2]
    assert done["zoe"].failures[0][0] == _people.CHECKS and "onboard_provisioning must be one of token, service_account" in done["zoe"].failures[0][2]
    assert tenant.writes() == []


def test_token_based_check_mode_says_what_would_follow_the_sync():
    tenant = Tenant()
    tenant.sync_licences = ()
    done = run([federated("mia", aliases=["mia.n@northwindacct.com"])], tenant, check_mode=True)
    steps = _joiners.result_fact(done["mia"], True)["steps"]
    assert "Microsoft 365 licences: would assign O365_BUSINESS_PREMIUM once the sync shows the account" in steps
    assert "aliases: would add mia.n@northwindacct.com once the mailbox exists" in steps
    assert tenant.writes() == []


def test_a_converged_rerun_skips_the_steps_the_checks_found_done():
    tenant = Tenant()
    run([person("jane"), person("mia", "federated")], tenant)
    tenant.calls = []
    again = run([person("jane"), person("mia", "federated"), person("kim", pp_roles=["Tax Team"])], tenant)
    assert not again["jane"].changed and again["kim"].changed, [p.failures for p in again.values()]
    real = [(name, args) for name, check, args in tenant.calls if not check]
    # Only the new joiner goes through the Microsoft 365 step: the checks planned jane as she is.
    assert [[i["user"] for i in args["items"]] for name, args in real if name == "m365_user"][0] == ["kim@northwindacct.com"]
    # The role step runs for kim, who has no Practice Protect account yet; a run where everyone holds it makes no role call.
    assert [args["role"] for name, args in real if name == "pp_role_member"] == ["Tax Team"]
    tenant.calls = []
    third = run([person("jane"), person("mia", "federated"), person("kim", pp_roles=["Tax Team"])], tenant)
    assert not any(p.changed or p.failed for p in third.values()), [p.failures for p in third.values()]
    real = [(name, args) for name, check, args in tenant.calls if not check]
    assert not [args for name, args in real if name == "m365_user" and any(i["user"] != "mia@northwindacct.com" for i in args["items"])]
    assert "pp_role_member" not in [name for name, _ in real]
    assert _joiners.result_fact(third["jane"], False)["licenses"] == _joiners.result_fact(again["jane"], False)["licenses"]
