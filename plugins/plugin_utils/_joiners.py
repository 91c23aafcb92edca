# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Onboarding decided in Python: the engine behind the onboard_user role and the ``onboard`` action.

Plain Python with no Ansible import: ``Onboarding`` gets the people (``_people.Person``, one per inventory host, with
the role variables that host sees) and a runner that executes the collection's modules, and decides everything
else - each joiner's description, every refusal before the first write, which people each step takes, the order
that keeps a password from being lost, and each person's outcome. The unit tests drive it with a fake runner on
tables of scenarios (tests/unit/plugins/plugin_utils/test_joiners.py).

The order, for everyone of the play at once (each step is one module run with ``items``, or one per role):

1. checks, all reads and check-mode plans: each joiner's Microsoft 365 plan (domain, phone, SKUs and seats, usage
   location), the Practice Protect plan of federated joiners, every address against the accepted domains and every
   recipient of the tenant and the other joiners, the roles and the users roles are copied from, the activation
   mail's sender, the Microsoft 365 groups and the users groups are copied from. A refused joiner is left out of every write.
2. entra_source: the Microsoft 365 accounts (a rehire's licences and sign-in back too); then at once the activation
   mails of the accounts just created, or created by a run that stopped before it mailed; then a rehire's mailbox back
   to a regular one, visible, without the offboarding's forwarding and grants; then the aliases once each mailbox exists.
3. federated: the Practice Protect cloud accounts; then at once their activation mails.
4. entra_source: the invitations into Practice Protect from the Azure AD directory.
5. the Practice Protect roles (one call per role), and the roles copied from similar users.
6. federated: outbound provisioning, waiting until Microsoft 365 shows the joiners; on a token-based tenant
   (``onboard_provisioning: token``, see "Two provisioning methods" below) then the licences and, once the mailbox exists,
   the aliases and primary address; then a rehire's licences, sign-in and mailbox in Microsoft 365.
7. both deployments: the Microsoft 365 groups (``person.groups``, ``person.groups_copy_from``), once the account exists in
   Microsoft 365 (federated: once the sync shows it), waiting for the mailbox where a distribution list needs it.
8. verification of everyone this run changed; a rehire's leaver record is removed once they are restored in full.

A rehire is recognised by what offboarding left (a blocked or soft-deleted account) and restored from the leaver record
offboarding keeps with the user (``_records``).

A step that fails for some people (or as a whole) fails only them, and only the steps that depend on it are skipped
for them: see ``_people``.

Two provisioning methods (``onboard_provisioning``, per person; reference practice_protect.md section 12): with
``service_account`` (the older federation of seeds 000 and 002) the sync writes the aliases from the Practice Protect
proxyAddresses attribute and assigns the Office 365 app's licence. With ``token`` (token-based provisioning, which Practice
Protect requires for new tenants, and the default) Practice Protect writes only display name, location, immutable id and
the primary address/UPN; Microsoft 365 owns aliases and licences, so the engine assigns them itself once the sync shows the
user, with the checks of the entra_source path (accepted domains and address holders before the first write, SKUs and
seats in the check plan).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.practiceprotect.m365.plugins.module_utils import _addresses, _users
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _people, _records
from ansible_collections.practiceprotect.m365.plugins.plugin_utils._people import CHECKS, active

PREFIX = "onboard_"
# Facts and registered results the role itself sets on the hosts: not role variables, never "unknown".
RESERVED = ("onboard_result", "onboard_password", "onboard_user_run", "onboard_hosts")

M365_USER = "m365_user"
RESTORE = "restore"
RECORD = "record"
MAIL = "mail"
ALIASES = "aliases"
PP_USER = "pp_user"
INVITE = "invite"
ROLES = "roles"
PROVISIONING_ROLE = "provisioning_role"
SYNC = "sync"
GROUPS = "groups"
VERIFY = "verify"
LICENSES = "licenses"

TOKEN = "token"
SERVICE_ACCOUNT = "service_account"
PROVISIONING_METHODS = (TOKEN, SERVICE_ACCOUNT)

TITLES = {
    CHECKS: "checks before the first write",
    M365_USER: "Microsoft 365 account",
    RESTORE: "rehire: mailbox and grants restored",
    RECORD: "rehire: leaver record",
    MAIL: "activation mail",
    ALIASES: "aliases",
    PP_USER: "Practice Protect account",
    INVITE: "invitation into Practice Protect",
    ROLES: "Practice Protect roles",
    PROVISIONING_ROLE: "Practice Protect provisioning role",
    SYNC: "outbound provisioning to Microsoft 365",
    GROUPS: "Microsoft 365 groups",
    LICENSES: "Microsoft 365 licences",
    VERIFY: "verification",
}

SYNC_DIFF = "Microsoft 365 account, as the outbound sync will create it"
# The modules' options and the role variables behind them (a check's message names the option): the user table's fields
# that a person carries under their own name, and the others.
PERSON_FIELDS = dict((f.option, "person." + f.option) for f in _users.USER.role_fields())
PERSON_FIELDS.update({
    "user": "person.upn", "mobile_number": "person.mobile_phone", "manager": "person.manager",
    "usage_location": "person.usage_location (or onboard_usage_location)", "licenses": "person.licenses (or onboard_default_licenses)",
    "other_mails": "person.alternate_email", "phone_region": "onboard_phone_region",
})


