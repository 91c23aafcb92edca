#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: app_registration
short_description: The Entra ID app registration Practice Protect's token-based provisioning signs in with
version_added: 0.1.0
description:
  - The token-based counterpart of M(practiceprotect.m365.service_account). Practice Protect's knowledge base requires
    token-based provisioning for new tenants; Practice Protect's Office 365 application then signs in to Microsoft 365
    with an Entra ID app registration instead of the Global Administrator service account.
  - Creates, updates and removes that app registration, idempotently - the application (C(POST /applications)), its
    service principal, its Microsoft Graph application permissions with admin consent (app role assignments to Microsoft
    Graph's service principal, the permission ids read from its C(appRoles)), and a credential, a client secret
    (C(addPassword)) or a certificate (C(keyCredentials)).
  - A new client secret's value is returned only with O(return_secret=true), which requires C(no_log) on the task. Microsoft
    365 shows a secret once; enter it, with RV(client_id), in Practice Protect's Office 365 application.
  - Checks every input before the first write (permission names against Microsoft Graph's, the certificate file), plans
    the exact calls, and in check mode stops there.
  - O(state=absent) deletes the application (and with it its service principal and permissions). The module cannot read
    which app registration Practice Protect's Office 365 application uses (no public API shows it), so it refuses the
    removal unless O(force=true), which says the Office 365 application no longer uses it.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes
options:
  state:
    description: V(present) creates or updates the app registration; V(absent) deletes it (see O(force)).
    type: str
    choices: [present, absent]
    default: present
  display_name:
    description:
      - Display name of the app registration. Without O(app_id) the app registration is found by this name (a name
        several app registrations share fails, asking for O(app_id)).
    type: str
    default: Practice Protect
  app_id:
    description:
      - Application (client) id of an existing app registration to manage, instead of finding it by O(display_name),
        which then renames it. (O(client_id) is the application this module runs as.)
    type: str
  permissions:
    description:
      - Microsoft Graph application permissions of the app registration, by name (for example V(User.ReadWrite.All)),
        each granted with admin consent and listed under the app's API permissions.
      - Unknown names fail before any write, naming the closest Microsoft Graph permissions.
      - Left out, the app holds exactly the default list, V(User.ReadWrite.All), V(Directory.ReadWrite.All),
        V(Domain.ReadWrite.All) and V(Organization.Read.All). B(UNCONFIRMED) - Practice Protect's knowledge base lists the
        permissions it needs on its page "Register an Entra ID application for Token Based Authentication"; compare them
        with this default and override it here where they differ (docs/permissions.md).
    type: dict
    suboptions:
      add:
        description: Grant these permissions; the app keeps its others.
        type: list
        elements: str
      remove:
        description: Revoke these permissions.
        type: list
        elements: str
      set:
        description: The app holds exactly these permissions; the others are revoked. Takes precedence over O(permissions.add) and O(permissions.remove).
        type: list
        elements: str
  max_removals:
    description:
      - Refuse, before any write, a run that would revoke more permissions than this - a number, or a share of the
        permissions the app holds now such as V(50%) (rounded down, at least 1).
    type: raw
    default: 3
  credential:
    description:
      - V(secret) - the app has a client secret named O(secret_name) that has not expired; one is added when it has none
        (or with O(rotate_secret=true)).
      - V(certificate) - the app holds the public certificate at O(certificate_path) (its private key stays with Practice Protect).
      - V(none) - the module adds no credential (an existing one is kept).
    type: str
    choices: [secret, certificate, none]
    default: secret
  secret_name:
    description: Description of the client secret (its C(displayName)), by which the module recognises it.
    type: str
    default: Practice Protect provisioning
  secret_expiry_days:
    description: Days a new client secret is valid (1 to 730).
    type: int
    default: 365
  rotate_secret:
    description:
      - Add a new client secret although a valid one exists (so the task always reports a change). The older secrets
        stay valid until they expire, so Practice Protect keeps working until it has the new one.
    type: bool
    default: false
  return_secret:
    description:
      - Return the client secret this task added as RV(secret). The task must set C(no_log), or the module fails before any write.
    type: bool
    default: false
  certificate_path:
    description: Public certificate (PEM or DER) for O(credential=certificate). A file holding a private key is refused.
    type: path
  force:
    description: Delete the app registration although Practice Protect may still sign in with it (O(state=absent)).
    type: bool
    default: false
notes:
  - Permissions (application) - C(Application.ReadWrite.All) and C(AppRoleAssignment.ReadWrite.All) (granting an application
    permission needs both; C(Application.ReadWrite.All) also covers the reads). See docs/permissions.md.
  - Granting application permissions is admin consent; the app running this module then holds a highly privileged permission,
    C(AppRoleAssignment.ReadWrite.All). Run it with a separate, short-lived credential if you can.
seealso:
  - module: practiceprotect.m365.service_account
"""

EXAMPLES = r"""
- name: App registration for token-based provisioning, with the default permissions; keep the secret for Practice Protect
  practiceprotect.m365.app_registration:
    return_secret: true
  register: pp_app
  no_log: true

- name: Permissions as Practice Protect's knowledge base lists them for this tenant
  practiceprotect.m365.app_registration:
    permissions:
      set:
        - User.ReadWrite.All
        - Domain.ReadWrite.All
        - Organization.Read.All

- name: A certificate instead of a client secret
  practiceprotect.m365.app_registration:
    credential: certificate
    certificate_path: "{{ playbook_dir }}/files/practiceprotect.crt"

- name: A new client secret (the old one stays valid until it expires); enter it in Practice Protect
  practiceprotect.m365.app_registration:
    rotate_secret: true
    return_secret: true
  register: pp_app
  no_log: true

- name: Remove the app registration once Practice Protect's Office 365 application no longer uses it
  practiceprotect.m365.app_registration:
    state: absent
    force: true
"""

# (duplicates: RETURN takes no doc fragment: counters repeat in every module; test_return_docs.py holds them)
RETURN = r"""
client_id:
  description: Application (client) id of the app registration, to enter in Practice Protect's Office 365 application. Empty when there is none.
  returned: always
  type: str
  sample: 3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b
application_id:
  description: Object id of the application. Empty when there is none (or in check mode before it is created).
  returned: always
  type: str
service_principal_id:
  description: Object id of the app's service principal in the tenant. Empty when there is none.
  returned: always
  type: str
action:
  description: What the task did or would do to the app registration.
  returned: always
  type: str
  sample: create
  choices: [none, create, update, delete]
registration:
  description:
    - The app registration after the task (before it, for O(state=absent)) - display name, client id, permission names,
      secrets by description and end date, certificate thumbprints. Never a secret's value.
  returned: always
  type: dict
  sample:
    display_name: Practice Protect
    client_id: 3f2a1b4c-5d6e-4f70-8a9b-0c1d2e3f4a5b
    permissions: [Directory.ReadWrite.All, Domain.ReadWrite.All, Organization.Read.All, User.ReadWrite.All]
    secrets: [Practice Protect provisioning (ends 2027-06-30)]
    certificates: []
permissions_added:
  description: Microsoft Graph permissions granted by the task.
  returned: always
  type: list
  elements: str
permissions_removed:
  description: Microsoft Graph permissions revoked by the task.
  returned: always
  type: list
  elements: str
secret_added:
  description: Whether the task added (or in check mode would add) a client secret; its value is never shown here.
  returned: always
  type: bool
secret:
  description:
    - The client secret the task added. Only with O(return_secret=true), outside check mode, when the task added one.
      The task must set C(no_log).
  returned: when requested
  type: str
secret_expires:
  description: End date and time of the client secret the task added.
  returned: when a secret was added
  type: str
  sample: "2027-06-30T01:02:03Z"
plan:
  description: The calls made (or, in check mode, that would be made), with field and permission names but never values.
  returned: always
  type: list
  elements: dict
  sample:
    - {op: create, method: POST, path: applications, fields: [displayName, requiredResourceAccess, signInAudience]}
    - {op: service_principal, method: POST, path: servicePrincipals, fields: [appId]}
    - {op: grant, method: POST, path: "servicePrincipals/{sp}/appRoleAssignments", fields: [appRoleId, principalId, resourceId],
       permission: User.ReadWrite.All}
    - {op: add_secret, method: POST, path: "applications/{app}/addPassword", fields: [passwordCredential]}
retries:
  description: How many requests were retried (throttling, 5xx, resets).
  returned: always
  type: int
graph_requests:
  description: How many Graph requests the task sent.
  returned: always
  type: int
replication_waits:
  description: How many times the task waited for directory replication.
  returned: always
  type: int
graph_batched_calls:
  description: How many of the task's Graph calls went out inside C($batch) requests.
  returned: when any did
  type: int
"""

from ansible_collections.practiceprotect.m365.plugins.module_utils import _app_registrations as _apps
from ansible_collections.practiceprotect.m365.plugins.module_utils import _model
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    display_name=dict(type="str", default=_apps.DEFAULT_DISPLAY_NAME),
    app_id=dict(type="str"),
    permissions=_model.list_option(),
    max_removals=dict(type="raw", default=_apps.MAX_REMOVALS),
    credential=dict(type="str", default="secret", choices=["secret", "certificate", "none"]),
    secret_name=dict(type="str", default=_apps.DEFAULT_SECRET_NAME, no_log=False),
    secret_expiry_days=dict(type="int", default=365, no_log=False),
    rotate_secret=dict(type="bool", default=False, no_log=False),
    return_secret=dict(type="bool", default=False, no_log=False),
    certificate_path=dict(type="path"),
    force=dict(type="bool", default=False),
)


def main():
    Module(SPEC, secret_results={"return_secret": "the app registration's client secret"}, supports_check_mode=True).run(plan)


def plan(m, p):
    """Read the app registration, its service principal and permissions, and plan; returns ``(result, apply)``."""
    spec = _apps.registration_spec(p)
    service = _apps.RegistrationService(m.graph)
    app = service.application(spec)
    graph_sp = service.graph_principal() if spec["state"] == "present" else None
    sp = service.principal(app)
    first = _apps.plan_registration(spec, app, sp, graph_sp, service.assignments(sp))
    _apps.check_grant_permission(first, _apps.token_roles(m.graph.authorization()))

    def result_of(app_now, sp_now, secret=None):
        registration = first["after"] if spec["state"] == "present" else first["before"]
        if app_now:
            registration = dict(registration, client_id=app_now.get("appId"))
        result = dict(
            changed=bool(first["calls"]), action=first["action"], registration=registration,
            client_id=(app_now or {}).get("appId") or "", application_id=(app_now or {}).get("id") or "",
            service_principal_id=(sp_now or {}).get("id") or "", permissions_added=first["permissions_added"],
            permissions_removed=first["permissions_removed"], secret_added=first["secret_added"], plan=_apps.public_plan(first),
        )
        if spec["state"] == "absent" and first["action"] == "delete" and not m.check_mode:
            result.update(application_id="", service_principal_id="")
        if m.module._diff:
            result["diff"] = {"before": first["before"], "after": first["after"] if spec["state"] == "present" else {}}
        if secret:
            result["secret_expires"] = secret.get("endDateTime")
            if p.get("return_secret"):
                result["secret"] = secret.get("secretText")
        return result

    def apply():
        app_now, sp_now, secret = service.apply(first, app, sp)
        return result_of(app_now, sp_now, secret)

    return result_of(app, sp), (apply if first["calls"] else None)


if __name__ == "__main__":
    main()
