# -*- coding: utf-8 -*-
"""The bad-input matrix (issue 9, part 2): every module, both roles and both playbooks refuse bad input with the exact,
clear message and without a single write to Microsoft 365, Exchange or Practice Protect.

Module cases of one kind run as the tasks of one playbook (``ignore_errors``, each result read back by name); role
cases are the hosts of one inventory (every host is bad, so zero writes overall is zero writes per case); the empty
inventories get their own runs. The values that look odd but are valid (apostrophes, accents, the longest lengths
allowed) are proven to work in their own tests. The figures go to tests/output/reliability/bad_input.json.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from tests.integration.plugins.modules.pp_support import pp_user
from tests.integration.support import ROOT, last_seq, play, playbook, record_figures

OUT = os.path.join(ROOT, "tests", "output", "reliability", "bad_input.json")
D = "northwindacct.com"
LEGACY = "northwind-legacy.com"  # a domain of the tenant that is not verified
SARAH = "sarah.jones@" + D
TOM = "tom.baker@" + D
LONG_LOCAL = "a" * 65  # one more than RFC 5321 allows before the @
NOBODY = "nobody.here@" + D


def record(section, figures):
    record_figures(OUT, section, figures, summarise=_totals)


def _totals(table):
    """Every section, with the totals of all of them and the cases per target."""
    keys = ("cases", "refused_with_exact_message", "zero_writes", "accepted_values_ok")
    total = dict((key, sum(part.get(key, 0) for part in table.values())) for key in keys)
    by_target = {}
    for part in table.values():
        for target, count in part.get("by_target", {}).items():
            by_target[target] = by_target.get(target, 0) + count
    return dict(table, by_target=by_target, **total)


def users_by_upn(sandbox):
    return dict((u["userPrincipalName"].lower(), u) for u in sandbox.state()["users"] if u["_state"] == "active")


# -- modules: (case id, module, options, the exact msg) ---------------------------------------------------------------

MODULE_CASES = [
    # m365_user
    ("user: malformed UPN", "m365_user", {"user": "not-an-upn", "display_name": "X"},
     "user 'not-an-upn' must look like name@domain, with exactly one @."),
    ("user: UPN on an unverified domain", "m365_user", {"user": "new.person@" + LEGACY, "display_name": "X"},
     "The domain northwind-legacy.com is in the tenant but not verified, so Microsoft 365 refuses it for user. Verif"
     "y it first, or use one of: northwindacct.com, northwindacct.onmicrosoft.com."),
    ("user: UPN on a domain not in the tenant", "m365_user", {"user": "new.person@contoso.com", "display_name": "X"},
     "The domain contoso.com is not a domain of this tenant. Verified domains: northwindacct.com, northwindacct.onmi"
     "crosoft.com."),
    ("user: local part over 64", "m365_user", {"user": LONG_LOCAL + "@" + D, "display_name": "X"},
     "user 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@northwindacct.com' is too long: at most "
     "113 characters in all and 64 before the @."),
    ("user: display name over 256", "m365_user", {"user": "long.name@" + D, "display_name": "x" * 257},
     "display_name is 257 characters long; Microsoft 365 allows at most 256."),
    ("user: job title over 128", "m365_user", {"user": "long.title@" + D, "display_name": "X", "job_title": "t" * 129},
     "job_title is 129 characters long; Microsoft 365 allows at most 128."),
    ("user: phone too short", "m365_user", {"user": "short.phone@" + D, "display_name": "X", "mobile_phone": "12"},
     "mobile_phone '12' is not a phone number. Give it in international form (+61 412 345 678) or set phone_region."),
    ("user: phone in words", "m365_user", {"user": "word.phone@" + D, "display_name": "X", "mobile_phone": "call me",
                                           "phone_region": "AU"}, "mobile_phone 'call me' is not a phone number."),
    ("user: local phone without a region", "m365_user", {"user": "local.phone@" + D, "display_name": "X",
                                                         "mobile_phone": "0412 345 678"},
     "mobile_phone '0412 345 678' is not a phone number. Give it in international form (+61 412 345 678) or set phon"
     "e_region."),
    ("user: unknown SKU", "m365_user", {"user": "sku.person@" + D, "display_name": "X", "usage_location": "AU",
                                        "licenses": {"add": ["NOT_A_SKU"]}},
     "Unknown licence NOT_A_SKU: this tenant subscribes to ENTERPRISEPACK, EXCHANGESTANDARD, FLOW_FREE, O365_BUSINES"
     "S_ESSENTIALS, O365_BUSINESS_PREMIUM, SPB. Give a SKU part number or skuId from that list."),
    ("user: no free seat", "m365_user", {"user": "seat.person@" + D, "display_name": "X", "usage_location": "AU",
                                         "licenses": {"add": ["ENTERPRISEPACK"]}},
     "No free seat on ENTERPRISEPACK: 2 bought, 2 in use. Buy more seats or free one; SKUs with free seats: EXCHANGE"
     "STANDARD (5 free), FLOW_FREE (10000 free), O365_BUSINESS_ESSENTIALS (10 free), O365_BUSINESS_PREMIUM (24 free)"
     ", SPB (10 free)."),
    ("user: licence without usage location", "m365_user", {"user": "where.person@" + D, "display_name": "X",
                                                           "licenses": {"add": ["O365_BUSINESS_PREMIUM"]}},
     "usage_location is required to assign licences to where.person@northwindacct.com (Microsoft 365 refuses licence"
     "s without it); set usage_location, for example AU."),
    ("user: unknown usage location", "m365_user", {"user": "zz.person@" + D, "display_name": "X", "usage_location": "ZZ"},
     "usage_location 'ZZ' is not an ISO 3166 two-letter country code (for example AU, GB, US)."),
    ("user: bool given as a word", "m365_user", {"user": SARAH, "account_enabled": "maybe"},
     "argument 'account_enabled' is of type str and we were unable to convert to bool: The value 'maybe' is not a va"
     "lid boolean. Valid booleans include: 0, 1, 't', 'y', 'off', 'n', 'no', 'f', 'yes', 'on', '1', 'false', 'true',"
     " '0'"),
    ("user: int given as a word", "m365_user", {"user": SARAH, "replication_timeout": "soon"},
     "argument 'replication_timeout' is of type str and we were unable to convert to int: \"'soon'\" cannot be convert"
     "ed to an int"),
    ("user: licences as a dict of their own", "m365_user", {"user": SARAH, "licenses": {"O365_BUSINESS_PREMIUM": 1}},
     "Unsupported parameters for (practiceprotect.m365.m365_user) module: licenses.O365_BUSINESS_PREMIUM. Supported p"
     "arameters include: add, remove, set."),
    ("user: licence added and removed", "m365_user", {"user": SARAH, "licenses": {"add": ["FLOW_FREE"], "remove": ["FLOW_FREE"]}},
     "licenses lists flow_free under both add and remove; give each value once."),
    ("user: removal limit in words", "m365_user", {"user": SARAH, "licenses": {"set": []}, "max_removals": "all of them"},
     "max_removals must be a number or a percentage such as 10%, not 'all of them'."),
    ("user: removal limit over 100%", "m365_user", {"user": SARAH, "licenses": {"set": []}, "max_removals": "110%"},
     "max_removals 110% is more than 100%."),
    ("user: every licence over max_removals", "m365_user", {"user": SARAH, "licenses": {"set": []}, "max_removals": 0, "allow_mail_loss": True},
     "Refusing to remove 1 licences from sarah.jones@northwindacct.com, more than max_removals (0): ENTERPRISEPACK. List them to kee"
     "p them, or raise max_removals if this is intended."),
    ("user: unknown manager", "m365_user", {"user": SARAH, "manager": NOBODY},
     "manager nobody.here@northwindacct.com is not a user in this tenant."),
    ("user: weak password", "m365_user", {"user": "weak.password@" + D, "display_name": "X", "password": "short"},
     "password must be 8 to 256 characters long."),
    ("user: other mail malformed", "m365_user", {"user": SARAH, "other_mails": ["not an address"]},
     "other_mails 'not an address' is not a valid e-mail address: An email address must have an @-sign."),
    # m365_user_info
    ("user_info: malformed filter", "m365_user_info", {"filter": "userPrincipalName eq"},
     "Invalid filter clause: Expression expected at position 20 in 'userPrincipalName eq'."),
    ("user_info: int given as a word", "m365_user_info", {"max_items": "lots"},
     "argument 'max_items' is of type str and we were unable to convert to int: \"'lots'\" cannot be converted to an i"
     "nt"),
    ("user_info: unknown user type", "m365_user_info", {"user_type": "Robot"}, 'value of user_type must be one of: Member, Guest, got: Robot'),
    # m365_alias
    ("alias: owned by someone else", "m365_alias", {"user": SARAH, "aliases": {"add": [TOM]}},
     "sarah.jones@northwindacct.com cannot get tom.baker@northwindacct.com: the address already belongs to Tom Baker"
     " (tom.baker@northwindacct.com). Remove it there first, or choose another address."),
    ("alias: unverified domain", "m365_alias", {"user": SARAH, "aliases": {"add": ["sj@" + LEGACY]}},
     "sarah.jones@northwindacct.com cannot get sj@northwind-legacy.com: northwind-legacy.com is not an accepted doma"
     "in of this Exchange Online organisation (accepted: northwindacct.com, northwindacct.onmicrosoft.com). Add and "
     "verify the domain in Microsoft 365 first, or use an accepted domain."),
    ("alias: not an address", "m365_alias", {"user": SARAH, "aliases": {"add": ["not an address"]}},
     "aliases.add 'not an address' is not a valid e-mail address: An email address must have an @-sign."),
    ("alias: accented", "m365_alias", {"user": SARAH, "aliases": {"add": [u"s\u00e9rah@" + D]}},
     "aliases.add 'sérah@northwindacct.com' is not a valid e-mail address: Internationalized characters before the @"
     "-sign are not supported: 'é'."),
    ("alias: local part over 64", "m365_alias", {"user": SARAH, "aliases": {"set": [LONG_LOCAL + "@" + D]}},
     "aliases.set 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@northwindacct.com' is not a vali"
     "d e-mail address: it has 65 characters before the @-sign, and at most 64 are allowed."),
    ("alias: not an address to remove", "m365_alias", {"user": SARAH, "aliases": {"remove": ["jc@"]}},
     "aliases.remove 'jc@' is not a valid e-mail address: There must be something after the @-sign."),
    ("alias: unknown user", "m365_alias", {"user": NOBODY, "aliases": {"add": ["nobody@" + D]}},
     "user nobody.here@northwindacct.com is not a user in this tenant; give the UPN or object id of an existing user"
     "."),
    ("alias: removal limit in words", "m365_alias", {"user": SARAH, "aliases": {"add": ["sj@" + D]}, "max_removals": "ten"},
     "max_removals must be a number or a percentage such as 10%, not 'ten'."),
    ("alias: added and removed", "m365_alias", {"user": SARAH, "aliases": {"add": ["sj@" + D], "remove": ["SJ@" + D]}},
     "aliases lists sj@northwindacct.com under both add and remove; give each value once."),
    ("alias: the primary removed", "m365_alias", {"user": SARAH, "aliases": {"remove": [SARAH]}},
     "sarah.jones@northwindacct.com is the primary address of sarah.jones@northwindacct.com and cannot be removed; ma"
     "ke another address the primary first (primary)."),
    ("alias: nothing asked", "m365_alias", {"user": SARAH, "aliases": {}},
     "Give aliases (add, remove or set) or primary; there is nothing to do."),
    # m365_mailbox
    ("mailbox: accented forwarding address", "m365_mailbox", {"user": TOM, "forwarding_address": u"s\u00e9rah@" + D},
     "forwarding_address 'sérah@northwindacct.com' is not a valid e-mail address: Internationalized characters befor"
     "e the @-sign are not supported: 'é'."),
    ("mailbox: malformed forwarding address", "m365_mailbox", {"user": TOM, "forwarding_address": "sarah at northwind"},
     "forwarding_address 'sarah at northwind' is not a valid e-mail address: An email address must have an @-sign."),
    ("mailbox: full access to a non-user", "m365_mailbox", {"user": TOM, "full_access": {"add": ["not a user"]}},
     "full_access.add entry 'not a user' is neither a UPN nor an object id."),
    ("mailbox: grant and revoke the same", "m365_mailbox", {"user": TOM, "full_access": {"add": [SARAH], "remove": [SARAH]}},
     "full_access lists sarah.jones@northwindacct.com under both add and remove; give each value once."),
    ("mailbox: full access for someone unknown", "m365_mailbox", {"user": TOM, "full_access": {"set": [NOBODY]}},
     "full_access.set: nobody.here@northwindacct.com is not a user in this tenant."),
    ("mailbox: automatic reply ending before it starts", "m365_mailbox",
     {"user": TOM, "auto_reply": {"internal_message": "Tom has left.", "start": "2027-01-31T17:00:00+11:00", "end": "2026-12-24T17:00:00+11:00"}},
     "auto_reply.end (2026-12-24T17:00:00+11:00) is not after auto_reply.start (2027-01-31T17:00:00+11:00); give an end after the start."),
    ("mailbox: automatic reply without a text", "m365_mailbox", {"user": TOM, "auto_reply": {"external_message": "Gone."}},
     "auto_reply.internal_message is empty; give the text colleagues get (external_message defaults to it), or set auto_reply.enabled false "
     "to switch automatic replies off."),
    ("mailbox: automatic reply start without its zone", "m365_mailbox",
     {"user": TOM, "auto_reply": {"internal_message": "Tom has left.", "start": "2026-12-24 17:00", "end": "2027-01-31T17:00:00Z"}},
     "auto_reply.start '2026-12-24 17:00' is not a time with its zone; write it like 2026-12-24T17:00:00+11:00 (or ...Z for UTC)."),
    # m365_access
    ("access: methods cannot be added", "m365_access", {"user": TOM, "authentication_methods": {"add": ["phone"]}},
     "authentication_methods.add is not supported: this module only removes authentication methods. People register their own methods at "
     "https://aka.ms/mysecurityinfo."),
    ("access: unknown kind of method", "m365_access", {"user": TOM, "authentication_methods": {"remove": ["sms"]}},
     "authentication_methods.remove: 'sms' is not a kind of authentication method; use phone, microsoftAuthenticator, fido2, softwareOath, "
     "email, windowsHelloForBusiness, temporaryAccessPass, platformCredential."),
    ("access: the password method", "m365_access", {"user": TOM, "authentication_methods": {"set": ["phone"], "remove": ["password"]}},
     "authentication_methods.remove: Graph cannot remove the password method; it is always kept. Use m365_user scramble_password to make the "
     "password unknown."),
    ("access: methods over the limit", "m365_access", {"user": TOM, "authentication_methods": {"set": []}, "max_removals": 3},
     "Refusing to remove 7 authentication methods from tom.baker@northwindacct.com, more than max_removals (3): phone b6332ec1-7057-4abe-"
     "9331-3d72feddfe41, phone 3179e48a-750b-4051-897c-87b9720928f7, microsoftAuthenticator 6e1e8c3b-d5c7-4f1f-9b7c-2a3b4c5d6e7f, fido2 -2_"
     "GRUg2-HYz6_1YG4YRAQ2, softwareOath b172893e-893e-b172-3e89-72b13e8972b1, email 3ddfcfc8-9383-446f-83cc-3ab9be4be18f, temporaryAccessP"
     "ass 9d7e1f3a-2b4c-4d5e-8f6a-7b8c9d0e1f2a. List them to keep them, or raise max_removals if this is intended."),
    ("access: devices as a plain list", "m365_access", {"user": TOM, "mobile_devices": ["ApplF17ZQ0A3N72J"]},
     "mobile_devices takes add, remove or set, for example mobile_devices: {add: [...]}; a plain list is not accepted."),
    ("access: unknown person", "m365_access", {"user": NOBODY, "disable_external_forwarding_rules": True},
     "user nobody.here@northwindacct.com is not a user in this tenant; give the UPN or object id of an existing user."),
    # m365_user scramble
    ("user: scramble with a password", "m365_user", {"user": TOM, "scramble_password": True, "password": "Kn0wn-Passw0rd!"},
     "scramble_password sets a random password nobody knows; leave password out, or scramble_password false to set that password."),
    ("mailbox: removal limit below 0", "m365_mailbox", {"user": TOM, "full_access": {"set": []}, "max_removals": -1},
     "max_removals must be 0 or more."),
    ("mailbox: bool given as a word", "m365_mailbox", {"user": TOM, "hidden_from_address_lists": "perhaps"},
     "argument 'hidden_from_address_lists' is of type str and we were unable to convert to bool: The value 'perhaps'"
     " is not a valid boolean. Valid booleans include: 0, 1, 'no', '0', '1', 'true', 'yes', 't', 'false', 'n', 'y', "
     "'on', 'off', 'f'"),
    ("mailbox: unknown type", "m365_mailbox", {"user": TOM, "type": "archive"}, 'value of type must be one of: shared, regular, got: archive'),
    ("mailbox: unknown user", "m365_mailbox", {"user": NOBODY, "type": "shared"},
     "user nobody.here@northwindacct.com is not a user in this tenant; give the UPN or object id of an existing user"
     "."),
    # m365_send_mail
    ("send_mail: malformed recipient", "m365_send_mail", {"sender": SARAH, "to": ["not an address"], "subject": "Test", "body": "Hello there"},
     "to 'not an address' is not a valid e-mail address: An email address must have an @-sign."),
    ("send_mail: unknown sender", "m365_send_mail", {"sender": NOBODY, "to": [TOM], "subject": "Test", "body": "Hello there"},
     "sender nobody.here@northwindacct.com is not a user in this tenant; give the UPN or object id of the mailbox th"
     "at sends the message."),
    ("send_mail: recipient local part over 64", "m365_send_mail", {"sender": SARAH, "to": [LONG_LOCAL + "@" + D], "subject": "Test", "body": "Hello there"},
     "to 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@northwindacct.com' is not a valid e-mail"
     " address: it has 65 characters before the @-sign, and at most 64 are allowed."),
    ("send_mail: unknown body type", "m365_send_mail", {"sender": SARAH, "to": [TOM], "subject": "Test", "body": "Hello there", "body_type": "markdown"},
     'value of body_type must be one of: text, html, got: markdown'),
    # service_account
    ("service_account: unknown Entra role", "service_account", {"roles": {"add": ["Chief Wizard"]}},
     "Unknown directory role: 'Chief Wizard' is not a directory role in this tenant (no role has a similar name). Gi"
     "ve roles by display name (for example Exchange Administrator) or by template id."),
    ("service_account: unverified domain", "service_account", {"domain": LEGACY, "purpose": "federation"},
     "The domain northwind-legacy.com is in the tenant but not verified, so Microsoft 365 refuses it for domain. Ver"
     "ify it first, or use one of: northwindacct.com, northwindacct.onmicrosoft.com."),
    ("service_account: unknown purpose", "service_account", {"purpose": "email"}, 'value of purpose must be one of: federation, mail_redirection, got: email'),
    ("service_account: removal limit in words", "service_account", {"purpose": "federation", "max_removals": "three"},
     "max_removals must be a number or a percentage such as 10%, not 'three'."),
    ("service_account: no roles asked", "service_account", {"roles": {}},
     "roles is empty; give add, remove or set with directory role names."),
    ("service_account: name over 64", "service_account", {"name": LONG_LOCAL, "purpose": "federation"},
     "name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a valid sign-in name: use up t"
     "o 64 letters, digits and ' . - _ ! # ^ ~ characters, not starting or ending with a dot."),
    # app_registration
    ("app_registration: unknown permission", "app_registration", {"permissions": {"add": ["User.ReadWrite.Al"]}},
     "permissions: not a Microsoft Graph application permission: 'User.ReadWrite.Al' (did you mean User.ReadWrite.All or User.Read.All or "
     "Group.ReadWrite.All?)."),
    ("app_registration: permission not a name", "app_registration", {"permissions": {"set": ["read users"]}},
     "permissions.set: 'read users' is not a Microsoft Graph permission name such as User.ReadWrite.All."),
    ("app_registration: app id not a GUID", "app_registration", {"app_id": "practice-protect"},
     "app_id 'practice-protect' is not an application (client) id, a GUID such as 1b2c3d4e-...; leave it out to find the app registration by "
     "display_name."),
    ("app_registration: unknown app id", "app_registration", {"app_id": "0b5d5c9e-1f1a-4c4e-9a47-7d6f2b1e0c11"},
     "No app registration has the client id 0b5d5c9e-1f1a-4c4e-9a47-7d6f2b1e0c11; leave app_id out to create one named 'Practice Protect'."),
    ("app_registration: certificate without a path", "app_registration", {"credential": "certificate"},
     "credential is certificate, so give certificate_path (the public certificate, PEM or DER)."),
    ("app_registration: certificate file missing", "app_registration", {"credential": "certificate", "certificate_path": "/nonexistent/pp.crt"},
     "certificate_path /nonexistent/pp.crt cannot be read: [Errno 2] No such file or directory: '/nonexistent/pp.crt'."),
    ("app_registration: secret for three years", "app_registration", {"secret_expiry_days": 1095},
     "secret_expiry_days must be between 1 and 730 (Microsoft recommends secrets of less than two years), not 1095."),
    ("app_registration: unknown credential", "app_registration", {"credential": "password"},
     "value of credential must be one of: secret, certificate, none, got: password"),
    ("app_registration: removal limit in words", "app_registration", {"max_removals": "some"},
     "max_removals must be a number or a percentage such as 10%, not 'some'."),
    # pp_user
    ("pp_user: malformed name", "pp_user", {"user": "not a login", "display_name": "X"}, "user 'not a login' must be login name, login@suffix."),
    ("pp_user: name on a foreign domain", "pp_user", {"user": "new.person@contoso.com", "display_name": "X"},
     "user new.person@contoso.com: contoso.com is not a login suffix of this Practice Protect tenant. Login suffixes"
     ": northwindacct.com, northwind-legacy.com."),
    ("pp_user: accented login name", "pp_user", {"user": u"s\u00e9an@" + D, "display_name": "X"},
     "user 'séan@northwindacct.com' contains characters Practice Protect does not allow in a login name ('é'); use l"
     "etters, digits and ' . - _ + ! # ^ ~ only."),
    ("pp_user: bad phone", "pp_user", {"user": "pp.phone@" + D, "display_name": "X", "mobile_number": "12"},
     "mobile_number '12' is not a phone number. Give it in international form (+61 412 345 678) or set phone_region."),
    ("pp_user: duplicate proxy addresses", "pp_user", {"user": "pp.dup@" + D, "display_name": "X",
                                                       "proxy_addresses": ["pp.dup@" + D, "pp@" + D, "PP@" + D]},
     "proxy_addresses: PP@northwindacct.com appears more than once (aliases must differ from each other and from the primary)."),
    ("pp_user: unknown attribute", "pp_user", {"user": SARAH, "source": "cloud", "attributes": {"No_Such_Column": "x"}},
     "attributes: No_Such_Column is not an additional attribute of this tenant. Attributes: Cost_Centre, O365_ProxyA"
     "ddresses, Staff_Number."),
    ("pp_user: dict given as a list", "pp_user", {"user": SARAH, "attributes": ["Cost_Centre"]},
     "argument 'attributes' is of type list and we were unable to convert to dict: <class 'list'> cannot be converte"
     "d to a dict"),
    ("pp_user: directory user not in the directory", "pp_user", {"user": NOBODY, "source": "directory"},
     "No user with the UPN or e-mail address nobody.here@northwindacct.com in the source directory (any). Create the"
     " user in Microsoft 365 first (m365_user), or check the address."),
    # pp_role_member
    ("pp_role_member: unknown role", "pp_role_member", {"role": "No Such Role", "members": {"add": [SARAH]}},
     "Unknown role 'No Such Role'. Roles: Audit Team, Everybody, Office 365, Portal Access, System Administrator, Ta"
     "x Team."),
    ("pp_role_member: set over max_removals", "pp_role_member", {"role": "Portal Access", "members": {"set": [SARAH]}, "max_removals": 1},
     "Refusing to remove 3 users from role Portal Access, more than max_removals (1): priya.patel@northwindacct.com, "
     "reception@northwindacct.com, tom.baker@northwindacct.com. List them to keep them, or raise max_removals if th"
     "is is intended."),
    ("pp_role_member: set over a share", "pp_role_member", {"role": "Portal Access", "members": {"set": [SARAH]}, "max_removals": "50%"},
     "Refusing to remove 3 users from role Portal Access, more than max_removals (50% of the 4 held now, rounded dow"
     "n, at least 1: 2): priya.patel@northwindacct.com, reception@northwindacct.com, tom.baker@northwindacct.com. L"
     "ist them to keep them, or raise max_removals if this is intended."),
    ("pp_role_member: remove over max_removals", "pp_role_member",
     {"role": "Tax Team", "members": {"remove": [TOM, "priya.patel@" + D]}, "max_removals": 1},
     "Refusing to remove 2 users from role Tax Team, more than max_removals (1): priya.patel@northwindacct.com, tom."
     "baker@northwindacct.com. List them to keep them, or raise max_removals if this is intended."),
    ("pp_role_member: unknown member", "pp_role_member", {"role": "Portal Access", "members": {"add": [NOBODY]}},
     "Unknown user: no Practice Protect user has the login name or e-mail nobody.here@northwindacct.com (no close ma"
     "tch). Invite or create the user first (pp_user)."),
    ("pp_role_member: copy from an unknown user", "pp_role_member", {"copy_from": NOBODY, "members": {"add": [SARAH]}},
     "Unknown user: no Practice Protect user has the login name or e-mail nobody.here@northwindacct.com (no close ma"
     "tch). Invite or create the user first (pp_user)."),
    ("pp_role_member: members as a dict of their own", "pp_role_member", {"role": "Portal Access", "members": {"sarah": 1}},
     "Unsupported parameters for (practiceprotect.m365.pp_role_member) module: members.sarah. Supported parameters i"
     "nclude: add, remove, set."),
    ("pp_role_member: removal limit in words", "pp_role_member", {"role": "Portal Access", "members": {"set": [SARAH]}, "max_removals": "few"},
     "max_removals must be a number or a percentage such as 10%, not 'few'."),
    # outbound_sync
    ("outbound_sync: unknown app", "outbound_sync", {"app": "No Such App"},
     "Unknown application 'No Such App'. Applications with outbound provisioning: Office 365."),
    ("outbound_sync: int given as a word", "outbound_sync", {"timeout": "forever"},
     "argument 'timeout' is of type str and we were unable to convert to int: \"'forever'\" cannot be converted to an "
     "int"),
    ("outbound_sync: malformed user", "outbound_sync", {"users": ["not a user"]},
     "Unknown user: no Practice Protect user has the login name or e-mail not a user (no close match). Invite or cre"
     "ate the user first (pp_user)."),
]


def module_task(case_id, module, options):
    return {"name": case_id, "practiceprotect.m365.%s" % module: options, "register": re.sub(r"\W+", "_", case_id).strip("_"),
            "ignore_errors": True, "when": "inventory_hostname == %r" % module}


def same_message(got, expected):
    """Exact, except for Ansible's list of valid booleans, whose order changes from run to run."""
    marker = "Valid booleans include: "
    if expected and marker in expected and got and marker in got:
        head, tail = expected.split(marker)
        got_head, got_tail = got.split(marker)
        return head == got_head and set(tail.split(", ")) == set(got_tail.split(", "))
    return got == expected


