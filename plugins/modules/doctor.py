#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# (duplicates: static docs, read by ansible-doc; their repeated attributes, notes and option forms are this page's own)
DOCUMENTATION = r"""
module: doctor
short_description: Report a tenant's readiness for the collection, one line per check, without writing anything
version_added: 0.1.0
description:
  - Reads Microsoft 365 (Graph and Exchange Online) and Practice Protect and reports, one line per check, V(ok),
    V(warning) or V(error) with what to do. It never writes to either tenant.
  - "Microsoft 365: the credential used (never the secret); the application permissions the tokens carry (their C(roles) claim,
    decoded without checking the signature), against what each module and role needs (the table of docs/permissions.md);
    the directory roles the app holds; verified and unverified domains; SKUs and free seats; Exchange Online reached
    with the app's role (C(Get-AcceptedDomain)) and its accepted domains; the Practice Protect service account (exists,
    roles, no licence); app registrations named like Practice Protect (token-based provisioning)."
  - "Practice Protect: the token; the client's roles and admin rights; directories and their status; roles; the Office 365
    application and its provisioning state; the tenant's API description (C(/vfslow/lib/api/swagger.json)) and the
    sync/job endpoints it lists, against the job paths M(practiceprotect.m365.outbound_sync) uses; which provisioning
    mechanism the tenant offers."
  - A check that fails (a service down, a refused permission, a connection not set) is an V(error) line saying what to
    do; the other checks still run. The task fails only with O(fail_on_error=true).
  - Writes the report as Markdown and JSON files to O(report_dir), and with O(snapshot_path) a JSON snapshot of the
    tenant's shape that the sandbox can start from (C(python -m tests.sandbox serve --snapshot FILE)).
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.practice_protect_auth.CONNECTION
  - practiceprotect.m365.attributes.INFO_MODULE
attributes:
  check_mode:
    details: The module never writes to a tenant; in check mode it still writes its report files and the snapshot on the controller.
options:
  modules:
    description:
      - The modules and roles whose permissions to check against docs/permissions.md, one line each.
      - Module names (for example V(m365_user), V(pp_user)) and the role names V(onboard_user), V(offboard_user), V(role_sync)
        and V(service_account).
      - Every module and those roles when left out.
    type: list
    elements: str
  service_account:
    description:
      - Sign-in name (on the tenant's initial domain) or UPN of the Practice Protect service account to check.
    type: str
    default: practiceprotect
  pp_app:
    description: The Practice Protect application that provisions Microsoft 365 users.
    type: str
    default: Office 365
  report_dir:
    description:
      - Where the Markdown and JSON reports go (created, mode 0700). The default is in the home directory of the user
        running C(ansible-playbook), writable in an execution environment.
    type: path
    default: ~/.ansible/practiceprotect_m365/reports
  write_reports:
    description: Write the report files. With V(false) the report is only in the result.
    type: bool
    default: true
  snapshot_path:
    description:
      - Write a JSON snapshot of the tenant's shape to this file (mode 0600) - domains, SKUs and seats, groups, directory
        roles, Practice Protect roles, directories and applications. It holds no secret.
      - The sandbox starts from it with C(python -m tests.sandbox serve --snapshot FILE); see docs/getting-started.md.
    type: path
  snapshot_users:
    description:
      - Put the users in the snapshot too (Microsoft 365 users with their licences and directory roles, Practice Protect
        users with their roles), and the users' group memberships. Personal data - keep the file accordingly.
    type: bool
    default: false
  fail_on_error:
    description: Fail the task when any check reports V(error) (after writing the reports).
    type: bool
    default: false
notes:
  - Permissions (application) - C(User.Read.All), C(Domain.Read.All), C(Organization.Read.All), C(RoleManagement.Read.Directory),
    C(GroupMember.Read.All), C(Exchange.ManageAsApp) and the Exchange Administrator role; C(Application.Read.All) is optional
    (to find a token-based provisioning app). Practice Protect - any admin right. See docs/permissions.md.
  - What the doctor lacks it reports as a line; it does not fail for it.
seealso:
  - module: practiceprotect.m365.service_account
  - module: practiceprotect.m365.outbound_sync
"""

