"""The Practice Protect outbound-provisioning engine (Office 365), behind the job endpoints of reference section 11.

A job pushes the users in the app's provisioning scope (the user members of the roles its provisioning is mapped to,
"Office 365" for the Office 365 app) into the Graph tenant, through ``Tenant`` methods:

- a user with no Graph user of the same UPN is created (UPN, display name, given name and surname split from it, mail
  nickname, the app's usage location, a random password, and ``onPremisesImmutableId`` = the engine's anchor of the
  Practice Protect user); it then gets a licence of the app's SKU when a seat is free, otherwise the job records a
  per-user failure ``NoLicenseAvailable`` and the user stays unlicensed (the Practice Protect knowledge base: "If there
  is an available license it will automatically be assigned ... otherwise purchase and assign license"); licences are
  given at creation only;
- an existing Graph user (matched by UPN) is updated when its display name differs, it is disabled, or it lacks the
  anchor; a Graph user anchored to another Practice Protect user is a per-user failure ``AnchorConflict``;
- proxy addresses come from the proxyAddresses additional attribute (``SMTP:primary;smtp:alias``) and go to
  ``Tenant.stage_email_addresses`` (applied when the mailbox exists); they count as an update while the Graph user does
  not show them yet;
- an enabled Graph user whose anchor names a Practice Protect user outside the scope (removed from the role, or
  deleted) is disabled: users who left the scope;
- the job fails (State ``Failed``, one failure with ``User`` null) when the app's Office 365 service account is
  missing, disabled, or does not hold Global Administrator.

That is the older method. With token-based provisioning (the ``pp_provisioning_method`` knob, pp_methods.py) the job signs in
with the Entra ID app registration the app names instead (and fails when it is missing, has no credential or no permission
to write users), and writes only display name, usage location, immutable id and UPN: no proxy addresses, no licence.

A job's effects happen when it finishes: ``pp_sync_duration_s`` (realism knob, default 0) after it starts running.
One job runs at a time per app; others wait ``Queued``. A change to the membership of a role that feeds a
provisioning-enabled app queues an automatic job for the changed users, ``pp_auto_sync_delay_s`` (default 60) later;
further changes before it starts join it. UNCONFIRMED: the delay of the real platform's automatic sync.

Summary counts: Created, Updated, Disabled, Deleted (always 0: the engine disables, never deletes), Unchanged and
Failed (the number of entries in Failures; a user created without a licence counts in Created and in Failed).
"""

import collections
import copy
import uuid

from . import pp_methods
from .errors import GraphError
from .pp_state import PPError, anchor_of, now_iso, random_password, user_of_anchor

FINAL_STATES = ("Succeeded", "CompletedWithErrors", "Failed")
GLOBAL_ADMIN_FALLBACK = "62e90394-69f5-4237-9190-012177145e10"


def parse_proxy_addresses(value):
    """``SMTP:primary;smtp:alias`` -> list, or raises ValueError with the reason."""
    if not value:
        return []
    items = [item.strip() for item in str(value).split(";") if item.strip()]
    for item in items:
        prefix, _, address = item.partition(":")
        if prefix not in ("SMTP", "smtp") or "@" not in address:
            raise ValueError("%r is not an SMTP:address or smtp:address entry" % item)
    primaries = [item for item in items if item.startswith("SMTP:")]
    if len(primaries) != 1:
        raise ValueError("exactly one entry must be the primary (upper-case SMTP:), found %d" % len(primaries))
    return items


def addresses_applied(wanted, actual):
    """True when the Graph proxyAddresses hold every wanted address and the wanted primary is the primary."""
    actual = actual or []
    have = {a.split(":", 1)[-1].lower() for a in actual}
    if any(w.split(":", 1)[1].lower() not in have for w in wanted):
        return False
    primary = [w for w in wanted if w.startswith("SMTP:")]
    return not primary or any(a.startswith("SMTP:") and a[5:].lower() == primary[0][5:].lower() for a in actual)