def check_module_cases(sandbox, run_playbook, cases, section):
    """Run ``cases`` as one playbook (one host per module), then check each exact message and that nothing was written."""
    modules = sorted(set(module for _, module, _, _ in cases))
    text = json.dumps([{"name": "bad input", "hosts": "all", "gather_facts": False, "strategy": "free",
                        "tasks": [module_task(case_id, module, options) for case_id, module, options, _ in cases]}], indent=1)
    start = last_seq(sandbox)
    run = run_playbook(text, inventory=",".join(modules) + ",", env={"ANSIBLE_FORKS": "9", "ANSIBLE_PIPELINING": "1"})
    writes = sandbox.writes(start)
    figures = {"cases": len(cases), "refused_with_exact_message": 0, "zero_writes": len(cases) if not writes else 0,
               "by_target": {}}
    wrong = []
    for case_id, module, _, expected in cases:
        task = run.task(case_id, host=module)
        msg = task["result"].get("msg")
        if task["status"] == "failed" and same_message(msg, expected):
            figures["refused_with_exact_message"] += 1
            figures["by_target"][module] = figures["by_target"].get(module, 0) + 1
        else:
            wrong.append("%s: %s %r" % (case_id, task["status"], msg))
    record(section, figures)
    assert not wrong, "\n".join(wrong)
    assert writes == [], [(w["service"], w["method"], w["path"], w.get("cmdlet"), w["status"]) for w in writes]


