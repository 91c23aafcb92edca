"""Start the sandbox from a tenant snapshot the doctor wrote (``python -m tests.sandbox serve --snapshot FILE``).

A rehearsal replica: the Graph tenant takes the snapshot's domains, SKUs and seats, activated directory roles and
groups (and users with their licences and directory roles, when the snapshot has them); the Practice Protect tenant
takes its roles, directories and the provisioning state of its applications (and its cloud-directory users with their
roles, when present). ``POST /_sandbox/reset`` returns to the snapshot.

What the copy keeps and what it cannot:

- seats: a SKU's consumed units that no seeded user explains (a snapshot without users) are kept as reserved seats, so
  the free seats are the tenant's;
- users: no password, no mailbox content; mailboxes appear for users whose licences carry a known Exchange plan;
- Practice Protect: roles carry no admin rights (the sandbox's own System Administrator client keeps all of them),
  users of a source directory (Entra ID) are not copied (they mirror the Microsoft 365 users), the directories' ids are the
  sandbox's own for the cloud and Entra ID directories;
- the sandbox's apps (and their secrets, in sandbox.env) and its tenant id stay the sandbox's.
"""

import json
import uuid

from . import state as graph_state

VERSION = 1
DOMAIN_DEFAULTS = {"authenticationType": "Managed", "availabilityStatus": None, "isAdminManaged": True, "isRoot": True,
                   "passwordValidityPeriodInDays": 2147483647, "passwordNotificationWindowInDays": 90, "state": None}
ENTRA_WORDS = ("azure", "entra", "aad")


class SnapshotError(ValueError):
    """The file is not a snapshot the sandbox can start from."""


def load(path):
    """The snapshot in ``path``, checked; SnapshotError says what is wrong."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (IOError, OSError) as exc:
        raise SnapshotError("cannot read the snapshot %s: %s" % (path, exc.strerror or exc))
    except ValueError as exc:
        raise SnapshotError("the snapshot %s is not JSON: %s" % (path, exc))
    return check(data)


def check(data):
    if not isinstance(data, dict) or data.get("snapshot_version") != VERSION:
        found = data.get("snapshot_version") if isinstance(data, dict) else None
        raise SnapshotError("not a doctor snapshot of version %d (snapshot_version is %r)" % (VERSION, found))
    domains = data.get("domains")
    if not isinstance(domains, list) or not domains or not all(isinstance(d, dict) and d.get("id") for d in domains):
        raise SnapshotError("the snapshot has no domains (each needs an id)")
    if not any(d.get("isInitial") for d in domains):
        raise SnapshotError("the snapshot has no initial (onmicrosoft.com) domain")
    for key in ("skus", "groups", "users", "directory_roles"):
        if data.get(key) is not None and not isinstance(data[key], list):
            raise SnapshotError("%s must be a list" % key)
    return data


# -- Microsoft 365 ------------------------------------------------------------------------------------------------------

def _service_of(name):
    known = graph_state.PLANS.get(name)
    if known:
        return known[1]
    return "exchange" if (name or "").upper().startswith("EXCHANGE_S") else (name or "unknown")


def apply_graph(tenant, snap):
    """Make ``tenant`` (just reset, without the default seed) the snapshot's shape."""
    tenant.domains = {}
    for domain in snap["domains"]:
        entry = dict(DOMAIN_DEFAULTS, id=domain["id"].lower(), isVerified=bool(domain.get("isVerified")), isDefault=bool(domain.get("isDefault")),
                     isInitial=bool(domain.get("isInitial")),
                     supportedServices=list(domain.get("supportedServices") or (["Email"] if domain.get("isVerified") else [])))
        tenant.domains[entry["id"]] = entry
    tenant.skus = {}
    for sku in snap.get("skus") or []:
        sku_id = sku["skuId"].lower()
        tenant.skus[sku_id] = {
            "skuId": sku_id, "skuPartNumber": sku.get("skuPartNumber") or sku_id, "seats": int((sku.get("prepaidUnits") or {}).get("enabled") or 0),
            "capabilityStatus": sku.get("capabilityStatus") or "Enabled", "reserved": 0,
            "subscriptionId": str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-subscription:" + sku_id)),
            "plans": [(p["servicePlanId"], p.get("servicePlanName"), _service_of(p.get("servicePlanName"))) for p in sku.get("servicePlans") or []],
        }
    by_name = dict((d["displayName"].lower(), template_id) for template_id, d in graph_state.ROLE_DEFINITIONS.items())
    for name in snap.get("directory_roles") or []:
        template_id = by_name.get((name or "").lower())
        if template_id:
            tenant.activated_roles.add(template_id)
    for user in snap.get("users") or []:
        spec = dict((k, v) for k, v in user.items() if k in graph_state.USER_SCHEMA and v is not None)
        spec["licenses"] = [lic for lic in user.get("licenses") or [] if lic and lic.lower() in tenant.skus]
        for sku_id in spec["licenses"]:  # the snapshot's seats were consumed by these users: room for them first
            sku = tenant.skus[sku_id.lower()]
            sku["seats"] = max(sku["seats"], tenant.consumed_units(sku["skuId"]) + 1)
        created = tenant.seed_user(spec)
        for role in user.get("directoryRoles") or []:
            template_id = by_name.get((role or "").lower())
            if template_id:
                tenant.seed_role_assignment(created["id"], template_id)
    for sku in snap.get("skus") or []:  # what no seeded user explains stays consumed
        entry = tenant.skus[sku["skuId"].lower()]
        entry["seats"] = int((sku.get("prepaidUnits") or {}).get("enabled") or 0)
        entry["reserved"] = max(0, int(sku.get("consumedUnits") or 0) - tenant.consumed_units(entry["skuId"], reserved=False))
    pending = [dict(g) for g in snap.get("groups") or [] if g.get("displayName")]
    while pending:  # a group that holds groups after them
        seeded = []
        names = set((g["displayName"] or "").lower() for g in pending)
        for group in pending:
            members = [m for m in group.get("members") or [] if m]
            if any(m.lower() in names and m.lower() != group["displayName"].lower() for m in members if "@" not in m):
                continue
            spec = dict((k, v) for k, v in group.items() if k in graph_state.GROUP_PROPERTIES and k != "id" and v is not None)
            spec["members"] = members
            tenant.seed_group(spec)
            seeded.append(group)
        if not seeded:  # a cycle: seed the rest without their group members
            for group in pending:
                tenant.seed_group(dict((k, v) for k, v in group.items() if k in graph_state.GROUP_PROPERTIES and k != "id" and v is not None))
            break
        pending = [g for g in pending if g not in seeded]