def describe(person):
    """Fill ``person.upn``, ``person.deployment`` and ``person.spec`` from the role variables; ValidationError for input
    that is wrong whatever the tenant holds (named by the person's field)."""
    o = person.options
    p = dict(o.get("onboard_person") or {})
    upn = (p.get("upn") or "").strip().lower()
    person.upn = upn or person.host
    person.deployment = o.get("onboard_deployment") or "entra_source"
    person.provisioning = (o.get("onboard_provisioning") or TOKEN) if person.deployment == "federated" else None
    if person.provisioning not in (None,) + PROVISIONING_METHODS:
        raise v.ValidationError("onboard_provisioning must be one of %s, got %r" % (", ".join(PROVISIONING_METHODS), person.provisioning),
                                field="onboard_provisioning")
    try:
        v.validate_upn(upn, "user")
    except v.ValidationError as exc:
        raise v.ValidationError(exc.message.replace("user", "person.upn", 1), field="upn")
    primary = _address((p.get("primary_address") or upn).strip(), "person.primary_address").lower()
    aliases = []
    for index, alias in enumerate(p.get("aliases") or []):
        address = _address(alias, "person.aliases[%d]" % index).lower()
        if address != primary and address not in aliases:
            aliases.append(address)
    if p.get("alternate_email"):
        v.validate_email(p["alternate_email"].strip(), "person.alternate_email")
    names = [n for n in (p.get("given_name"), p.get("surname")) if n]
    display = p.get("display_name") or " ".join(names) or upn.split("@")[0]
    # Every attribute of the Microsoft 365 user table a person may carry goes to m365_user under its own name.
    m365 = dict((f.option, p.get(f.option)) for f in _users.USER.role_fields())
    m365.update({
        "user": upn, "manager": p.get("manager"),
        "usage_location": p.get("usage_location") or o.get("onboard_usage_location") or None,
        "licenses": {"add": list(p.get("licenses") or o.get("onboard_default_licenses") or [])},
        "other_mails": [p["alternate_email"].strip()] if p.get("alternate_email") else None,
        "phone_region": o.get("onboard_phone_region") or None,
        # A joiner can sign in: a rehired leaver's blocked account is unblocked.
        "account_enabled": True,
    })
    m365 = dict((k, val) for k, val in m365.items() if val is not None)
    cloud = {"user": upn, "source": "cloud", "display_name": display, "mail": primary, "mobile_number": p.get("mobile_phone"),
             "proxy_addresses": [primary] + aliases, "phone_region": o.get("onboard_phone_region") or None}
    cloud = dict((k, val) for k, val in cloud.items() if val is not None)
    federated = person.deployment == "federated"
    token = person.provisioning == TOKEN
    if token:
        cloud.pop("proxy_addresses")  # token-based: Microsoft 365 owns the aliases, the attribute would be ignored
    roles = ([o.get("onboard_office365_role") or "Office 365"] if federated else []) + list(o.get("onboard_pp_roles") or []) + \
        list(p.get("pp_roles") or [])
    unique_roles = []
    for role in roles:
        if role and role not in unique_roles:
            unique_roles.append(role)
    recipient = (p.get("alternate_email") if o.get("onboard_password_recipient", "alternate") == "alternate" else p.get("manager")) or ""
    person.spec = {
        "upn": upn, "primary": primary, "aliases": aliases, "display_name": display, "person": p,
        "m365": m365,
        # What the sync will create for a federated joiner, planned (never applied) in Microsoft 365 to check the domain.
        "m365_planned": _planned(upn, display, m365 if token else None),
        # Token-based: what the engine itself gives the account in Microsoft 365 once the sync shows it (None: nothing).
        "token_item": _token_item(upn, m365) if token else None,
        "pp": cloud if federated else {"user": upn, "source": "directory"},
        "roles": unique_roles,
        "provisioning_role": (o.get("onboard_office365_role") or "Office 365") if federated else None,
        "copy_from": (p.get("pp_roles_copy_from") or "").strip() or None,
        "groups": _unique(g.strip() for g in p.get("groups") or [] if g and g.strip()),
        "groups_copy_from": (p.get("groups_copy_from") or "").strip().lower() or None,
        "addresses": [primary] + aliases,
        "own_addresses": sorted(set([upn, primary])),
        "alias_item": {"user": upn, "aliases": {"add": aliases}, "primary": primary} if (aliases or primary != upn) else None,
        "delivery": o.get("onboard_password_delivery") or "none",
        "recipient": recipient.strip().lower(),
        "sender": (o.get("onboard_mail_sender") or "").strip(),
        "subject": "%s: %s" % (o.get("onboard_mail_subject") or "Your new account", upn),
    }


def _planned(upn, display, m365):
    """The Microsoft 365 account as the sync will create it; token-based (``m365`` given) with the licences the engine adds,
    so that the check plan checks the SKUs and their free seats (and the usage location they need) before the first write."""
    planned = {"user": upn, "display_name": display, "account_enabled": True}
    if m365 is not None:
        planned.update(dict((k, m365[k]) for k in ("licenses", "usage_location") if m365.get(k)))
    return planned


def _token_item(upn, m365):
    """The m365_user item of a token-based federated joiner after the sync: licences (with the usage location Microsoft 365
    needs for them, when one is given; Practice Protect writes its own, from the Office 365 application)."""
    if not m365["licenses"]["add"]:
        return None
    item = {"user": upn, "licenses": {"add": list(m365["licenses"]["add"])}}
    if m365.get("usage_location"):
        item["usage_location"] = m365["usage_location"]
    return item


def _unique(values):
    out = []
    for value in values:
        if value.lower() not in [o.lower() for o in out]:
            out.append(value)
    return out


def untold_reason(person):
    """Why a person whose account exists gets a new password."""
    if person.facts.get("untold") == "scrambled":
        return "offboarding scrambled the old one"
    return "the run that created the account stopped before mailing it"


def group_item(person):
    """The m365_group_member item of a joiner (None when the person asks for no group); a rehire also goes back into the
    groups offboarding took them out of (``groups_back``, object ids from the leaver record)."""
    spec = person.spec
    back = [g for g in spec.get("groups_back") or [] if g.lower() not in [x.lower() for x in spec["groups"]]]
    if not spec["groups"] and not spec["groups_copy_from"] and not back:
        return None
    item = {"user": spec["upn"]}
    if spec["groups"] or back:
        item["groups"] = {"add": list(spec["groups"]) + back}
    if spec["groups_copy_from"]:
        item["copy_from"] = spec["groups_copy_from"]
    return item


def group_refusals(people, found_groups, group_error, copy_sources, copy_error):
    """``{person: [problem, ...]}`` for groups that do not exist and users to copy groups from that Microsoft 365 does not have.

    ``found_groups``: lower-case group names, mail addresses and ids the tenant has (None when the read failed with
    ``group_error``); ``copy_sources``: lower-case UPNs of the users found (None when that read failed with ``copy_error``).
    """
    problems = {}
    for person in people:
        spec = person.spec
        if spec["groups"]:
            if found_groups is None:
                problems.setdefault(person, []).append("reading the groups failed: %s" % group_error)
            else:
                missing = [g for g in spec["groups"] if g.lower() not in found_groups]
                if missing:
                    problems.setdefault(person, []).append(
                        "person.groups: no group of this tenant has the display name, mail address or object id %s; check the spelling, "
                        "or give the group's object id" % ", ".join(repr(g) for g in missing))
        source = spec["groups_copy_from"]
        if source:
            if copy_sources is None:
                problems.setdefault(person, []).append("reading the user groups are copied from failed: %s" % copy_error)
            elif source not in copy_sources:
                problems.setdefault(person, []).append("person.groups_copy_from %s is not a user in this tenant; give the UPN of an existing "
                                                       "user" % source)
    return problems