def test_module_cases_are_refused_with_the_exact_message_and_no_write(sandbox, run_playbook):
    check_module_cases(sandbox, run_playbook, MODULE_CASES, "modules")


def plain_list(option):
    return "%s takes add, remove or set, for example %s: {add: [...]}; a plain list is not accepted." % (option, option)


# The form the many-valued options had before the list idiom: a plain list, refused with the idiom's own message.
PLAIN_LIST_CASES = [
    ("user: licences as a plain list", "m365_user", {"user": SARAH, "licenses": ["ENTERPRISEPACK"]}, plain_list("licenses")),
    ("alias: aliases as a plain list", "m365_alias", {"user": SARAH, "aliases": ["sj@" + D]}, plain_list("aliases")),
    ("mailbox: full access as a plain list", "m365_mailbox", {"user": TOM, "full_access": [SARAH]}, plain_list("full_access")),
    ("service_account: roles as a plain list", "service_account", {"roles": ["Global Reader"]}, plain_list("roles")),
    ("pp_role_member: members as a plain list", "pp_role_member", {"role": "Portal Access", "members": [SARAH]}, plain_list("members")),
    ("group_member: groups as a plain list", "m365_group_member", {"user": SARAH, "groups": ["Tax Team"]}, plain_list("groups")),
    ("app_registration: permissions as a plain list", "app_registration", {"permissions": ["User.ReadWrite.All"]}, plain_list("permissions")),
]


