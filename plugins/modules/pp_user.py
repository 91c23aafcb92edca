#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: pp_user
short_description: Create, update, invite and remove Practice Protect users
version_added: 0.1.0
description:
  - Manages one user of a Practice Protect tenant (a white-labelled Centrify / CyberArk Identity tenant), idempotently.
  - With O(source=cloud), creates or updates a cloud-directory user (login name, mail, display name, mobile number,
    password). This is the federated deployment (seed 000), where Practice Protect is the source of Microsoft 365 users.
  - With O(source=directory), invites an existing user of the Azure AD / Microsoft 365 source directory into Practice
    Protect by e-mail address or UPN (the Entra ID source deployment, seed 001). Its name, mail and mobile number come
    from Microsoft 365 and are changed there.
  - Sets additional attributes (for example the C(proxyAddresses) attribute that outbound provisioning turns into the
    user's Microsoft 365 e-mail addresses), merged with the ones the user already has; attributes not listed are kept.
  - Checks every input before the first write, reads the current state, plans the exact calls, and in check mode stops there.
  - Many users in one task with O(items) - the users are read with one Redrock query per 50 people (for more than 100
    people, Practice Protect's whole User table in pages of 1,000), the login suffixes, attribute columns and source
    directories once, and the source-directory users to invite with one query per 50 people. The invitations go out as one
    C(InviteUsers) call per 50 people, each read back with one query; a refused call is sent again for each person it did
    not invite, alone, so that one bad entity fails only its own person.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.practice_protect_auth
  - practiceprotect.m365.attributes
  - practiceprotect.m365.items
options:
  user:
    description:
      - For O(source=cloud), the login name, C(login@suffix); the suffix must be a login suffix (alias) of the tenant.
      - For O(source=directory), the user's e-mail address or UPN in the source directory.
      - Required unless O(items) is given.
    type: str
  source:
    description:
      - V(cloud) manages a user of Practice Protect's cloud directory; V(directory) invites a user of the source directory.
    type: str
    choices: [cloud, directory]
    default: cloud
  state:
    description:
      - V(present) creates, invites or updates the user; V(absent) removes it from Practice Protect (a source-directory
        user stays in Microsoft 365).
    type: str
    choices: [present, absent]
    default: present
  display_name:
    description:
      - Display name (cloud users). Defaults on create to the part of O(user) before the @.
      - Practice Protect keeps it as C(DisplayName).
    type: str
  mail:
    description:
      - E-mail address (cloud users).
      - Practice Protect keeps it as C(Mail) (C(Email) in its user queries).
    type: str
  mobile_number:
    description:
      - Mobile number (cloud users), stored in E.164 form (C(+61412345678)); Practice Protect sends SMS one-time codes to it.
      - A local number is accepted when O(phone_region) is set.
      - Practice Protect keeps it as C(MobileNumber).
    type: str
  phone_region:
    description: ISO 3166 country code used to read a local O(mobile_number), for example V(AU).
    type: str
  password:
    description:
      - Password of a new cloud user. When left out, a strong random password is generated; it is never printed and is
        returned only with O(return_password=true).
    type: str
  update_password:
    description:
      - V(on_create) sets O(password) only when the user is created; V(always) resets it on every run (and so always reports a change).
    type: str
    choices: [on_create, always]
    default: on_create
  force_password_change:
    description: Make a new cloud user choose a new password at the first sign-in.
    type: bool
    default: true
  send_invite:
    description:
      - Send the invitation e-mail. Defaults to V(false) for O(source=cloud) (the portal's default is to send it) and
        V(true) for O(source=directory), where the invitation is what the portal's "Invite Users" sends.
    type: bool
  return_password:
    description:
      - Return a generated password as RV(password). The task must set C(no_log) when you use this, or the module fails before any call.
      - With O(items), each new user's generated password is returned in its entry of RV(outcomes).
    type: bool
    default: false
  attributes:
    description:
      - Additional attributes to set, by column name or title (see Settings > Users > Additional Attributes).
        Merged with the user's other attributes, which are kept. V(null) clears an attribute.
      - An Integer attribute takes a number or a string of digits (V(4711) or V("4711")), a Boolean one V(true) or V(false)
        (or those words as strings). Values are compared as the attribute's type, whichever way Practice Protect answers them,
        and sent as strings, the way CyberArk's own SDK sends them.
    type: dict
  proxy_addresses:
    description:
      - E-mail addresses for Microsoft 365, primary first. Stored in the attribute O(proxy_addresses_attribute) in the form
        C(SMTP:primary@domain;smtp:alias@domain), which outbound provisioning turns into the user's proxy addresses.
    type: list
    elements: str
  proxy_addresses_attribute:
    description: Name or title of the additional attribute that holds the proxy addresses.
    type: str
    default: proxyAddresses
  description:
    description:
      - The cloud user's description (Practice Protect's C(Description)); an empty string clears it. Left out, it does not change.
      - Read with C(GetUserAttributes) for existing users that set this option (returned as RV(outcomes) C(description_before)
        with O(items), or RV(description_before)).
    type: str
  enabled:
    description:
      - Whether a cloud user can sign in. V(false) disables the account (Practice Protect's C(SetUserState), state
        C(Disabled)) - the offboarding of a federated leaver, whose Practice Protect account is their account; V(true)
        enables it again (state C(None)). Left out, the state does not change.
      - The state is read with C(GetUserAttributes) for the users that set this option. The names of the states are
        not publicly documented (UNCONFIRMED); they sit in one table of the collection's Practice Protect client.
    type: bool
  directory:
    description:
      - For O(source=directory), the display name (or name) of the source directory to search, as in the portal's Invite
        Users dialog; compared without regard to case. A directory named here is searched whatever its status.
      - Left out, every active directory that is not the cloud directory is searched (a tenant also lists its federated
        directory, FDS, and may list inactive AD or Google directories, which are skipped). When the user is found in more
        than one directory, the task fails before any write and asks for this option.
    type: str
notes:
  - Practice Protect admin rights - User Management (reads need any admin right). See docs/permissions.md.
  - Practice Protect's password policy is the tenant's; a password it refuses fails the task with its message.
seealso:
  - module: practiceprotect.m365.pp_role_member
  - module: practiceprotect.m365.outbound_sync
"""

EXAMPLES = r"""
- name: A federated joiner in Practice Protect, with the addresses Microsoft 365 should get
  practiceprotect.m365.pp_user:
    user: jane.citizen@northwindacct.com
    display_name: Jane Citizen
    mail: jane.citizen@northwindacct.com
    mobile_number: "0412 345 678"
    phone_region: AU
    proxy_addresses:
      - jane.citizen@northwindacct.com
      - jane@northwindacct.com

- name: Keep the generated password for the welcome mail
  practiceprotect.m365.pp_user:
    user: sam.lee@northwindacct.com
    display_name: Sam Lee
    return_password: true
  register: sam
  no_log: true

- name: Several federated joiners in one task, their generated passwords kept for the welcome mails
  practiceprotect.m365.pp_user:
    phone_region: AU
    return_password: true
    fail_on_item_error: false
    items:
      - user: jane.citizen@northwindacct.com
        display_name: Jane Citizen
        mobile_number: "0412 345 678"
        proxy_addresses: [jane.citizen@northwindacct.com, jane@northwindacct.com]
      - user: oliver.brown@northwindacct.com
        display_name: Oliver Brown
        proxy_addresses: [oliver.brown@northwindacct.com]
  register: joiners
  no_log: true

- name: Invite an Entra ID source joiner, who already has a Microsoft 365 account, into Practice Protect
  practiceprotect.m365.pp_user:
    user: mei.wong@northwindacct.com
    source: directory

- name: Set an additional attribute, keeping the others
  practiceprotect.m365.pp_user:
    user: jane.citizen@northwindacct.com
    attributes:
      Cost Centre: TAX-200

- name: Remove a leaver from Practice Protect
  practiceprotect.m365.pp_user:
    user: tom.baker@northwindacct.com
    state: absent
"""

# (duplicates: RETURN takes no doc fragment: counters and items keys repeat in every module; test_return_docs.py holds them)
RETURN = r"""
description_before:
  description: With O(description), the existing user's description before the task ("" when it had none).
  returned: with O(description), for an existing cloud user
  type: str
user:
  description: The user after the task (before it, for O(state=absent)), with its additional attributes. Never a password.
  returned: always
  type: dict
  sample:
    ID: 9f0c2d4e-7f1e-4c55-9a2c-2b9f5d1e8c11
    Name: jane.citizen@northwindacct.com
    DisplayName: Jane Citizen
    Mail: jane.citizen@northwindacct.com
    MobileNumber: "+61412345678"
    Source: CDS
    Attributes: {O365_ProxyAddresses: "SMTP:jane.citizen@northwindacct.com;smtp:jane@northwindacct.com"}
action:
  description: What the task did or would do.
  returned: always
  type: str
  sample: create
  choices: [none, create, invite, update, delete]
plan:
  description: The calls made (or, in check mode, that would be made), with field names but never values.
  returned: always
  type: list
  elements: dict
  sample: [{op: create, method: POST, path: /CDirectoryService/CreateUser, fields: [DisplayName, Mail, Name, Password]}]
outcomes:
  description:
    - With O(items), each person's result keyed by the lower-case O(user), with the keys above (C(user), C(action), C(plan),
      C(changed), and C(password) when requested), or C(failed) and C(msg).
  returned: with items
  type: dict
failed_items:
  description: With O(items), the users whose plan or calls failed.
  returned: with items
  type: list
  elements: str
password:
  description: The generated password. Only with O(return_password=true) and when this task created the user with a generated password.
  returned: when requested
  type: str
retries:
  description: How many requests were retried (throttling, 5xx, resets).
  returned: always
  type: int
pp_requests:
  description: How many Practice Protect requests the task sent.
  returned: always
  type: int
"""

from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module
from ansible_collections.practiceprotect.m365.plugins.module_utils import _pp_users

# The fields of the user come from its table (_pp_users.PP_USER); the rest say how to apply them.
ITEM_SPEC = _pp_users.PP_USER.argument_spec(
    user=dict(type="str", required=True),
    source=dict(type="str", default="cloud", choices=["cloud", "directory"]),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    phone_region=dict(type="str"),
    password=dict(type="str", no_log=True),
    update_password=dict(type="str", default="on_create", choices=["on_create", "always"], no_log=False),
    force_password_change=dict(type="bool", default=True, no_log=False),
    send_invite=dict(type="bool"),
    return_password=dict(type="bool", default=False, no_log=False),
    attributes=dict(type="dict"),
    proxy_addresses=dict(type="list", elements="str"),
    proxy_addresses_attribute=dict(type="str", default="proxyAddresses"),
    directory=dict(type="str"),
    enabled=dict(type="bool"),
    description=dict(type="str"),
)


def main():
    Module(ITEM_SPEC, services=("practice_protect",), items=(ITEM_SPEC, "user"), admin_rights=("User Management",),
           secret_results={"return_password": "each new user's generated password"}, supports_check_mode=True).run(plan, prefetch)


def service(m):
    """One PPUserService per module run: what it reads once serves every person of the task."""
    return m.shared("service", lambda: _pp_users.PPUserService(m.pp))


def invitations(m):
    """One Invitations per module run: InviteUsers takes the task's people in chunks, each read back with one query."""
    return m.shared("invitations", lambda: _pp_users.Invitations(m.pp))


def prefetch(m, params_list):
    specs = m.specs(_pp_users.build_spec, params_list)
    service(m).prefetch(specs)


def plan(m, p):
    """Read and plan one person; returns ``(result, apply)``."""
    spec = _pp_users.build_spec(p)
    svc = service(m)
    present = spec["state"] == "present"
    if present and spec["source"] == "cloud":
        _pp_users.check_login_suffix(spec["name"], svc.login_suffixes())
    current = svc.current(spec)
    wanted = {}
    if present and (spec["attributes"] or spec["proxy_addresses"] is not None):
        wanted = _pp_users.resolve_attributes(spec, svc.columns())
    values = {}
    if current and (wanted or m.module._diff or not present):
        values = svc.client.column_values(current["ID"])
        if wanted:
            values = _pp_users.typed_values(values, svc.columns())
    directory_row = None
    if present and spec["source"] == "directory" and current is None:
        directory_row = svc.directory_user(spec)
    attributes = None
    if present and (spec["enabled"] is not None or spec["description"] is not None) and current:
        attributes = svc.client.user_attributes(current["ID"])
    planned = _pp_users.plan_user(spec, current, values, wanted, directory_row, user_attributes=attributes)
    for call in planned["calls"]:
        if call["op"] == "invite" and not m.check_mode:
            invitations(m).add(spec["name"], call["body"])  # sent with the other people's invitations of the task

    def result_of(applied):
        result = dict(
            changed=bool(planned["calls"]),
            action=planned["action"],
            plan=_pp_users.public_calls(planned),
            user=planned["after"] if present else planned["before"],
        )
        if spec["description"] is not None and current:
            result["description_before"] = planned.get("description_before")
        if m.module._diff:
            result["diff"] = {"before": planned["before"], "after": planned["after"]}
        # A generated password, only when this person was created and the task (or the item) asked for it.
        if applied and p["return_password"] and planned.get("password_generated"):
            result["password"] = planned["password"]
        return result

    def apply():
        user_id = _pp_users.apply(svc.client, planned, invitations(m))
        if present:
            planned["after"]["ID"] = user_id
        return result_of(True)

    return result_of(False), (apply if planned["calls"] else None)


if __name__ == "__main__":
    main()