def _address(value, field):
    try:
        return _addresses.bare(value, field)
    except v.ValidationError as exc:
        raise v.ValidationError(exc.message, field=field)


def address_refusals(people, accepted_domains, holders):
    """``{person: [problem, ...]}`` for addresses the tenant or the run cannot give them.

    ``holders``: lower-case address -> ``[{"userPrincipalName", "displayName", "id"}]`` of the recipients holding it now.
    An address on a domain that is not accepted is refused; so is one another recipient holds. Inside the run, an
    address that is a joiner's own (their sign-in name or primary address) stays theirs and is refused to the others;
    one that several joiners ask for and is nobody's own is refused to all of them.
    """
    accepted = set(d.lower() for d in accepted_domains or [])
    owners = {}
    wanted = {}
    for person in people:
        for address in person.spec["own_addresses"]:
            owners.setdefault(address, []).append(person)
        for address in person.spec["addresses"]:
            wanted.setdefault(address, []).append(person)
    problems = {}

    def refuse(person, text):
        problems.setdefault(person, [])
        if text not in problems[person]:
            problems[person].append(text)

    for person in people:
        for address in person.spec["addresses"]:
            field = "person.primary_address" if address == person.spec["primary"] else "person.aliases"
            domain = _addresses.domain_of(address)
            if accepted and domain not in accepted:
                refuse(person, "%s %s is on %s, which is not an accepted domain of this Exchange Online organisation (accepted: %s); "
                               "use an accepted domain, or add the domain in Microsoft 365 first" % (
                                   field, address, domain, ", ".join(sorted(accepted))))
                continue
            for holder in holders.get(address) or []:
                if (holder.get("userPrincipalName") or "").lower() == person.upn:
                    continue  # the joiner's own account holds it already (a re-run, or a rehire)
                refuse(person, "%s %s already belongs to %s (%s); remove it there first, or choose another address" % (
                    field, address, holder.get("displayName") or holder.get("userPrincipalName"), holder.get("userPrincipalName")))
            own = [o for o in owners.get(address, []) if o is not person]
            if own and person not in owners.get(address, []):
                refuse(person, "%s %s is the own address of %s, who joins in this run; choose another address" % (
                    field, address, own[0].upn))
            elif not owners.get(address):
                others = [o.upn for o in wanted.get(address, []) if o is not person]
                if others:
                    refuse(person, "%s %s is asked for by %s as well; give each address to one person" % (field, address, ", ".join(others)))
    return problems