def test_a_plain_list_is_refused_with_the_list_idiom_message_and_no_write(sandbox, run_playbook):
    check_module_cases(sandbox, run_playbook, PLAIN_LIST_CASES, "plain_lists")


# m365_group_member, against the default seed plus two groups named Projects (tom.baker is in Tax Team, Client Services, Tax
# Announcements, File Share Access and three groups the module may not change).
PROJECTS = [{"id": "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f41", "displayName": "Projects"},
            {"id": "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f42", "displayName": "Projects", "mailEnabled": True, "securityEnabled": False,
             "mail": "projects@" + D}]
GROUP_CASES = [
    ("group_member: unknown group", "m365_group_member", {"user": SARAH, "groups": {"add": ["Tax Team", "Tax Teem"]}},
     "groups: no group of this tenant has the display name, mail address or object id 'Tax Teem'; check the spelling, or give the group's "
     "object id."),
    ("group_member: ambiguous name", "m365_group_member", {"user": SARAH, "groups": {"add": ["Projects"]}},
     "groups: 'Projects' is the name of 2 groups: 0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f41 (security group), 0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f42 "
     "(distribution list); give the object id of the one you mean."),
    ("group_member: dynamic group", "m365_group_member", {"user": SARAH, "groups": {"add": ["Tax Team", "Licensed Staff"]}},
     "Refused before any change: groups.add: sarah.jones@northwindacct.com cannot be given Licensed Staff: its members come from its "
     "membership rule ((user.assignedPlans -any (assignedPlan.capabilityStatus -eq \"Enabled\"))); change the rule, or the user's "
     "attributes, instead."),
    ("group_member: removal over the limit", "m365_group_member", {"user": TOM, "groups": {"set": ["All Staff"]}, "max_removals": 2},
     "Refusing to remove 4 groups from tom.baker@northwindacct.com, more than max_removals (2): Client Services, File Share Access, Tax "
     "Announcements, Tax Team. List them to keep them, or raise max_removals if this is intended."),
    ("group_member: unknown user", "m365_group_member", {"user": NOBODY, "groups": {"add": ["Tax Team"]}},
     "user nobody.here@northwindacct.com is not a user in this tenant; give the UPN or object id of an existing user."),
    ("group_member: nothing asked", "m365_group_member", {"user": SARAH, "groups": {}},
     "Give groups (add, remove or set) or copy_from; there is nothing to do."),
]


