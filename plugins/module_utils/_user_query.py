# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""m365_user_info: which users a set of filters selects, and which of them are billable.

Plain Python, reachable by unit tests without Ansible. ``build_spec`` checks the options (no I/O); ``run_query`` reads
what it needs in a fixed order (the groups named in ``member_of``, the subscribed SKUs, the users, then one Exchange
list of mailboxes) and applies the filters.

Server-side (``$filter`` in default query mode, cheap for Graph): ``account_enabled`` (``accountEnabled eq``),
``user_type`` (``userType eq``) and ``assigned_licenses`` (``assignedLicenses/any(l:l/skuId eq ...)``) when the users
come from ``GET /users``. Client-side (they need Graph's advanced query mode, whose index lags behind recent changes,
or cannot be expressed): ``licensed``, ``company_name``, ``domain``, ``exclude_onmicrosoft``; and every filter when the
users come from ``member_of`` (``GET /groups/{id}/transitiveMembers/microsoft.graph.user``, one list per group).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.practiceprotect.m365.plugins.module_utils import _validation as v
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import in_filters, odata_string, quote_key, read_users
from ansible_collections.practiceprotect.m365.plugins.module_utils._users import extension_properties

# The options that select users (besides ``user``/``filter``); any of them turns on the filtered mode.
FILTER_OPTIONS = ("member_of", "account_enabled", "licensed", "assigned_licenses", "company_name", "user_type", "domain")
# Graph properties every user of the filtered mode carries (``select`` adds to them).
BASE_SELECT = ("id", "userPrincipalName", "displayName", "accountEnabled", "userType", "companyName", "mail", "assignedLicenses")
# Mailboxes that need no licence and are not a person's: never billable (the seed's mail-sync pattern).
NON_BILLABLE_TYPES = ("SharedMailbox", "RoomMailbox", "EquipmentMailbox")
MAILBOX_SELECT = ["ExternalDirectoryObjectId", "UserPrincipalName", "RecipientTypeDetails"]
ONMICROSOFT_SUFFIX = ".onmicrosoft.com"
ADVANCED_RE = re.compile(r"(\bne\b|\bnot\b|endswith\s*\(|/\$count)", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------------------
# Options


def filtered_mode(params):
    """True when the new filter semantics apply: a filter option, include_mailbox_type, or no ``user`` and no ``filter``."""
    if params.get("user"):
        return False
    return any(params.get(name) is not None for name in FILTER_OPTIONS) or bool(params.get("include_mailbox_type")) \
        or not params.get("filter")


def _entries(params, option, names, one):
    """The distinct entries of a list option (compared without case), refusing blanks and an empty list."""
    out = []
    for entry in params.get(option) or []:
        entry = (entry or "").strip()
        if not entry:
            raise v.ValidationError("%s has an empty entry; give %s." % (option, names), field=option)
        if entry.lower() not in [x.lower() for x in out]:
            out.append(entry)
    if params.get(option) is not None and not out:
        raise v.ValidationError("%s is empty; give at least one %s, or leave the option out." % (option, one), field=option)
    return out or None


def build_spec(params):
    """Check and normalise the options. Raises ValidationError; makes no call."""
    spec = {
        "user": params.get("user"), "filter": params.get("filter"), "select": list(params.get("select") or []),
        "advanced_query": params.get("advanced_query"), "max_items": params.get("max_items"),
        "account_enabled": params.get("account_enabled"), "licensed": params.get("licensed"), "user_type": params.get("user_type"),
        "exclude_onmicrosoft": params.get("exclude_onmicrosoft", True) is not False,
        "include_mailbox_type": bool(params.get("include_mailbox_type")),
        "filtered": filtered_mode(params),
    }
    if spec["max_items"] is not None and spec["max_items"] < 1:
        raise v.ValidationError("max_items must be 1 or more; leave it out to read every user.", field="max_items")
    spec["member_of"] = _entries(params, "member_of", "group display names or object ids", "group")
    spec["assigned_licenses"] = _entries(params, "assigned_licenses", "SKU part numbers or skuIds", "SKU")
    if spec["licensed"] is False and spec["assigned_licenses"]:
        raise v.ValidationError("licensed: false keeps users holding no licence, so assigned_licenses cannot match anyone; use one of "
                                "the two.", field="licensed")
    company = params.get("company_name")
    if company is not None and not company.strip():
        raise v.ValidationError("company_name is empty; give the company name to match, or leave the option out.", field="company_name")
    spec["company_name"] = company.strip() if company is not None else None
    domains = []
    for entry in params.get("domain") or []:
        name = v.validate_domain_name((entry or "").strip().lstrip("@"), "domain")
        if name not in domains:
            domains.append(name)
    if params.get("domain") is not None and not domains:
        raise v.ValidationError("domain is empty; give at least one domain, or leave the option out.", field="domain")
    if spec["exclude_onmicrosoft"] and spec["filtered"]:
        initial = [d for d in domains if is_onmicrosoft_domain(d)]
        if initial:
            raise v.ValidationError(
                "domain lists %s, but exclude_onmicrosoft (true by default) leaves out every user on a *.onmicrosoft.com domain. "
                "Set exclude_onmicrosoft: false to include them." % ", ".join(initial), field="domain")
    spec["domain"] = domains or None
    return spec


def is_onmicrosoft_domain(domain):
    domain = (domain or "").lower()
    return domain.endswith(ONMICROSOFT_SUFFIX) or domain == ONMICROSOFT_SUFFIX[1:]


def upn_domain(upn):
    return (upn or "").rsplit("@", 1)[-1].lower()


def select_list(extra):
    """BASE_SELECT plus the user's ``select`` (Graph names, each once)."""
    out = list(BASE_SELECT)
    for name in extra or []:
        if name.lower() not in [o.lower() for o in out]:
            out.append(name)
    return out


def query_options(filter_text, select, advanced):
    """Query parameters and headers for GET /users; advanced mode (ConsistencyLevel, $count) when the filter needs it."""
    params = {"$top": "999"}
    headers = {}
    if select:
        params["$select"] = ",".join(select)
    if filter_text:
        params["$filter"] = filter_text
    if advanced is None:
        advanced = bool(filter_text and ADVANCED_RE.search(_strip_literals(filter_text)))
    if advanced:
        params["$count"] = "true"
        headers["ConsistencyLevel"] = "eventual"
    return params, headers


def _strip_literals(text):
    return re.sub(r"'(?:[^']|'')*'", "''", text)


# --------------------------------------------------------------------------------------------------------------
# Groups and licences named by the options


def group_queries(member_of):
    """GET /groups query parameters finding every group member_of names (display names and object ids), 15 per clause."""
    names = [m for m in member_of if not v.is_guid(m)]
    ids = [m.lower() for m in member_of if v.is_guid(m)]
    clauses = in_filters("displayName", names) + in_filters("id", ids)
    return [{"$filter": clause, "$select": "id,displayName", "$top": "999"} for clause in clauses]


def resolve_groups(member_of, found):
    """The groups (``{id, displayName}``) member_of names, in its order. ValidationError for a name or id no group has (a
    misspelt group must not read as an empty one) and for a name several groups share."""
    groups, unknown = [], []
    for entry in member_of:
        if v.is_guid(entry):
            matches = [g for g in found if (g.get("id") or "").lower() == entry.lower()]
        else:
            matches = [g for g in found if (g.get("displayName") or "").lower() == entry.lower()]
        if not matches:
            unknown.append(entry)
            continue
        if len(matches) > 1:
            raise v.ValidationError(
                "member_of: %d groups are named '%s' (object ids %s); give the object id of the one you mean." % (
                    len(matches), entry, ", ".join(sorted(g["id"] for g in matches))), field="member_of")
        if matches[0]["id"].lower() not in [g["id"].lower() for g in groups]:
            groups.append({"id": matches[0]["id"], "displayName": matches[0].get("displayName")})
    if unknown:
        raise v.ValidationError(
            "member_of names no group of this tenant: %s. Check the spelling or give the group's object id (a misspelt group must "
            "not read as an empty one)." % ", ".join("'%s'" % u for u in unknown), field="member_of")
    return groups


def resolve_licences(requested, skus):
    """Lower-case skuIds of the SKUs ``assigned_licenses`` names (part numbers or skuIds); ValidationError naming the SKUs on offer."""
    by_part = dict((s["skuPartNumber"].upper(), s) for s in skus)
    by_id = dict((s["skuId"].lower(), s) for s in skus)
    out, unknown = [], []
    for name in requested:
        sku = by_id.get(name.lower()) if v.is_guid(name) else by_part.get(name.upper())
        if sku is None:
            unknown.append(name)
        elif sku["skuId"].lower() not in out:
            out.append(sku["skuId"].lower())
    if unknown:
        raise v.ValidationError(
            "assigned_licenses names a licence this tenant does not subscribe to: %s. SKUs on offer: %s. Give SKU part numbers or "
            "skuIds from that list." % (", ".join(unknown), ", ".join(sorted(by_part)) or "none"), field="assigned_licenses")
    return out


def sku_names(assigned, skus):
    by_id = dict((s["skuId"].lower(), s["skuPartNumber"]) for s in skus)
    return sorted(by_id.get((lic.get("skuId") or "").lower(), lic.get("skuId")) for lic in assigned or [])


# --------------------------------------------------------------------------------------------------------------
# Filters


def server_filter(spec, sku_ids):
    """The $filter for GET /users: the user's ``filter`` and the options Graph filters in default query mode."""
    clauses = []
    if spec["filter"]:
        clauses.append("(%s)" % spec["filter"])
    if spec["account_enabled"] is not None:
        clauses.append("accountEnabled eq %s" % ("true" if spec["account_enabled"] else "false"))
    if spec["user_type"]:
        clauses.append("userType eq %s" % odata_string(spec["user_type"]))
    if sku_ids:
        anys = ["assignedLicenses/any(l:l/skuId eq %s)" % sku_id for sku_id in sku_ids]
        clauses.append(anys[0] if len(anys) == 1 else "(%s)" % " or ".join(anys))
    if not clauses:
        return None
    if len(clauses) == 1 and spec["filter"]:
        return spec["filter"]
    return " and ".join(clauses)


def matches(user, spec, sku_ids):
    """Whether a user passes every filter option (the server-side ones are checked again: harmless, and needed for the
    member_of path, where Graph filters nothing)."""
    if spec["account_enabled"] is not None and user.get("accountEnabled") is not spec["account_enabled"]:
        return False
    if spec["user_type"] and (user.get("userType") or "") != spec["user_type"]:
        return False
    held = set((lic.get("skuId") or "").lower() for lic in user.get("assignedLicenses") or [])
    if spec["licensed"] is not None and bool(held) is not spec["licensed"]:
        return False
    if sku_ids and not held & set(sku_ids):
        return False
    if spec["company_name"] is not None and (user.get("companyName") or "").strip().lower() != spec["company_name"].lower():
        return False
    if spec["domain"] and upn_domain(user.get("userPrincipalName")) not in spec["domain"]:
        return False
    return True


def mailbox_types(mailboxes):
    """Lower-case user id (and UPN) -> RecipientTypeDetails, from Get-Mailbox's list."""
    out = {}
    for mailbox in mailboxes or []:
        kind = mailbox.get("RecipientTypeDetails")
        for key in (mailbox.get("ExternalDirectoryObjectId"), mailbox.get("UserPrincipalName")):
            if key:
                out[key.lower()] = kind
    return out


def is_billable(mailbox_type, assigned):
    """False for shared, room and equipment mailboxes and for users holding no licence; true otherwise."""
    return mailbox_type not in NON_BILLABLE_TYPES and bool(assigned)


def shape(user, select, skus, mailboxes=None):
    """A user as m365_user_info returns it in the filtered mode: the selected Graph properties, ``licenses`` (part numbers),
    and with ``mailboxes`` (from mailbox_types) ``mailbox_type`` (None: no mailbox) and ``billable``."""
    out = dict((name, user.get(name)) for name in select)
    out["licenses"] = sku_names(user.get("assignedLicenses"), skus)
    if mailboxes is not None:
        kind = mailboxes.get((user.get("id") or "").lower()) or mailboxes.get((user.get("userPrincipalName") or "").lower())
        out["mailbox_type"] = kind
        out["billable"] = is_billable(kind, user.get("assignedLicenses"))
    return out


def select_users(users, spec, sku_ids):
    """(kept, skipped): the users that pass the filters, and those left out only for being on *.onmicrosoft.com."""
    kept, skipped = [], []
    for user in users:
        if not matches(user, spec, sku_ids):
            continue
        if spec["exclude_onmicrosoft"] and is_onmicrosoft_domain(upn_domain(user.get("userPrincipalName"))):
            skipped.append({"userPrincipalName": user.get("userPrincipalName"), "reason": "onmicrosoft"})
            continue
        kept.append(user)
    return kept, skipped


# --------------------------------------------------------------------------------------------------------------
# The reads


def read_mailboxes(exchange):
    """Every mailbox's type with one Get-Mailbox list (paged by Exchange), not one call per user."""
    return mailbox_types(exchange.invoke("Get-Mailbox", {"ResultSize": "Unlimited"}, select=MAILBOX_SELECT))


def read_keys(graph, keys, select, extensions=None):
    """``users`` lookup: Graph's own objects for the UPNs or ids that exist (in the order given), and the keys that name nobody."""
    wanted = []
    for key in keys or []:
        key = (key or "").strip()
        if not key:
            raise v.ValidationError("users has an empty entry; give UPNs or object ids.", field="users")
        if key.lower() not in [w.lower() for w in wanted]:
            wanted.append(key)
    fields = list(select or []) or ["id", "userPrincipalName", "displayName", "mail", "accountEnabled"]
    for needed in ("id", "userPrincipalName"):
        if needed not in fields:
            fields.append(needed)
    found = read_users(graph, wanted, fields, expand="extensions" if extensions else None)
    users, missing, seen = [], [], set()
    for key in wanted:
        user = found.get(key.lower())
        if user is None:
            missing.append(key)
        elif user["id"] not in seen:
            seen.add(user["id"])
            if extensions:
                held = dict((e.get("extensionName") or e.get("id"), e) for e in user.get("extensions") or [])
                user["extensions"] = dict((name, extension_properties(held[name])) for name in extensions if name in held)
            users.append(user)
    return {"users": users, "count": len(users), "missing": missing, "skipped_users": []}


def run_query(graph, exchange, spec):
    """Read and filter. ``graph`` is a GraphClient, ``exchange`` a callable returning the ExchangeClient (asked for only
    when include_mailbox_type is on). Returns ``{users, count, skipped_users}``. Groups and SKUs are read first, so that an
    unknown group or SKU fails before anything else is read."""
    if not spec["filtered"]:
        return _legacy(graph, exchange, spec)
    groups = None
    if spec["member_of"]:
        found = []
        for params in group_queries(spec["member_of"]):
            found.extend(graph.list("groups", params=params))
        groups = resolve_groups(spec["member_of"], found)
    skus = graph.list("subscribedSkus", params={"$select": "skuId,skuPartNumber"})
    sku_ids = resolve_licences(spec["assigned_licenses"], skus) if spec["assigned_licenses"] else None
    select = select_list(spec["select"])
    if groups is not None:
        users, seen = [], set()
        params = {"$select": ",".join(select), "$top": "999", "$count": "true"}
        if spec["filter"]:
            params["$filter"] = spec["filter"]
        for group in groups:
            path = "groups/%s/transitiveMembers/microsoft.graph.user" % quote_key(group["id"])
            for user in graph.list(path, params=params, headers={"ConsistencyLevel": "eventual"}):
                if not user.get("userPrincipalName"):
                    # Graph gives members as ids with null properties to an app that can read groups but not users.
                    raise v.ValidationError(
                        "Microsoft Graph returned the members of group %s without their properties: the application can read "
                        "group members but not users. Grant it User.Read.All (see docs/permissions.md)." % group.get("displayName"),
                        field="member_of")
                if user["id"].lower() not in seen:
                    seen.add(user["id"].lower())
                    users.append(user)
    else:
        params, headers = query_options(server_filter(spec, sku_ids), select, spec["advanced_query"])
        users = graph.list("users", params=params, headers=headers)
    kept, skipped = select_users(users, spec, sku_ids)
    if spec["max_items"] is not None:
        kept = kept[:spec["max_items"]]
    mailboxes = None
    if spec["include_mailbox_type"]:
        mailboxes = read_mailboxes(exchange()) if kept else {}  # nobody left to mark: no Exchange call
    out = [shape(user, select, skus, mailboxes) for user in kept]
    return {"users": out, "count": len(out), "skipped_users": skipped}


def _legacy(graph, exchange, spec):
    """A lookup by ``user``, or ``filter`` alone: Graph's own shape, no onmicrosoft exclusion (as before the filter options)."""
    if spec["user"]:
        if spec["include_mailbox_type"]:
            select = select_list(spec["select"])
            user = graph.get_or_none("users/%s" % quote_key(spec["user"]), params={"$select": ",".join(select)})
            if user is None:
                return {"users": [], "count": 0, "skipped_users": []}
            skus = graph.list("subscribedSkus", params={"$select": "skuId,skuPartNumber"})
            mailbox = exchange().get_mailbox(user["id"])
            mailboxes = mailbox_types([mailbox]) if mailbox else {}
            return {"users": [shape(user, select, skus, mailboxes)], "count": 1, "skipped_users": []}
        params = {"$select": ",".join(spec["select"])} if spec["select"] else None
        user = graph.get_or_none("users/%s" % quote_key(spec["user"]), params=params)
        users = [user] if user else []
    else:
        params, headers = query_options(spec["filter"], spec["select"], spec["advanced_query"])
        users = graph.list("users", params=params, headers=headers, limit=spec["max_items"])
    for user in users:
        user.pop("@odata.context", None)
    return {"users": users, "count": len(users), "skipped_users": []}