class Engine:
    def __init__(self, pp):
        self.pp = pp
        self.reset()

    @property
    def graph(self):
        return self.pp.graph

    def reset(self):
        self.jobs = collections.OrderedDict()

    def _knob(self, name, default):
        value = self.graph.config.get(name)
        return float(default if value is None else value)

    # ------------------------------------------------------------------------------------------------------------
    # Queue

    def _new_job(self, app_key, users, trigger, not_before):
        job_id = str(uuid.uuid4())
        self.jobs[job_id] = {
            "JobId": job_id, "AppKey": app_key, "State": "Queued", "StartTime": now_iso(), "EndTime": None,
            "Summary": {"Created": 0, "Updated": 0, "Disabled": 0, "Deleted": 0, "Unchanged": 0, "Failed": 0}, "Failures": [],
            "_trigger": trigger, "_users": list(users) if users is not None else None, "_not_before": not_before, "_due": None,
        }
        return self.jobs[job_id]

    def start(self, body):
        """POST /Provisioning/StartSync."""
        app = self.pp.app_by_key(body.get("AppKey"))
        if not app["ProvCapable"] or not app["ProvConfigured"]:
            raise PPError("Outbound provisioning is not configured for application %s." % app["Name"], "ProvisioningNotConfigured")
        if not app["ProvSettingEnabled"]:
            raise PPError("Outbound provisioning is disabled for application %s." % app["Name"], "ProvisioningDisabled")
        users = body.get("Users")
        if users is not None:
            if not isinstance(users, list):
                raise PPError("Users must be a list of user UUIDs.", "InvalidArgument")
            users = [self.pp.user(user_id)["ID"] for user_id in users]
        job = self._new_job(app["ID"], users, "Manual", self.pp.clock())
        self.advance()
        return {"JobId": job["JobId"]}

    def membership_changed(self, role_id, user_ids):
        """A role's membership changed: queue an automatic sync of those users for every app the role feeds."""
        for app in self.pp.apps_fed_by(role_id):
            pending = [job for job in self.jobs.values()
                       if job["AppKey"] == app["ID"] and job["State"] == "Queued" and job["_trigger"] == "RoleMembershipChange"]
            if pending:
                job = pending[0]
                job["_users"] = job["_users"] + [u for u in user_ids if u not in job["_users"]]
                continue
            self._new_job(app["ID"], user_ids, "RoleMembershipChange", self.pp.clock() + self._knob("pp_auto_sync_delay_s", 60))
        self.advance()

    def next_due(self):
        """The monotonic time of the next thing that happens on its own, or None."""
        times = []
        for job in self.jobs.values():
            if job["State"] == "Running":
                times.append(job["_due"])
            elif job["State"] == "Queued":
                times.append(job["_not_before"])
        return min(times) if times else None

    def advance(self):
        """Run what is due: finish running jobs whose time has come, start the next queued job of each app."""
        changed = True
        while changed:
            changed = False
            now = self.pp.clock()
            for app_key in {job["AppKey"] for job in self.jobs.values()}:
                jobs = [job for job in self.jobs.values() if job["AppKey"] == app_key]
                running = [job for job in jobs if job["State"] == "Running"]
                if running and now >= running[0]["_due"]:
                    self._finish(running[0])
                    running = []
                    changed = True
                if not running:
                    ready = [job for job in jobs if job["State"] == "Queued" and job["_not_before"] <= now]
                    if ready:
                        job = ready[0]
                        job["State"] = "Running"
                        job["StartTime"] = now_iso()
                        job["_due"] = now + self._knob("pp_sync_duration_s", 0)
                        changed = True

    def status(self, body):
        self.advance()
        job = self.jobs.get(str(body.get("JobId") or ""))
        if job is None:
            raise PPError("Job %s does not exist." % (body.get("JobId"),), "JobNotFound")
        return public(job)

    def history(self, body):
        self.advance()
        app = self.pp.app_by_key(body.get("AppKey"))
        limit = body.get("Limit")
        jobs = [public(job) for job in reversed(list(self.jobs.values())) if job["AppKey"] == app["ID"]]
        if isinstance(limit, int) and limit > 0:
            jobs = jobs[:limit]
        return {"Results": jobs, "Count": len(jobs)}

    def dump(self):
        out = []
        for job in self.jobs.values():
            item = public(job)
            item["Trigger"] = job["_trigger"]
            item["Users"] = job["_users"]
            out.append(item)
        return out

    # ------------------------------------------------------------------------------------------------------------
    # Running a job

    def _finish(self, job):
        try:
            self._run(job)
        except Exception as exc:  # a sandbox bug must not wedge the queue
            job["Failures"].append({"User": None, "Reason": "InternalError", "Message": "The sandbox engine failed: %s" % exc})
            job["State"] = "Failed"
        job["Summary"]["Failed"] = len(job["Failures"])
        job["EndTime"] = now_iso()
        if job["State"] != "Failed":
            job["State"] = "CompletedWithErrors" if job["Failures"] else "Succeeded"

    def _fail(self, job, upn, reason, message):
        job["Failures"].append({"User": upn, "Reason": reason, "Message": message})

    def service_account_problem(self, app):
        """(reason, message) when the app's Office 365 service account cannot run provisioning, else None."""
        prov = app.get("_prov") or {}
        initial = next((name for name, domain in self.graph.domains.items() if domain["isInitial"]), None)
        upn = "%s@%s" % (prov.get("service_account") or "practiceprotect", initial)
        try:
            account = self.graph.get_user(upn)
        except GraphError:
            return ("ServiceAccountMissing",
                    "The Office 365 service account %s does not exist in Microsoft 365, so Practice Protect cannot sign in to provision "
                    "users. Create it with the Global Administrator role (the federation purpose), then start the sync again." % upn)
        if account.get("accountEnabled") is False:
            return ("ServiceAccountDisabled", "The Office 365 service account %s is blocked from signing in. Enable it, then start the "
                                              "sync again." % upn)
        principal_role_ids = getattr(self.graph, "principal_role_ids", None)
        if principal_role_ids is None:
            # Fallback while the Graph tenant has no directory roles: the account's existence stands for its role.
            return None
        from . import state as state_module
        global_admin = getattr(state_module, "GLOBAL_ADMIN", GLOBAL_ADMIN_FALLBACK)
        if global_admin not in principal_role_ids(account["id"]):
            return ("ServiceAccountNotGlobalAdmin",
                    "The Office 365 service account %s does not hold the Global Administrator role, which federated provisioning "
                    "needs. Assign it (the federation purpose of the service account), then start the sync again." % upn)
        return None

    def _run(self, job):
        app = self.pp.apps.get(job["AppKey"])
        if app is None or not app["ProvSettingEnabled"]:
            job["Failures"].append({"User": None, "Reason": "ProvisioningDisabled", "Message": "Outbound provisioning is disabled."})
            job["State"] = "Failed"
            return
        token = pp_methods.method(self) == pp_methods.TOKEN
        problem = pp_methods.token_problem(self, app) if token else self.service_account_problem(app)
        if problem is not None:
            job["Failures"].append({"User": None, "Reason": problem[0], "Message": problem[1]})
            job["State"] = "Failed"
            return
        prov = app["_prov"]
        subset = set(job["_users"]) if job["_users"] is not None else None
        scope = self.pp.provisioning_scope(app["ID"])
        proxy_column = None if token else self.pp.proxy_column()  # token-based: Microsoft 365 owns the aliases
        targets = [self.pp.view(self.pp.users[uid]) for uid in scope if subset is None or uid in subset]
        for user in sorted(targets, key=lambda u: u["Name"].lower()):
            self._push(job, app, prov, user, proxy_column)
        scope_ids = set(scope)
        for graph_user in self.graph.list_users():
            owner = user_of_anchor(graph_user.get("onPremisesImmutableId"))
            if owner is None or owner in scope_ids or (subset is not None and owner not in subset):
                continue
            if graph_user.get("accountEnabled") is not False:
                try:
                    self.graph.update_user(graph_user["id"], {"accountEnabled": False})
                    job["Summary"]["Disabled"] += 1
                except GraphError as exc:
                    self._fail(job, graph_user["userPrincipalName"], "DisableFailed",
                               "User %s could not be disabled in Office 365. Message: %s" % (graph_user["userPrincipalName"], exc.message))

    def _push(self, job, app, prov, user, proxy_column):
        upn = user["Name"]
        summary = job["Summary"]
        if user["Source"] != "CDS":
            # A user from the Azure AD source directory already lives in Microsoft 365: nothing to push.
            summary["Unchanged"] += 1
            return
        addresses = []
        if proxy_column:
            value = self.pp.attributes.get(user["ID"], {}).get(proxy_column)
            try:
                addresses = parse_proxy_addresses(value)
            except ValueError as exc:
                self._fail(job, upn, "InvalidProxyAddresses", "The proxyAddresses attribute of %s is not valid: %s." % (upn, exc))
                return
        anchor = anchor_of(user["ID"])
        try:
            graph_user = self.graph.get_user(upn)
        except GraphError:
            graph_user = None
        if graph_user is None:
            self._create(job, prov, user, anchor, addresses)
            return
        current_anchor = graph_user.get("onPremisesImmutableId")
        if current_anchor and current_anchor != anchor:
            self._fail(job, upn, "AnchorConflict", "User %s in Office 365 is linked to another identity (onPremisesImmutableId %s); it was "
                                                   "left unchanged." % (upn, current_anchor))
            return
        changes = {}
        if user.get("DisplayName") and graph_user.get("displayName") != user["DisplayName"]:
            changes["displayName"] = user["DisplayName"]
        if graph_user.get("accountEnabled") is False:
            changes["accountEnabled"] = True
        if not current_anchor:
            changes["onPremisesImmutableId"] = anchor
        location = prov.get("usage_location") or "AU"
        if pp_methods.method(self) == pp_methods.TOKEN and graph_user.get("usageLocation") != location:
            changes["usageLocation"] = location  # "Location: controlled in Practice Protect (will overwrite)"
        stage = bool(addresses) and not addresses_applied(addresses, graph_user.get("proxyAddresses"))
        try:
            if changes:
                self.graph.update_user(graph_user["id"], changes)
        except GraphError as exc:
            self._fail(job, upn, "UpdateFailed", "User %s could not be updated in Office 365. Message: %s" % (upn, exc.message))
            return
        if stage and not self._stage(job, upn, graph_user["id"], addresses):
            return
        summary["Updated" if changes or stage else "Unchanged"] += 1

    def _create(self, job, prov, user, anchor, addresses):
        upn = user["Name"]
        local = upn.split("@")[0]
        display = user.get("DisplayName") or local
        names = display.split(" ", 1)
        body = {"accountEnabled": True, "displayName": display, "mailNickname": "".join(c for c in local if c.isalnum() or c in "._-") or "user",
                "userPrincipalName": upn, "usageLocation": prov.get("usage_location") or "AU", "onPremisesImmutableId": anchor,
                "passwordProfile": {"password": random_password(), "forceChangePasswordNextSignIn": False}}
        if len(names) == 2:
            body["givenName"], body["surname"] = names
        try:
            created = self.graph.create_user(body)
        except GraphError as exc:
            # The wording of the knowledge base's sync report: "User ... could not be created in Office 365 / Message: ...".
            self._fail(job, upn, "CreateFailed", "User %s could not be created in Office 365. Message: %s" % (upn, exc.message))
            return
        job["Summary"]["Created"] += 1
        if pp_methods.method(self) != pp_methods.TOKEN:  # token-based: Microsoft 365 owns licensing
            self._license(job, prov, upn, created["id"])
        if addresses:
            self._stage(job, upn, created["id"], addresses)

    def _license(self, job, prov, upn, user_id):
        part = prov.get("sku")
        if not part:
            return
        sku = next((s for s in self.graph.skus.values() if s["skuPartNumber"].lower() == part.lower() or s["skuId"] == part.lower()), None)
        if sku is None:
            self._fail(job, upn, "LicenseFailed", "The app's licence %s is not a subscription of this Microsoft 365 tenant." % part)
            return
        free = self.graph.free_units(sku["skuId"])
        if free <= 0:
            self._fail(job, upn, "NoLicenseAvailable",
                       "User %s was created in Office 365 without a licence: no %s licence is available (%d bought, %d in use). "
                       "Buy a seat or free one, then assign it." % (upn, sku["skuPartNumber"], sku["seats"],
                                                                    self.graph.consumed_units(sku["skuId"])))
            return
        try:
            self.graph.assign_license(user_id, [{"skuId": sku["skuId"], "disabledPlans": []}], [])
        except GraphError as exc:
            self._fail(job, upn, "LicenseFailed", "The %s licence could not be assigned to %s. Message: %s" % (
                sku["skuPartNumber"], upn, exc.message))

    def _stage(self, job, upn, user_id, addresses):
        stage = getattr(self.graph, "stage_email_addresses", None)
        try:
            if stage is not None:
                stage(user_id, list(addresses))
            else:
                self._apply_addresses_now(user_id, addresses)
        except Exception as exc:  # GraphError, or the Exchange emulation's ExchangeError (an address Exchange refuses)
            self._fail(job, upn, "AddressesFailed", "The e-mail addresses of %s could not be set in Office 365. Message: %s" % (
                upn, getattr(exc, "message", None) or exc))
            return False
        return True

    def _apply_addresses_now(self, user_id, addresses):
        """Fallback while the Graph tenant has no stage_email_addresses (the Exchange emulation): write mail and
        proxyAddresses on the user at once."""
        record = self.graph.records[user_id]
        data = copy.deepcopy(record.data)
        wanted = {a.split(":", 1)[1].lower() for a in addresses}
        kept = ["smtp:" + a.split(":", 1)[1] for a in data.get("proxyAddresses") or [] if a.split(":", 1)[-1].lower() not in wanted]
        data["proxyAddresses"] = list(addresses) + kept
        data["mail"] = next(a[5:] for a in addresses if a.startswith("SMTP:"))
        self.graph._write(record, "user", data)


def public(job):
    return {key: copy.deepcopy(value) for key, value in job.items() if not key.startswith("_")}