def test_group_member_cases_are_refused_with_the_exact_message_and_no_write(sandbox, run_playbook):
    sandbox.seed([], PROJECTS)
    check_module_cases(sandbox, run_playbook, GROUP_CASES, "groups")


# -- roles: one inventory per role, every host a bad person (host, host vars, the failing task's exact msg) -----------

ONBOARD_CASES = [
    ("malformed.upn", {"person": {"upn": "not-an-upn", "given_name": "Not"}},
     "not-an-upn was not onboarded: checks before the first write: person.upn 'not-an-upn' must look like name@domai"
     'n, with exactly one @. Nothing was written for them; correct it and run again.'),
    ("unverified.entra", {"person": {"upn": "new.person@" + LEGACY, "given_name": "New"}},
     'new.person@northwind-legacy.com was not onboarded: checks before the first write: The domain northwind-legacy.'
     'com is in the tenant but not verified, so Microsoft 365 refuses it for person.upn. Verify it first, or use one'
     ' of: northwindacct.com, northwindacct.onmicrosoft.com. Nothing was written for them; correct it and run again.'),
    ("unverified.federated", {"onboard_deployment": "federated", "person": {"upn": "fed.person@" + LEGACY, "given_name": "Fed"}},
     'fed.person@northwind-legacy.com was not onboarded: checks before the first write: The domain northwind-legacy.'
     'com is in the tenant but not verified, so Microsoft 365 refuses it for person.upn. Verify it first, or use one'
     ' of: northwindacct.com, northwindacct.onmicrosoft.com. Nothing was written for them; correct it and run again.'),
    ("alias.taken", {"person": {"upn": "alias.taken@" + D, "given_name": "Alias", "aliases": [TOM]}},
     'alias.taken@northwindacct.com was not onboarded: checks before the first write: person.aliases tom.baker@north'
     'windacct.com already belongs to Tom Baker (tom.baker@northwindacct.com); remove it there first, or choose anot'
     'her address. Nothing was written for them; correct it and run again.'),
    ("alias.taken.federated", {"onboard_deployment": "federated", "person": {"upn": "alias.fed@" + D, "given_name": "Alias",
                                                                             "aliases": [SARAH]}},
     'alias.fed@northwindacct.com was not onboarded: checks before the first write: person.aliases sarah.jones@north'
     'windacct.com already belongs to Sarah Jones (sarah.jones@northwindacct.com); remove it there first, or choose '
     'another address. Nothing was written for them; correct it and run again.'),
    ("alias.twice.a", {"person": {"upn": "twice.a@" + D, "given_name": "Twice", "aliases": ["team@" + D]}},
     'twice.a@northwindacct.com was not onboarded: checks before the first write: person.aliases team@northwindacct.'
     'com is asked for by twice.b@northwindacct.com as well; give each address to one person. Nothing was written fo'
     'r them; correct it and run again.'),
    ("alias.twice.b", {"person": {"upn": "twice.b@" + D, "given_name": "Twice", "aliases": ["team@" + D]}},
     'twice.b@northwindacct.com was not onboarded: checks before the first write: person.aliases team@northwindacct.'
     'com is asked for by twice.a@northwindacct.com as well; give each address to one person. Nothing was written fo'
     'r them; correct it and run again.'),
    ("unknown.pp.role", {"person": {"upn": "role.person@" + D, "given_name": "Role", "pp_roles": ["Wizards"]}},
     'role.person@northwindacct.com was not onboarded: checks before the first write: person.pp_roles (or onboard_pp'
     "_roles): Unknown role 'Wizards'. Roles: Audit Team, Everybody, Office 365, Portal Access, System Administrator"
     ', Tax Team. Nothing was written for them; correct it and run again.'),
    ("unknown.copy.from", {"person": {"upn": "copy.person@" + D, "given_name": "Copy", "pp_roles_copy_from": NOBODY}},
     'copy.person@northwindacct.com was not onboarded: checks before the first write: person.pp_roles_copy_from: Unk'
     'nown user: no Practice Protect user has the login name or e-mail nobody.here@northwindacct.com (no close match'
     '). Invite or create the user first (pp_user). Nothing was written for them; correct it and run again.'),
    ("bad.phone", {"person": {"upn": "bad.phone@" + D, "given_name": "Bad", "mobile_phone": "12"}},
     "bad.phone@northwindacct.com was not onboarded: checks before the first write: person.mobile_phone '12' is not "
     'a phone number. Give it in international form (+61 412 345 678) or set phone_region. Nothing was written for t'
     'hem; correct it and run again.'),
    ("unknown.sku", {"person": {"upn": "unknown.sku@" + D, "given_name": "Sku", "licenses": ["NOT_A_SKU"]}},
     'unknown.sku@northwindacct.com was not onboarded: checks before the first write: Unknown licence NOT_A_SKU: thi'
     's tenant subscribes to ENTERPRISEPACK, EXCHANGESTANDARD, FLOW_FREE, O365_BUSINESS_ESSENTIALS, O365_BUSINESS_PR'
     'EMIUM, SPB. Give a SKU part number or skuId from that list. Nothing was written for them; correct it and run a'
     'gain.'),
    ("no.seat", {"person": {"upn": "no.seat@" + D, "given_name": "Seat", "licenses": ["ENTERPRISEPACK"]}},
     'no.seat@northwindacct.com was not onboarded: checks before the first write: No free seat on ENTERPRISEPACK: 2 '
     'bought, 2 in use. Buy more seats or free one; SKUs with free seats: EXCHANGESTANDARD (5 free), FLOW_FREE (1000'
     '0 free), O365_BUSINESS_ESSENTIALS (10 free), O365_BUSINESS_PREMIUM (19 free), SPB (10 free). Nothing was writt'
     'en for them; correct it and run again.'),
    ("no.usage.location", {"onboard_usage_location": "", "person": {"upn": "no.where@" + D, "given_name": "Where"}},
     'no.where@northwindacct.com was not onboarded: checks before the first write: person.usage_location (or onboard'
     '_usage_location) is required to assign licences to no.where@northwindacct.com (Microsoft 365 refuses licences '
     'without it); set usage_location, for example AU. Nothing was written for them; correct it and run again.'),
    ("aliases.as.dict", {"person": {"upn": "dict.aliases@" + D, "aliases": {"a": 1}}},
     'dict.aliases@northwindacct.com was not onboarded: role variables: person.aliases must be a list, not a dict. N'
     'othing was written for them; correct it and run again.'),
    ("long.local.part", {"person": {"upn": LONG_LOCAL + "@" + D, "given_name": "Long"}},
     'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@northwindacct.com was not onboarded: checks '
     "before the first write: person.upn 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@northwin"
     "dacct.com' is too long: at most 113 characters in all and 64 before the @. Nothing was written for them; corre"
     'ct it and run again.'),
    ("long.display.name", {"person": {"upn": "long.display@" + D, "display_name": "x" * 257}},
     'long.display@northwindacct.com was not onboarded: checks before the first write: person.display_name is 257 ch'
     'aracters long; Microsoft 365 allows at most 256. Nothing was written for them; correct it and run again.'),
    ("bad.deployment", {"onboard_deployment": "hybrid", "person": {"upn": "hybrid.person@" + D}},
     'hybrid.person@northwindacct.com was not onboarded: role variables: value of onboard_deployment must be one of:'
     ' federated, entra_source, got: hybrid. Nothing was written for them; correct it and run again.'),
    ("bad.provisioning", {"onboard_deployment": "federated", "onboard_provisioning": "basic", "person": {"upn": "basic.person@" + D}},
     'basic.person@northwindacct.com was not onboarded: role variables: value of onboard_provisioning must be one of: token, service_account, got: '
     'basic. Nothing was written for them; correct it and run again.'),
    ("mail.without.sender", {"onboard_password_delivery": "email", "person": {"upn": "mail.person@" + D, "alternate_email": "me@example.org"}},
     'mail.person@northwindacct.com was not onboarded: checks before the first write: onboard_password_delivery is e'
     'mail, so set onboard_mail_sender to the mailbox that sends the activation mail. Nothing was written for them; '
     'correct it and run again.'),
    ("misspelled.variable", {"onboard_pasword_recipient": "manager", "person": {"upn": "typo.person@" + D}},
     'typo.person@northwindacct.com was not onboarded: role variables: unknown role variable onboard_pasword_recipie'
     'nt (did you mean onboard_password_recipient?); correct the name (the role would otherwise run without it). Not'
     'hing was written for them; correct it and run again.'),
    ("alias.bad.domain", {"person": {"upn": "bad.domain@" + D, "aliases": ["bd@" + LEGACY]}},
     'bad.domain@northwindacct.com was not onboarded: checks before the first write: person.aliases bd@northwind-leg'
     'acy.com is on northwind-legacy.com, which is not an accepted domain of this Exchange Online organisation (acce'
     'pted: northwindacct.com, northwindacct.onmicrosoft.com); use an accepted domain, or add the domain in Microsof'
     't 365 first. Nothing was written for them; correct it and run again.'),
]