EXAMPLES = r"""
- name: Check the tenant before the first onboarding
  practiceprotect.m365.doctor:
  register: doctor

- name: Show the report
  ansible.builtin.debug:
    msg: "{{ doctor.report.splitlines() }}"

- name: Check only what onboarding needs, and keep a snapshot of the tenant to rehearse against
  practiceprotect.m365.doctor:
    modules: [onboard_user]
    snapshot_path: "{{ lookup('env', 'HOME') }}/.ansible/practiceprotect_m365/tenant-snapshot.json"
"""

RETURN = r"""
checks:
  description: One entry per check.
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: C(Microsoft 365), C(Exchange Online) or C(Practice Protect).
      type: str
    check:
      description: What was checked.
      type: str
    status:
      description: C(ok), C(warning) or C(error).
      type: str
    detail:
      description: What the check found.
      type: str
    action:
      description: What to do (empty when nothing).
      type: str
  sample:
    - service: Microsoft 365
      check: domains
      status: ok
      detail: "Verified: contoso.com, contoso.onmicrosoft.com (default contoso.com, initial contoso.onmicrosoft.com)."
      action: ""
report:
  description: The checks as text, one line each with what to do under it, and the counts.
  returned: always
  type: str
summary:
  description: How many checks are ok, warning and error.
  returned: always
  type: dict
  sample: {ok: 20, warning: 3, error: 0}
report_files:
  description: The paths of the Markdown and JSON reports (null with O(write_reports=false), or when they could not be written).
  returned: always
  type: dict
  sample: {markdown: /home/me/.ansible/practiceprotect_m365/reports/doctor-20250101T000000000000Z.md, json: ...}
snapshot_path:
  description: The absolute path of the snapshot written.
  returned: when O(snapshot_path) is set
  type: str
provisioning:
  description:
    - What the checks found about provisioning - the app registrations named like Practice Protect (null when they could not
      be read), the service account, and the job API (the job paths the tenant's swagger lists and does not list, and its
      sync/job paths).
  returned: always
  type: dict
retries:
  description: How many requests were retried.
  returned: always
  type: int
graph_requests:
  description: How many Graph requests the task sent.
  returned: always
  type: int
replication_waits:
  description: How many times the task waited for directory replication (always 0 here; the doctor only reads).
  returned: always
  type: int
exchange_requests:
  description: How many Exchange Online requests the task sent.
  returned: always
  type: int
pp_requests:
  description: How many Practice Protect requests the task sent.
  returned: always
  type: int
graph_batched_calls:
  description: How many of the task's Graph calls went out inside C($batch) requests.
  returned: when any did
  type: int
"""

from ansible_collections.practiceprotect.m365.plugins.module_utils import _auth, _doctor, _http, _permissions
from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._module import Module

DEFAULT_TARGETS = sorted(_permissions.MODULE_NEEDS) + sorted(r for r in _permissions.ROLE_MODULES if r not in _permissions.MODULE_NEEDS)

SPEC = dict(
    modules=dict(type="list", elements="str"),
    service_account=dict(type="str", default="practiceprotect"),
    pp_app=dict(type="str", default="Office 365"),
    report_dir=dict(type="path", default=_doctor.DEFAULT_REPORT_DIR),
    write_reports=dict(type="bool", default=True),
    snapshot_path=dict(type="path"),
    snapshot_users=dict(type="bool", default=False),
    fail_on_error=dict(type="bool", default=False),
)


def main():
    m = Module(SPEC, services=("graph", "exchange", "practice_protect"), admin_rights=("Read Only System Administration",),
               supports_check_mode=True)
    m.run(plan)