# -- Practice Protect --------------------------------------------------------------------------------------------------

def directory_rows(pp_state, rows):
    """GetDirectoryServices rows of the snapshot, with the sandbox's ids for the cloud and Entra ID directories."""
    out = []
    for row in rows or []:
        service = row.get("Service") or ""
        label = ("%s %s" % (service, row.get("DisplayName") or "")).lower()
        if service.upper() == "CDS":
            uuid_value = pp_state.CDS_UUID
        elif service.upper() == "FDS":
            uuid_value = pp_state.FDS_UUID
        elif any(word in label for word in ENTRA_WORDS):
            uuid_value = pp_state.AAD_UUID
        else:
            uuid_value = str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-directory:" + label))
        out.append({"directoryServiceUuid": uuid_value, "Service": service, "DisplayName": row.get("DisplayName"), "Name": row.get("Name") or service,
                    "Status": row.get("Status") or "Active", "Config": None})
    return out


def apply_pp(pp, snap):
    """Make the Practice Protect tenant ``pp`` (just reset) the snapshot's shape."""
    from . import pp_state

    part = snap.get("practice_protect")
    if not isinstance(part, dict):
        return
    keep = set(client["user_id"] for client in pp.clients.values())
    for user_id in [u for u in pp.users if u not in keep]:  # the default seed's people are not this tenant's
        del pp.users[user_id]
        pp.attributes.pop(user_id, None)
    for role in pp.roles.values():
        role["Members"] = [m for m in role["Members"] if m["Guid"] in keep]
    wanted = dict(((r.get("Name") or "").lower(), r) for r in part.get("roles") or [] if r.get("Name"))
    system = (pp_state.SYSADMIN_ROLE, pp_state.EVERYBODY_ROLE)
    for role_id in [rid for rid, role in pp.roles.items() if rid not in system and role["Name"].lower() not in wanted]:
        del pp.roles[role_id]
    for name, role in wanted.items():
        existing = pp.role_by_name(role["Name"])
        if existing is None:
            pp.add_role(role["Name"], role.get("Description") or "")
        elif role.get("Description") is not None:
            existing["Description"] = role["Description"]
    if part.get("directories"):
        pp.snapshot_directories = directory_rows(pp_state, part["directories"])
    for app in part.get("applications") or []:
        found = [a for a in pp.apps.values() if a["Name"].lower() == (app.get("Name") or "").lower()]
        if not found:
            continue
        target = found[0]
        for key in ("ProvCapable", "ProvConfigured", "ProvSettingEnabled"):
            if key in app:
                target[key] = bool(app[key])
        prov = target.get("_prov")
        if prov is not None:
            prov["roles"] = [r["ID"] for r in (pp.role_by_name(target["Name"]),) if r]
            if prov.get("sku") and not _sku(pp.graph, prov["sku"]):
                prov["sku"] = _licence_for_sync(pp.graph)
    for user in part.get("users") or []:
        if (user.get("Source") or "CDS").upper() != "CDS" or not user.get("Name") or pp.user_by_name(user["Name"]):
            continue
        seeded = pp._add_cloud_user(str(uuid.uuid4()), user["Name"], user.get("DisplayName") or user["Name"].split("@")[0], user.get("Mail"), None)
        seeded["Status"] = user.get("Status") or "Active"
        for name in user.get("Roles") or []:
            role = pp.role_by_name(name)
            if role is not None:
                pp._add_member(role["ID"], seeded["ID"])


def _sku(tenant, name):
    return [s for s in tenant.skus.values() if name.lower() in (s["skuId"], s["skuPartNumber"].lower())]


def _licence_for_sync(tenant):
    """The SKU the Office 365 app assigns in the copy: the first with an Exchange plan (None: the sync assigns none)."""
    for sku in sorted(tenant.skus.values(), key=lambda s: s["skuPartNumber"]):
        if any(plan[0] in graph_state.EXCHANGE_PLAN_IDS for plan in sku["plans"]):
            return sku["skuPartNumber"]
    return None


def summary(snap):
    """One line for the command line: what the sandbox starts from."""
    part = snap.get("practice_protect") or {}
    return "snapshot of %s: %d domains, %d SKUs, %d groups, %d users; Practice Protect: %d roles, %d directories" % (
        snap.get("taken") or "?", len(snap.get("domains") or []), len(snap.get("skus") or []), len(snap.get("groups") or []),
        len(snap.get("users") or []), len(part.get("roles") or []), len(part.get("directories") or []))