OFFBOARD_LEAVERS = ["lv.forward.bad", "lv.forward.accent", "lv.access.bad", "lv.access.unknown", "lv.soft.delete", "lv.access.type"]
OFFBOARD_CASES = [
    ("unknown.leaver", {"person": {"upn": NOBODY}},
     'nobody.here@northwindacct.com was not offboarded: checks before the first write: nobody.here@northwindacct.com'
     ' is not a user of this Microsoft 365 tenant; check the UPN. Nothing was written for them; correct it and run a'
     'gain.'),
    ("malformed.leaver", {"person": {"upn": "not-an-upn"}},
     "not-an-upn was not offboarded: checks before the first write: offboard_upn (person.upn) 'not-an-upn' must look"
     ' like name@domain, with exactly one @. Nothing was written for them; correct it and run again.'),
    ("lv.forward.bad", {"person": {"upn": "lv.forward.bad@" + D, "forward_to": "sarah at northwind"}},
     'lv.forward.bad@northwindacct.com was not offboarded: checks before the first write: person.forward_to (offboar'
     "d_forward_to) 'sarah at northwind' is not a valid e-mail address: An email address must have an @-sign. Nothin"
     'g was written for them; correct it and run again.'),
    ("lv.forward.accent", {"person": {"upn": "lv.forward.accent@" + D, "forward_to": u"s\u00e9rah@" + D}},
     'lv.forward.accent@northwindacct.com was not offboarded: checks before the first write: person.forward_to (offb'
     "oard_forward_to) 'sérah@northwindacct.com' is not a valid e-mail address: Internationalized characters before "
     "the @-sign are not supported: 'é'. Nothing was written for them; correct it and run again."),
    ("lv.access.bad", {"person": {"upn": "lv.access.bad@" + D, "full_access_to": ["not a user"]}},
     'lv.access.bad@northwindacct.com was not offboarded: checks before the first write: person.full_access_to (offb'
     "oard_full_access_to) entry 'not a user' is neither a UPN nor an object id. Nothing was written for them; corre"
     'ct it and run again.'),
    ("lv.access.unknown", {"person": {"upn": "lv.access.unknown@" + D, "full_access_to": [NOBODY]}},
     'lv.access.unknown@northwindacct.com was not offboarded: checks before the first write: person.full_access_to ('
     'offboard_full_access_to): nobody.here@northwindacct.com is not a user in this tenant. Nothing was written for '
     'them; correct it and run again.'),
    ("lv.soft.delete", {"offboard_soft_delete": True, "person": {"upn": "lv.soft.delete@" + D}},
     'lv.soft.delete@northwindacct.com was not offboarded: checks before the first write: offboard_soft_delete delet'
     'es the user and with it the mailbox that offboard_convert_to_shared keeps. Keep the shared mailbox (offboard_s'
     'oft_delete false), or set offboard_convert_to_shared false if the mail is not kept. Nothing was written for th'
     'em; correct it and run again.'),
    ("lv.reply.backwards", {"offboard_auto_reply": True, "offboard_auto_reply_internal": "Gone.", "offboard_auto_reply_start": "2027-01-31T17:00:00Z",
                            "offboard_auto_reply_end": "2026-12-24T17:00:00Z", "person": {"upn": "lv.reply.backwards@" + D}},
     'lv.reply.backwards@northwindacct.com was not offboarded: checks before the first write: offboard_auto_reply_end (2026-12-24T17:00:00Z)'
     ' is not after offboard_auto_reply_start (2027-01-31T17:00:00Z); give an end after the start. Nothing was written for them; correct it '
     'and run again.'),
    ("lv.reply.empty", {"offboard_auto_reply": True, "person": {"upn": "lv.reply.empty@" + D}},
     'lv.reply.empty@northwindacct.com was not offboarded: checks before the first write: offboard_auto_reply is on but offboard_auto_reply_i'
     'nternal is empty; give the text colleagues get (the external reply defaults to it). Nothing was written for them; correct it and run a'
     'gain.'),
    ("lv.reply.audience", {"offboard_auto_reply_audience": "everyone", "person": {"upn": "lv.reply.audience@" + D}},
     'lv.reply.audience@northwindacct.com was not offboarded: role variables: value of offboard_auto_reply_audience must be one of: none, kno'
     'wn, all, got: everyone. Nothing was written for them; correct it and run again.'),
    ("lv.access.type", {"person": {"upn": "lv.access.type@" + D, "full_access_to": {"sarah": 1}}},
     'lv.access.type@northwindacct.com was not offboarded: role variables: offboard_full_access_to must be a list, n'
     'ot a dict. Nothing was written for them; correct it and run again.'),
]