class Sources:
    """What the checks read, through the module's clients; a client that cannot be built raises for its own check only."""

    def __init__(self, m):
        self.m = m
        self.p = m.params
        self._tokens = None

    def credential(self):
        p = self.p
        thumbprint = None
        if not p["client_secret"] and p["client_certificate_path"]:
            thumbprint = p["client_certificate_thumbprint"]
        return {"kind": "client secret" if p["client_secret"] else "certificate", "client_id": p["client_id"], "tenant_id": p["tenant_id"],
                "thumbprint": thumbprint}

    def tokens(self):
        if self._tokens is None:
            p = self.p
            self._tokens = _auth.TokenProvider(
                p["tenant_id"], p["client_id"], p["authority_url"], self.m.session, client_secret=p["client_secret"],
                client_certificate_path=p["client_certificate_path"], client_certificate_thumbprint=p["client_certificate_thumbprint"],
                client_certificate_password=p["client_certificate_password"], token_cache_path=p["token_cache_path"],
                timeout=p["request_timeout"])
            self.m._tokens = self._tokens  # the Graph and Exchange clients share it
        return self._tokens

    def token(self, resource):
        return self.tokens().token(self.p["graph_url"] if resource == "graph" else self.p["exchange_url"])

    def graph(self):
        self.tokens()
        return self.m.graph

    def exchange(self):
        self.tokens()
        return self.m.exchange

    def pp_missing(self):
        return self.m.missing("practice_protect")

    def pp(self):
        return self.m.pp

    def swagger(self):
        url = (self.p["pp_url"] or "").rstrip("/") + _doctor.SWAGGER_PATH
        try:
            response = self.m.session.get(url, headers={"Accept": "application/json"}, timeout=self.p["request_timeout"])
        except _http.requests.RequestException as exc:
            raise _http.unreachable(exc, url=url, service="Practice Protect")
        if response.status_code != 200:
            raise _http.TransportError("%s answered HTTP %s." % (_doctor.SWAGGER_PATH, response.status_code), "http")
        try:
            return response.json()
        except ValueError:
            raise _http.TransportError("%s did not answer JSON." % _doctor.SWAGGER_PATH, "http")

    def describe(self, error):
        if _http.HAS_REQUESTS and isinstance(error, _http.requests.RequestException):
            error = _http.unreachable(error)
        return self.m.describe(error)


def targets(names):
    """The modules and roles to check, as given (every one when none is given); an unknown name fails before any call."""
    known = sorted(set(_permissions.MODULE_NEEDS) | set(_permissions.ROLE_MODULES))
    unknown = [name for name in names or [] if name not in known]
    if unknown:
        raise v.ValidationError("modules: %s %s not a module or role of this collection; give any of %s." % (
            ", ".join(unknown), "is" if len(unknown) == 1 else "are", ", ".join(known)), field="modules")
    return list(names) if names else DEFAULT_TARGETS


def plan(m, p):
    """Run every check; nothing to apply."""
    errors = Module.error_types + ((_http.requests.RequestException,) if _http.HAS_REQUESTS else ())
    checked = targets(p["modules"])
    doctor = _doctor.Doctor(Sources(m), checked, service_account=p["service_account"], pp_app=p["pp_app"],
                            snapshot=bool(p["snapshot_path"]), snapshot_users=p["snapshot_users"], error_types=errors)
    started = _doctor.utc_now()
    lines = doctor.run()
    result = dict(changed=False, checks=lines, summary=_doctor.summary(lines), report_files=None,
                  provisioning={"app_registrations": doctor.facts["app_registrations"], "service_account": doctor.facts["service_account"],
                                "job_api": doctor.facts["job_api"]})
    if p["snapshot_path"]:
        try:
            result["snapshot_path"] = _doctor.write_snapshot(p["snapshot_path"], doctor.snapshot())
        except (IOError, OSError) as exc:
            lines.append(_doctor.line(_doctor.M365, "snapshot", _doctor.ERROR, "The snapshot could not be written to %s: %s." % (
                p["snapshot_path"], exc.strerror or exc), "Set snapshot_path to a writable file."))
    if p["write_reports"]:
        try:
            result["report_files"] = _doctor.write_reports(p["report_dir"], lines, started, _doctor.utc_now(), m.check_mode)
        except (IOError, OSError) as exc:
            m.module.warn("The doctor's report could not be written to %s: %s. Set report_dir to a writable directory." % (
                p["report_dir"], exc.strerror or exc))
    result["summary"] = _doctor.summary(lines)
    result["report"] = _doctor.text_report(lines)
    if p["fail_on_error"] and result["summary"][_doctor.ERROR]:
        result.update(failed=True, msg="The doctor found %d error(s): %s" % (result["summary"][_doctor.ERROR], "; ".join(
            "%s: %s" % (item["check"], item["detail"]) for item in lines if item["status"] == _doctor.ERROR)))
    return result, None


if __name__ == "__main__":
    main()