class Onboarding(_people.Flow):
    """One run of onboarding for the people of a play batch (see the module docstring for the order)."""

    done_word = "onboarded"
    titles = TITLES
    quiet_steps = (CHECKS, VERIFY)

    def __init__(self, people, runner, check_mode=False, render_mail=None):
        super(Onboarding, self).__init__(people, runner, check_mode)
        self.render_mail = render_mail or (lambda person: "")
        self.role_adds = {}  # role -> the login names the checks found it must take (not members yet, or unknown yet)

    # -- helpers ------------------------------------------------------------------------------------------------------

    def of(self, deployment, *steps):
        return active(self.people, *steps, deployment=deployment)

    def ready(self, deployment, *steps):
        """People of ``deployment`` that no failure blocks and whose account exists (check mode: is not only planned)."""
        return [p for p in self.of(deployment, *steps) if not p.pending]

    # -- the run ------------------------------------------------------------------------------------------------------

    def run(self):
        for person in self.people:
            person.provisioning = None
            if person.failed:  # the role variables themselves are wrong: nothing else is read into them
                person.upn = ((person.options.get("onboard_person") or {}).get("upn") or person.host).strip().lower() \
                    if isinstance(person.options.get("onboard_person"), dict) else person.host
                continue
            try:
                describe(person)
            except v.ValidationError as exc:
                person.fail(CHECKS, TITLES[CHECKS], exc.message)
        self.check()
        self.m365_users()
        self.aliases()
        self.cloud_users()
        self.invitations()
        self.roles()
        self.sync()
        self.token_licenses()
        self.token_aliases()
        self.restore_federated()
        self.groups()
        self.verify()
        self.remove_records()
        return self.people

    # 1. checks --------------------------------------------------------------------------------------------------------

    def check(self):
        people = active(self.people)
        entra = [p for p in people if p.deployment == "entra_source"]
        federated = [p for p in people if p.deployment == "federated"]
        refuse = {}

        planned = self.items(M365_USER, entra + federated, lambda p: p.spec["m365"] if p.deployment == "entra_source" else p.spec["m365_planned"],
                             CHECKS, check=True, diff_title=SYNC_DIFF)
        for person in entra:  # an entra_source joiner's plan shows again, as the write, in the Microsoft 365 step
            person.diffs = [d for d in person.diffs if not d["before_header"].startswith(SYNC_DIFF)]
        _people.name_fields(entra + federated, PERSON_FIELDS)
        for person, outcome in planned.items():
            person.facts["m365_action"] = outcome.get("action")
            person.facts["m365_user"] = outcome.get("user") or {}
            fields = set(f for call in outcome.get("plan") or [] for f in call.get("fields") or [])
            # What offboarding leaves: a blocked account (or a soft-deleted one, restored by the Microsoft 365 step).
            person.facts["rehire"] = outcome.get("action") == "restore" or "accountEnabled" in fields
        self.read_records([p for p in planned if p.facts.get("m365_action") not in ("create", "restore")
                           and (p.facts.get("rehire") or p.spec["delivery"] != "none")])
        for person in federated:
            if person.facts.get("rehire"):
                person.spec["pp"]["enabled"] = True  # offboarding disabled the Practice Protect account
        pp_planned = self.items(PP_USER, [p for p in federated if not p.blocked()], self.pp_check_item, CHECKS, check=True)
        _people.name_fields(federated, PERSON_FIELDS)
        for person, outcome in pp_planned.items():
            person.facts["pp_action"] = outcome.get("action")
            if person.spec["delivery"] == "none":
                continue
            if outcome.get("action") == "create":
                person.spec["pp"]["description"] = _records.PP_MARKER  # written by the CreateUser call itself
            elif outcome.get("description_before") == _records.PP_MARKER:
                person.facts["untold"] = True  # created by a run that stopped before the activation mail

        # Every address against the accepted domains, every recipient of the tenant and the other joiners.
        checking = active(self.people)
        addresses = sorted(set(a for p in checking for a in p.spec["addresses"]))
        if addresses:
            result = self.module("m365_address_info", {"addresses": addresses}, check=True)
            if result.get("failed"):
                for person in checking:
                    person.fail(CHECKS, TITLES[CHECKS], "reading who holds the addresses failed: %s" % result.get("msg"))
            else:
                holders = dict((a.lower(), (info or {}).get("holders") or []) for a, info in (result.get("addresses") or {}).items())
                for person, problems in address_refusals(checking, result.get("accepted_domains") or [], holders).items():
                    refuse.setdefault(person, []).extend(problems)

        self.check_roles(refuse)
        self.check_groups(refuse)
        self.check_mail(refuse)
        for person, problems in refuse.items():
            person.fail(CHECKS, TITLES[CHECKS], "; ".join(problems))

    def pp_check_item(self, person):
        item = dict((k, val) for k, val in person.spec["pp"].items() if val is not None)
        if person.spec["delivery"] != "none":
            item["description"] = _records.PP_MARKER  # an existing account's description comes back: the marker of a mail never sent
        return item

    def read_records(self, people):
        """Each person's leaver record and pending-activation marker, kept with their Microsoft 365 user."""
        if not people:
            return
        result = self.module("m365_user_info", {"users": [p.upn for p in people], "extensions": [_records.EXTENSION],
                                                "select": ["id", "userPrincipalName", "accountEnabled", "mail"]}, check=True)
        found = dict(((u.get("userPrincipalName") or "").lower(), u) for u in result.get("users") or [])
        for person in people:
            if result.get("failed"):
                person.fail(CHECKS, TITLES[CHECKS], "reading the user's leaver record failed: %s" % result.get("msg"))
                continue
            user = found.get(person.upn) or {}
            activation, record = _records.decode((user.get("extensions") or {}).get(_records.EXTENSION))
            person.facts["has_mailbox"] = bool(user.get("mail"))
            person.facts["record"] = record
            if record:
                person.facts["rehire"] = True
                person.spec["roles"] = person.spec["roles"] + [r for r in record.get("roles") or [] if r not in person.spec["roles"]]
                # The groups offboarding took the person out of (object ids), added to the ones asked for; checked by the module.
                person.spec["groups_back"] = list(record.get("groups") or [])
            if activation == _records.PENDING and person.deployment == "entra_source":
                person.facts["untold"] = True
            if record.get("scrambled") and person.deployment == "entra_source":
                # Offboarding scrambled the password: nobody knows it, so the rehire gets a new one, delivered as a joiner's.
                if person.spec["delivery"] != "none":
                    person.facts["untold"] = "scrambled"
                else:
                    person.note(TITLES[M365_USER], "the password offboarding scrambled is known to nobody: with onboard_password_delivery "
                                                   "email or return the run gives a new one")

    def check_roles(self, refuse):
        """Each role asked for exists, and each user roles are copied from (one read each)."""
        people = active(self.people)
        for role in sorted(set(r for p in people for r in p.spec["roles"])):
            members = [p.upn for p in people if role in p.spec["roles"]]
            result = self.module("pp_role_member", {"role": role, "members": {"add": members}, "skip_unknown_members": True}, check=True)
            if not result.get("failed"):
                # Who the role step has to add: not members yet, or without a Practice Protect account yet.
                self.role_adds[role] = set(m.lower() for m in (result.get("added") or {}).get(role, []) + list(result.get("skipped_members") or []))
            else:
                field = result.get("field")
                for person in people:
                    if role in person.spec["roles"]:
                        where = "onboard_office365_role" if role == person.spec["provisioning_role"] else "person.pp_roles (or onboard_pp_roles)"
                        refuse.setdefault(person, []).append(
                            "%s: %s" % (where, result.get("msg")) if field == "role" else "checking the role %s failed: %s" % (role, result.get("msg")))
        for source in sorted(set(p.spec["copy_from"] for p in people if p.spec["copy_from"])):
            members = [p.upn for p in people if p.spec["copy_from"] == source]
            result = self.module("pp_role_member", {"copy_from": source, "members": {"add": members[:1]}, "skip_unknown_members": True}, check=True)
            if result.get("failed"):
                for person in people:
                    if person.spec["copy_from"] == source:
                        refuse.setdefault(person, []).append("person.pp_roles_copy_from: %s" % result.get("msg"))

    def check_groups(self, refuse):
        """Each group asked for exists (by display name, mail address or object id) and each user groups are copied from."""
        people = [p for p in active(self.people) if group_item(p)]
        keys = sorted(set(g for p in people for g in p.spec["groups"]), key=lambda g: g.lower())
        found, group_error = set(), None
        by_name = [k for k in keys if "@" not in k]
        if by_name:
            found, group_error = self.existing_groups(by_name)
        by_mail = [k for k in keys if "@" in k]
        if by_mail and found is not None:
            result = self.module("m365_address_info", {"addresses": by_mail}, check=True)
            if result.get("failed"):
                found, group_error = None, result.get("msg")
            else:
                for address, info in (result.get("addresses") or {}).items():
                    if any(h.get("kind") == "group" for h in (info or {}).get("holders") or []):
                        found.add(address.lower())
        sources = sorted(set(p.spec["groups_copy_from"] for p in people if p.spec["groups_copy_from"]))
        copy_sources, copy_error = set(), None
        if sources:
            result = self.module("m365_user_info", {"users": sources, "select": ["id", "userPrincipalName"]}, check=True)
            if result.get("failed"):
                copy_sources, copy_error = None, result.get("msg")
            else:
                copy_sources = set((u.get("userPrincipalName") or "").lower() for u in result.get("users") or [])
        for person, problems in group_refusals(people, found, group_error, copy_sources, copy_error).items():
            refuse.setdefault(person, []).extend(problems)

    def existing_groups(self, names):
        """(lower-case names and ids of ``names`` the tenant has, None) or (None, the error): m365_user_info refuses a
        ``member_of`` naming no group, so the names are read one by one only when some are missing."""
        result = self.module("m365_user_info", {"member_of": names, "select": ["id"], "max_items": 1}, check=True)
        if not result.get("failed"):
            return set(n.lower() for n in names), None
        if result.get("field") != "member_of":
            return None, result.get("msg")
        found = set()
        for name in names:
            if not self.module("m365_user_info", {"member_of": [name], "select": ["id"], "max_items": 1}, check=True).get("failed"):
                found.add(name.lower())
        return found, None

    def needs_password(self, person):
        """Whether this run creates the person's account (so a password must reach them)."""
        action = person.facts.get("pp_action") if person.deployment == "federated" else person.facts.get("m365_action")
        return action == "create" or bool(person.facts.get("untold"))

    def check_mail(self, refuse):
        """The activation mail can be sent to everyone this run creates: sender set and found, a recipient each."""
        people = [p for p in active(self.people) if p.spec["delivery"] == "email" and self.needs_password(p)]
        senders = {}
        for person in people:
            if not person.spec["sender"]:
                refuse.setdefault(person, []).append("onboard_password_delivery is email, so set onboard_mail_sender to the mailbox that sends "
                                                     "the activation mail")
            elif not person.spec["recipient"]:
                refuse.setdefault(person, []).append(
                    "onboard_password_delivery is email, so %s" % ("give the person an alternate_email" if person.options.get(
                        "onboard_password_recipient", "alternate") == "alternate" else "give the person a manager"))
            else:
                senders.setdefault(person.spec["sender"], []).append(person)
        for sender, group in sorted(senders.items()):
            item = {"label": "check", "sender": sender, "to": [group[0].spec["recipient"]], "subject": "check", "body": "check"}
            result = self.module("m365_send_mail", {"items": [item], "fail_on_item_error": False}, check=True)
            outcome = (result.get("outcomes") or {}).get("check") or {}
            if result.get("failed") or outcome.get("failed"):
                message = outcome.get("msg") or result.get("msg")
                for person in group:
                    refuse.setdefault(person, []).append("onboard_mail_sender: %s" % message)

    # 2. entra_source: Microsoft 365 accounts, activation mails, aliases -------------------------------------------

    def m365_item(self, person):
        item = dict(person.spec["m365"])
        record = person.facts.get("record") or {}
        if record.get("licences"):
            wanted = item["licenses"]["add"]
            item["licenses"] = {"add": wanted + [lic for lic in record["licences"] if lic not in wanted]}
        if person.spec["delivery"] != "none" and person.facts.get("m365_action") == "create":
            # Written with the account: a run that stops before the mail leaves the marker for the next run to find.
            item["extensions"] = {_records.EXTENSION: _records.encode(_records.PENDING, None)}
        return self.untold(person, item)

    def untold(self, person, item):
        """``item`` with a new password for a person whose earlier run never told them theirs (a real run only)."""
        if person.facts.get("untold") and not self.check_mode:
            item.update(password=self.new_password(), update_password="always")
        return item

    def m365_users(self):
        people = self.of("entra_source")
        wants_password = [p for p in people if p.spec["delivery"] != "none"]
        no_log = bool(wants_password) and not self.check_mode
        items = dict((p, self.m365_item(p)) for p in people)
        # The checks planned everyone already: who was found as asked, with nothing added since, needs no second read.
        converged = [p for p in people if p.facts.get("m365_action") == "none" and items[p] == p.spec["m365"]]
        for person in converged:
            person.facts["licenses"] = person.facts.get("m365_user", {}).get("licenses") or []
        outcomes = self.items(M365_USER, [p for p in people if p not in converged], lambda p: items[p], M365_USER,
                              return_password=no_log, no_log=no_log)
        told = []
        for person, outcome in outcomes.items():
            action = outcome.get("action") or "none"
            if outcome.get("changed"):
                text = self._did(action, "created", "updated", "restored")
                if person.facts.get("rehire") and action == "update":
                    text = "sign-in and licences %s" % ("would be back" if self.check_mode else "back")
                    if person.facts.get("untold"):
                        text += ", and a new password (%s)" % untold_reason(person)
                elif person.facts.get("untold") and action == "update":
                    text = "new password %s (%s)" % ("would be set" if self.check_mode else "set", untold_reason(person))
                person.note(TITLES[M365_USER], text, changed=True)
            if self.check_mode and action in ("create", "restore"):
                person.pending = True
            person.facts["licenses"] = (outcome.get("user") or {}).get("licenses") or []
            if outcome.get("password"):
                person.password = outcome["password"]
            elif person.facts.get("untold") and not self.check_mode:
                person.password = items[person]["password"]
            if person.password:
                told.append(person)
        if self.check_mode:
            for person in outcomes:
                if person.facts.get("untold"):
                    person.note(TITLES[MAIL], "would get a new password and a new activation mail (%s)" % untold_reason(person), changed=True)
        # A soft-deleted leaver comes back with the Microsoft 365 step: their leaver record comes back with them.
        self.read_records([p for p in outcomes if p.facts.get("m365_action") == "restore" and not self.check_mode])
        self.deliver(told)
        self.restore_mailboxes(self.ready("entra_source", M365_USER))

    def mailbox_item(self, person):
        """A rehire's mailbox as a joiner's: regular, visible, without the forwarding and full access offboarding set."""
        record = person.facts.get("record") or {}
        item = {"user": person.upn, "type": "regular", "hidden_from_address_lists": False}
        if record.get("forward_to"):
            item["forwarding_address"] = ""
        if record.get("full_access"):
            item["full_access"] = {"remove": list(record["full_access"])}
        if record.get("auto_reply"):
            item["auto_reply"] = {"enabled": False}  # offboarding's "has left" reply goes
        return item

    def restore_mailboxes(self, people):
        rehires = [p for p in people if p.facts.get("rehire") and p.facts.get("has_mailbox") and not p.pending]
        timeout = max([int(p.options.get("onboard_mailbox_timeout") or 900) for p in rehires] or [900])
        for person, outcome in self.items("m365_mailbox", rehires, self.mailbox_item, RESTORE, wait_timeout=timeout).items():
            if outcome.get("changed"):
                person.note(TITLES[RESTORE], "%s a regular, visible mailbox; the offboarding's forwarding and full access %s" % (
                    "would be" if self.check_mode else "is", "would be removed" if self.check_mode else "removed"), changed=True)

    def restore_federated(self):
        """A federated rehire, once the sync shows them in Microsoft 365 again: sign-in, licences and mailbox back."""
        people = [p for p in self.ready("federated", PP_USER, PROVISIONING_ROLE, SYNC) if p.facts.get("rehire")]
        if self.check_mode:
            for person in people:
                person.note(TITLES[RESTORE], "would get sign-in, licences and a regular mailbox back in Microsoft 365 after the sync", changed=True)
            return
        outcomes = self.items(M365_USER, people, lambda p: {"user": p.upn, "account_enabled": True,
                                                            "licenses": {"add": (p.facts.get("record") or {}).get("licences") or []}},
                              RESTORE)
        for person, outcome in outcomes.items():
            if outcome.get("changed"):
                person.note(TITLES[RESTORE], "sign-in and licences back in Microsoft 365", changed=True)
        self.restore_mailboxes([p for p in outcomes if not p.blocked(RESTORE)])

    def remove_records(self):
        """A rehire restored in full no longer needs the leaver record (the next offboarding writes a new one)."""
        people = [p for p in active(self.people) if p.facts.get("record") and not p.failed]
        if self.check_mode:
            for person in people:
                person.note(TITLES[RECORD], "would be removed once restored", changed=True)
            return
        for person in self.items(M365_USER, people, lambda p: {"user": p.upn, "extensions": {_records.EXTENSION: None}},
                                 RECORD):
            person.note(TITLES[RECORD], "removed: restored in full", changed=True)

    def new_password(self):
        from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import generate_password
        return generate_password()

    def _did(self, action, *words):
        done = {"enable": "enabled", "disable": "disabled", "invite": "invited"}
        done.update(zip(("create", "update", "restore"), words))
        text = done.get(action, action)
        return ("would be " + text) if self.check_mode else text

    def deliver(self, created):
        """The passwords of accounts this run just created reach the people now, before any later step can fail."""
        mails = [p for p in created if p.spec["delivery"] == "email"]
        for person in created:
            if person.spec["delivery"] == "return":
                person.note(TITLES[MAIL], "password returned as onboard_password")
                person.facts["password_delivery"] = "returned as onboard_password"
        if not mails:
            return
        outcomes = self.items("m365_send_mail", mails, lambda p: {
            "label": p.upn, "sender": p.spec["sender"], "to": [p.spec["recipient"]], "subject": p.spec["subject"], "body": self.render_mail(p),
        }, MAIL, no_log=True)
        for person in mails:
            person.advice[MAIL] = ("The account exists; its password did not reach the person and was not kept. Fix the cause (the sender's "
                                   "mailbox, Mail.Send) and run again: the next run sets a new password and mails it, since the account "
                                   "still carries the pending-activation marker.")
            if person in outcomes:
                person.note(TITLES[MAIL], "mailed to %s" % person.spec["recipient"], changed=True)
                person.facts["password_delivery"] = "mailed to %s" % person.spec["recipient"]
            person.password = None  # delivered (or failed to be): never kept
        self.clear_markers([p for p in mails if p in outcomes])

    def clear_markers(self, people):
        """The pending-activation markers of people whose mail went out (a failed mail keeps it, for the next run)."""
        entra = [p for p in people if p.deployment == "entra_source"]
        self.items(M365_USER, entra, lambda p: {"user": p.upn, "extensions": {
            _records.EXTENSION: _records.encode(None, p.facts.get("record"))}}, MAIL)
        federated = [p for p in people if p.deployment == "federated"]
        self.items(PP_USER, federated, lambda p: {"user": p.upn, "source": "cloud", "description": ""}, MAIL)
        for person in federated:
            person.spec["pp"].pop("description", None)  # the account's description is the person's own again

    def aliases(self):
        people = [p for p in self.ready("entra_source", M365_USER) if p.spec["alias_item"]]
        timeout = max([int(p.options.get("onboard_mailbox_timeout") or 900) for p in people] or [900])
        outcomes = self.items("m365_alias", people, lambda p: p.spec["alias_item"], ALIASES,
                              wait_for_mailbox=True, wait_timeout=timeout)
        for person, outcome in outcomes.items():
            if outcome.get("changed"):
                person.note(TITLES[ALIASES], ("would add " if self.check_mode else "added ") + ", ".join(outcome.get("added") or []) or
                            "primary address set", changed=True)

    # 3. federated: Practice Protect cloud accounts -------------------------------------------------------------------

    def cloud_item(self, person):
        item = dict((k, val) for k, val in person.spec["pp"].items() if val is not None)
        return self.untold(person, item)

    def cloud_users(self):
        people = self.of("federated")
        wants_password = [p for p in people if p.spec["delivery"] != "none"]
        items = dict((p, self.cloud_item(p)) for p in people)
        outcomes = self.items(PP_USER, people, lambda p: items[p], PP_USER,
                              return_password=bool(wants_password) and not self.check_mode, no_log=bool(wants_password) and not self.check_mode)
        created = []
        for person, outcome in outcomes.items():
            if person.facts.get("untold") and not self.check_mode:
                person.password = items[person]["password"]
                created.append(person)
            action = outcome.get("action") or "none"
            if outcome.get("changed"):
                person.note(TITLES[PP_USER], self._did(action, "created", "updated", "restored"), changed=True)
            if self.check_mode and action == "create":
                person.pending = True
            if outcome.get("password"):
                person.password = outcome["password"]
                created.append(person)
        self.deliver(created)

    # 4. entra_source: invitations ----------------------------------------------------------------------------------

    def invitations(self):
        people = self.ready("entra_source", M365_USER)
        outcomes = self.items(PP_USER, people, lambda p: p.spec["pp"], INVITE)
        for person, outcome in outcomes.items():
            if outcome.get("changed"):
                person.note(TITLES[INVITE], "would be invited" if self.check_mode else "invited", changed=True)
                if self.check_mode and outcome.get("action") == "invite":
                    person.pending = True

    # 5. roles -------------------------------------------------------------------------------------------------------

    def role_members(self):
        """The people each role call takes: joiners whose Practice Protect account exists (or, entra_source, was invited)."""
        return [p for p in active(self.people, M365_USER, PP_USER, INVITE) if not p.pending]

    def roles(self):
        people = self.role_members()
        for role in sorted(set(r for p in people for r in p.spec["roles"])):
            members = [p for p in people if role in p.spec["roles"]]
            if role in self.role_adds and not any(p.upn in self.role_adds[role] for p in members):
                continue  # the checks found everyone in the role already
            result = self.module("pp_role_member", {"role": role, "members": {"add": [p.upn for p in members]}})
            for person in members:
                step = PROVISIONING_ROLE if role == person.spec["provisioning_role"] else ROLES
                if result.get("failed"):
                    person.fail(step, "%s (%s)" % (TITLES[step], role), result.get("msg"))
                elif person.upn in [m.lower() for m in (result.get("added") or {}).get(role, [])]:
                    person.note(TITLES[ROLES], ("would be added to " if self.check_mode else "added to ") + role, changed=True)
        for source in sorted(set(p.spec["copy_from"] for p in people if p.spec["copy_from"])):
            members = [p for p in people if p.spec["copy_from"] == source and not p.blocked(ROLES)]
            if not members:
                continue
            result = self.module("pp_role_member", {"copy_from": source, "members": {"add": [p.upn for p in members]}})
            for person in members:
                if result.get("failed"):
                    person.fail(ROLES, "%s (copied from %s)" % (TITLES[ROLES], source), result.get("msg"))
                    continue
                added = sorted(role for role, names in (result.get("added") or {}).items() if person.upn in [n.lower() for n in names])
                if added:
                    person.note(TITLES[ROLES], "%s %s (as %s)" % ("would be added to" if self.check_mode else "added to", ", ".join(added), source),
                                changed=True)
                skipped = result.get("copy_skipped") or {}
                if skipped:
                    person.note(TITLES[ROLES], "not copied from %s: %s" % (source, "; ".join("%s (%s)" % (r, why) for r, why in sorted(skipped.items()))))

    # 6. federated: outbound provisioning ------------------------------------------------------------------------------

    def sync(self):
        people = self.ready("federated", PP_USER, PROVISIONING_ROLE)
        if not people:
            for person in self.of("federated", PP_USER, PROVISIONING_ROLE):
                person.note(TITLES[SYNC], "would provision the account to Microsoft 365")
            return
        if self.check_mode:
            for person in people:
                if person.facts.get("m365_action") == "create" or person.changed:
                    person.note(TITLES[SYNC], "would provision the account to Microsoft 365", changed=True)
            return
        # Only people whose Practice Protect side changed, or whom Microsoft 365 does not show yet, need the sync.
        needed = [p for p in people if p.changed or p.facts.get("m365_action") == "create"]
        if not needed:
            return
        timeout = max(int(p.options.get("onboard_sync_timeout") or 900) for p in needed)
        result = self.module("outbound_sync", {"users": [p.upn for p in needed], "verify_upns": True, "timeout": timeout,
                                               "verify_timeout": timeout, "fail_on_user_errors": False})
        if result.get("failed"):
            for person in needed:
                person.fail(SYNC, TITLES[SYNC], result.get("msg"))
            return
        failures = dict(((f.get("User") or "").lower(), f) for f in result.get("failures") or [])
        verified = dict(((r.get("user_principal_name") or "").lower(), r) for r in result.get("verified") or [])
        for person in needed:
            failure = failures.get(person.upn)
            seen = verified.get(person.upn) or {}
            if failure:
                person.fail(SYNC, TITLES[SYNC], "%s - %s" % (failure.get("Reason"), failure.get("Message") or ""))
            elif seen.get("exists"):
                licences = seen.get("licenses") or []
                person.facts["licenses"] = licences
                if person.provisioning == TOKEN:
                    person.note(TITLES[SYNC], "provisioned (token-based: licences and aliases are given in Microsoft 365)", changed=True)
                else:
                    person.note(TITLES[SYNC], "provisioned, licences: %s" % (", ".join(licences) or "none"), changed=True)
            else:
                person.fail(SYNC, TITLES[SYNC], "Microsoft 365 does not show the account after the sync")

    # 6a. token-based federated joiners: licences and aliases in Microsoft 365, which owns them ------------------------------

    def in_m365(self, person):
        """A federated joiner's Microsoft 365 account exists: the sync showed it, or Microsoft 365 had it already."""
        return person.facts.get("m365_action") not in (None, "create") or any(note[0] == TITLES[SYNC] for note in person.notes)

    def token_people(self, *steps):
        return [p for p in self.of("federated", PP_USER, PROVISIONING_ROLE, SYNC, *steps) if p.provisioning == TOKEN]

    def token_licenses(self):
        people = [p for p in self.token_people() if p.spec["token_item"]]
        waiting = [p for p in people if p.pending or not self.in_m365(p)]
        for person in waiting:  # check mode: the account is only planned
            if self.check_mode:
                person.note(TITLES[LICENSES], "would assign %s once the sync shows the account" % ", ".join(person.spec["token_item"]["licenses"]["add"]),
                            changed=True)
        people = [p for p in people if p not in waiting]
        for person, outcome in self.items(M365_USER, people, lambda p: p.spec["token_item"], LICENSES).items():
            person.facts["licenses"] = (outcome.get("user") or {}).get("licenses") or person.facts.get("licenses") or []
            if outcome.get("changed"):
                added = outcome.get("licenses_added") or person.spec["token_item"]["licenses"]["add"]
                person.note(TITLES[LICENSES], "%s %s" % ("would assign" if self.check_mode else "assigned", ", ".join(added)), changed=True)

    def token_aliases(self):
        people = [p for p in self.token_people(LICENSES) if p.spec["alias_item"]]
        waiting = [p for p in people if p.pending or not self.in_m365(p)]
        for person in waiting:
            if self.check_mode:
                person.note(TITLES[ALIASES], "would add %s once the mailbox exists" % (", ".join(person.spec["aliases"]) or "the primary address"),
                            changed=True)
        people = [p for p in people if p not in waiting]
        timeout = max([int(p.options.get("onboard_mailbox_timeout") or 900) for p in people] or [900])
        outcomes = self.items("m365_alias", people, lambda p: p.spec["alias_item"], ALIASES, wait_for_mailbox=True, wait_timeout=timeout)
        for person, outcome in outcomes.items():
            if outcome.get("changed"):
                person.note(TITLES[ALIASES], ("would add " if self.check_mode else "added ") + ", ".join(outcome.get("added") or []) or
                            "primary address set", changed=True)

    # 6b. Microsoft 365 groups ------------------------------------------------------------------------------------------

    def group_members(self):
        """Joiners asking for groups whose Microsoft 365 account exists: entra_source once created, federated once the sync
        shows them (or Microsoft 365 had them already)."""
        entra = [p for p in self.ready("entra_source", M365_USER) if group_item(p)]
        federated = [p for p in self.ready("federated", PP_USER, PROVISIONING_ROLE, SYNC) if group_item(p) and self.in_m365(p)]
        return entra + federated

    def groups(self):
        people = self.group_members()
        waiting = [p for p in active(self.people, M365_USER, PP_USER, PROVISIONING_ROLE, SYNC) if group_item(p) and p not in people]
        for person in waiting:  # check mode: the account is only planned, so are its groups
            if self.check_mode:
                person.note(TITLES[GROUPS], "would be added to %s" % describe_groups(person), changed=True)
        timeout = max([int(p.options.get("onboard_mailbox_timeout") or 900) for p in people] or [900])
        outcomes = self.items("m365_group_member", people, group_item, GROUPS, wait_for_mailbox=True, wait_timeout=timeout)
        for person, outcome in outcomes.items():
            person.facts["groups_added"] = outcome.get("added") or []
            if outcome.get("added"):
                person.note(TITLES[GROUPS], "%s %s" % ("would be added to" if self.check_mode else "added to", ", ".join(outcome["added"])),
                            changed=True)
            skipped = outcome.get("copy_skipped") or {}
            if skipped:
                person.note(TITLES[GROUPS], "not copied from %s: %s" % (person.spec["groups_copy_from"], "; ".join(
                    "%s (%s)" % (name, why) for name, why in sorted(skipped.items()))))

    # 7. verification ------------------------------------------------------------------------------------------------

    def verify(self):
        if self.check_mode:
            return
        people = [p for p in active(self.people) if not p.failed and p.changed and p.options.get("onboard_verify", True)]
        if not people:
            return
        entra = [p for p in people if p.deployment == "entra_source"]
        differences = {}

        def differ(person, text):
            differences.setdefault(person, []).append(text)

        for person, outcome in self.items(M365_USER, entra, lambda p: p.spec["m365"], VERIFY, check=True).items():
            if outcome.get("changed"):
                fields = sorted(set(f for call in outcome.get("plan") or [] for f in call.get("fields") or []))
                differ(person, "Microsoft 365 user: %s" % (", ".join(fields) or outcome.get("action")))
        for person, outcome in self.items("m365_mailbox", [p for p in people if p.facts.get("rehire") and p.facts.get("has_mailbox")],
                                          self.mailbox_item, VERIFY, check=True).items():
            if outcome.get("changed"):
                mailbox = outcome.get("mailbox_before") or {}
                differ(person, "mailbox: %s, hidden %s, forwarding %s" % (mailbox.get("recipient_type_details"), mailbox.get("hidden_from_address_lists"),
                                                                          mailbox.get("forwarding_address") or "none"))
        token = [p for p in people if p.provisioning == TOKEN]
        for person, outcome in self.items(M365_USER, [p for p in token if p.spec["token_item"] and not p.blocked(LICENSES)],
                                          lambda p: p.spec["token_item"], VERIFY, check=True).items():
            if outcome.get("changed"):
                differ(person, "Microsoft 365 licences: %s" % ", ".join(outcome.get("licenses_added") or person.spec["token_item"]["licenses"]["add"]))
        for person, outcome in self.items("m365_alias", [p for p in entra + token if p.spec["alias_item"] and not p.blocked(ALIASES)],
                                          lambda p: p.spec["alias_item"], VERIFY, check=True).items():
            if outcome.get("changed"):
                differ(person, "aliases: %s" % ", ".join(outcome.get("added") or []))
        for person, outcome in self.items("m365_group_member", [p for p in people if group_item(p) and not p.blocked(GROUPS)], group_item,
                                          VERIFY, check=True).items():
            if outcome.get("changed"):
                differ(person, "not in groups: %s" % ", ".join(outcome.get("added") or []))
        for person, outcome in self.items(PP_USER, people, lambda p: p.spec["pp"], VERIFY, check=True).items():
            if outcome.get("changed"):
                differ(person, "Practice Protect user: %s" % outcome.get("action"))
        for role in sorted(set(r for p in people for r in p.spec["roles"])):
            members = [p for p in people if role in p.spec["roles"]]
            result = self.module("pp_role_member", {"role": role, "members": {"add": [p.upn for p in members]}}, check=True)
            missing = [m.lower() for m in (result.get("added") or {}).get(role, [])]
            for person in members:
                if result.get("failed") or person.upn in missing:
                    differ(person, "not in Practice Protect role %s" % role)
        federated = [p for p in people if p.deployment == "federated"]
        if federated:
            result = self.module("m365_user_info", {"users": [p.upn for p in federated], "select": ["id", "userPrincipalName", "accountEnabled"]},
                                 check=True)
            found = dict(((u.get("userPrincipalName") or "").lower(), u) for u in result.get("users") or [])
            for person in federated:
                user = found.get(person.upn)
                if result.get("failed"):
                    differ(person, "reading Microsoft 365 failed: %s" % result.get("msg"))
                elif user is None:
                    differ(person, "not in Microsoft 365")
                elif user.get("accountEnabled") is False:
                    differ(person, "blocked from signing in to Microsoft 365")
        for person, texts in differences.items():
            person.fail(VERIFY, TITLES[VERIFY], "differs from the request after onboarding: %s" % "; ".join(texts))