def inventory_file(tmp_path, name, group, cases, group_vars=None):
    hosts = dict((host, dict(variables, ansible_connection="local")) for host, variables, _ in cases)
    path = tmp_path / name
    path.write_text(json.dumps({"all": {"vars": group_vars or {}, "children": {group: {"hosts": hosts}}}}))
    return str(path)


def failing_message(run, host):
    failed = [t for t in run.tasks if t["host"] == host and t["status"] == "failed"]
    return failed[-1]["result"].get("msg") if failed else None


def check_role_cases(run, cases, writes, section):
    figures = {"cases": len(cases), "refused_with_exact_message": 0, "zero_writes": len(cases) if not writes else 0, "by_target": {}}
    wrong = []
    for host, _, expected in cases:
        msg = failing_message(run, host)
        if run.stats.get(host, {}).get("failures") == 1 and same_message(msg, expected):
            figures["refused_with_exact_message"] += 1
            figures["by_target"][section] = figures["by_target"].get(section, 0) + 1
        else:
            wrong.append("%s: %r" % (host, msg))
    record(section, figures)
    assert not wrong, "\n".join(wrong)
    assert writes == [], [(w["service"], w["method"], w["path"], w.get("cmdlet"), w["status"]) for w in writes]


def test_onboard_user_refuses_each_bad_joiner_before_any_write(sandbox, run_playbook, tmp_path):
    inventory = inventory_file(tmp_path, "joiners.json", "people", ONBOARD_CASES,
                               {"onboard_usage_location": "AU", "onboard_default_licenses": ["O365_BUSINESS_PREMIUM"]})
    start = last_seq(sandbox)
    run = run_playbook(playbook("onboard.yml"), inventory=inventory, env={"ANSIBLE_PIPELINING": "1"})
    check_role_cases(run, ONBOARD_CASES, sandbox.writes(start), "onboard_user")
    assert run.rc == 2


def test_offboard_user_refuses_each_bad_leaver_before_any_write(sandbox, run_playbook, tmp_path):
    sandbox.seed([{"userPrincipalName": "%s@%s" % (name, D), "displayName": name, "usageLocation": "AU", "licenses": ["O365_BUSINESS_PREMIUM"]}
                  for name in OFFBOARD_LEAVERS])
    inventory = inventory_file(tmp_path, "leavers.json", "leavers", OFFBOARD_CASES, {"offboard_sync": False})
    start = last_seq(sandbox)
    run = run_playbook(playbook("offboard.yml"), inventory=inventory, env={"ANSIBLE_PIPELINING": "1"})
    check_role_cases(run, OFFBOARD_CASES, sandbox.writes(start), "offboard_user")
    assert run.rc == 2


EMPTY_CASES = [
    ("onboard.yml", "The inventory has no hosts at all, so nobody would be onboarded and nothing was done. Pass the inventory that holds "
                    "the people (-i inventory/example, see docs/onboarding.md)."),
    ("offboard.yml", "The inventory has no hosts at all, so nobody would be offboarded and nothing was done. Pass the inventory that holds "
                     "the people (-i inventory/example, see docs/offboarding.md)."),
]


def test_an_empty_inventory_fails_each_playbook_with_a_clear_message(sandbox, run_playbook, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"all": {"hosts": {}}}))
    start = last_seq(sandbox)
    figures = {"cases": len(EMPTY_CASES), "refused_with_exact_message": 0, "zero_writes": 0, "by_target": {}}
    wrong = []
    for name, expected in EMPTY_CASES:
        run = run_playbook(playbook(name), inventory=str(empty))
        msg = failing_message(run, "localhost")
        if run.rc != 0 and msg == expected:
            figures["refused_with_exact_message"] += 1
            figures["by_target"]["playbooks/" + name] = 1
        else:
            wrong.append("%s: rc %s, %r" % (name, run.rc, msg))
    writes = sandbox.writes(start)
    figures["zero_writes"] = len(EMPTY_CASES) if not writes else 0
    record("empty_inventory", figures)
    assert not wrong, "\n".join(wrong)
    assert writes == []


# -- values that look odd but are valid: they must work --------------------------------------------------------------

OBRIEN = "liam.o'brien@" + D
LONGEST_LOCAL = "b" * 64


def test_apostrophes_accents_and_the_longest_values_are_accepted(sandbox, run_playbook):
    accepted = [
        ("apostrophe and accents", "m365_user", {"user": OBRIEN, "display_name": u"Se\u00e1n O'Brien", "given_name": u"Se\u00e1n",
                                                 "surname": "O'Brien", "job_title": "t" * 128, "usage_location": "AU",
                                                 "licenses": {"add": ["O365_BUSINESS_PREMIUM"]}, "mobile_phone": "+61 412 345 678"}),
        ("longest names", "m365_user", {"user": LONGEST_LOCAL + "@" + D, "display_name": "d" * 256}),
        ("alias with an apostrophe", "m365_alias", {"user": SARAH, "aliases": {"add": ["s.o'brien@" + D]}}),
        ("unicode Practice Protect name", "pp_user", {"user": "zoe.oneill@" + D, "display_name": u"Zo\u00eb O'Neill", "mail": "zoe.oneill@" + D}),
    ]
    run = run_playbook(play(*[dict(module_task(name, module, options), when=True) for name, module, options in accepted]))
    users = users_by_upn(sandbox)
    checks = {
        "apostrophe and accents": users.get(OBRIEN, {}).get("displayName") == u"Se\u00e1n O'Brien"
        and users[OBRIEN].get("surname") == "O'Brien",
        "longest names": users.get(LONGEST_LOCAL + "@" + D, {}).get("displayName") == "d" * 256,
        "alias with an apostrophe": "smtp:s.o'brien@" + D in [a.lower() for a in users[SARAH]["proxyAddresses"]],
        "unicode Practice Protect name": (pp_user(sandbox, "zoe.oneill@" + D) or {}).get("DisplayName") == u"Zo\u00eb O'Neill",
    }
    problems = ["%s: %s %r" % (name, run.task(name)["status"], run.result(name).get("msg")) for name, _, _ in accepted
                if run.task(name)["status"] == "failed" or not checks[name]]
    record("accepted_values", {"cases": 0, "accepted_values_ok": len(accepted) - len(problems), "values": len(accepted)})
    assert not problems, "\n".join(problems)
    # A second run changes nothing: the values read back as they were written.
    again = run_playbook(play(*[dict(module_task(name, module, options), when=True) for name, module, options in accepted]))
    assert [name for name, _, _ in accepted if again.result(name).get("changed")] == []