def describe_groups(person):
    spec = person.spec
    parts = list(spec["groups"])
    if spec["groups_copy_from"]:
        parts.append("the groups of %s" % spec["groups_copy_from"])
    return ", ".join(parts)


def result_fact(person, check_mode):
    """The ``onboard_result`` fact of a joiner's host (never a password)."""
    sync = "not needed"
    if person.deployment == "federated":
        sync_notes = [text for title, text in person.notes if title == TITLES[SYNC]]
        sync_failures = [message for step, title, message in person.failures if step == SYNC]
        if sync_failures:
            sync = "provisioning failed: %s" % sync_failures[0]
        elif sync_notes:
            sync = sync_notes[-1]
        elif person.facts.get("m365_action") not in (None, "create"):
            sync = "already in Microsoft 365"
        elif person.failed:
            sync = "not run"
    spec = person.spec or {}
    return {
        "upn": person.upn,
        "deployment": person.deployment,
        "m365_upn": "" if person.pending else person.upn,
        "licenses": person.facts.get("licenses") or [],
        "aliases": spec.get("aliases") or [],
        "pp_roles": spec.get("roles") or [],
        "groups": spec.get("groups") or [],
        # What the run put the person into: the groups asked for, a similar user's, a rehire's back from the leaver record.
        "groups_added": person.facts.get("groups_added") or [],
        "sync": sync,
        "password_delivery": person.facts.get("password_delivery") or "none",
        "changed": person.changed,
        "failed": person.failed,
        "outcome": _people.outcome_text(person, "onboarded", check_mode),
        "steps": ["%s: %s" % (title, text) for title, text in person.notes],
    }
