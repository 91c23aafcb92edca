#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: m365_user_info
short_description: Look up Microsoft 365 users
version_added: 0.1.0
description:
  - Reads users from Microsoft Graph by UPN or object id, or by an OData filter, following every page.
  - Filters that need Graph's advanced query mode (C(ne), C(not), C(endswith), C($count)) get the
    C(ConsistencyLevel) header and C($count=true) automatically.
author:
  - practiceprotect.m365 maintainers (@practiceprotect)
extends_documentation_fragment:
  - practiceprotect.m365.m365_auth
  - practiceprotect.m365.attributes
  - practiceprotect.m365.attributes.INFO_MODULE
options:
  user:
    description: UPN or object id of one user. Mutually exclusive with O(filter).
    type: str
  filter:
    description: OData C($filter) expression, for example C(department eq 'Tax').
    type: str
  select:
    description:
      - Graph properties to return. Graph returns a default set when left out; properties such as
        C(accountEnabled), C(usageLocation), C(assignedLicenses) and C(proxyAddresses) must be selected.
    type: list
    elements: str
  advanced_query:
    description:
      - Send C(ConsistencyLevel=eventual) and C($count=true). Left out, it is decided from the filter.
    type: bool
  max_items:
    description: Stop after this many users.
    type: int
"""

EXAMPLES = r"""
- name: One user
  practiceprotect.m365.m365_user_info:
    user: jane.citizen@northwindacct.com
    select: [id, userPrincipalName, accountEnabled, assignedLicenses, usageLocation]
  register: jane

- name: Everyone in Tax whose address is not on the onmicrosoft.com domain
  practiceprotect.m365.m365_user_info:
    filter: "department eq 'Tax' and not endswith(userPrincipalName,'.onmicrosoft.com')"
    select: [userPrincipalName, displayName, mobilePhone]
  register: tax
"""

RETURN = r"""
users:
  description: The users found (empty when none match or the user does not exist).
  returned: always
  type: list
  elements: dict
  sample: [{id: 0b6f2d4e-7f1e-4c55-9a2c-2b9f5d1e8c11, userPrincipalName: jane.citizen@northwindacct.com, displayName: Jane Citizen}]
count:
  description: Number of users returned.
  returned: always
  type: int
retries:
  description: How many requests were retried (throttling, 5xx, resets).
  returned: always
  type: int
graph_requests:
  description: How many Graph requests the task sent.
  returned: always
  type: int
"""

import re

from ansible_collections.practiceprotect.m365.plugins.module_utils._module import M365Module
from ansible_collections.practiceprotect.m365.plugins.module_utils._graph import quote_key

ADVANCED_RE = re.compile(r"(\bne\b|\bnot\b|endswith\s*\(|/\$count)", re.IGNORECASE)


def main():
    m = M365Module(
        argument_spec=dict(
            user=dict(type="str"),
            filter=dict(type="str"),
            select=dict(type="list", elements="str"),
            advanced_query=dict(type="bool"),
            max_items=dict(type="int"),
        ),
        mutually_exclusive=[("user", "filter")],
        supports_check_mode=True,
    )
    m.run(run)


def query_options(filter_text, select, advanced):
    """Query parameters and headers for a list call; advanced mode when the filter needs it."""
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


def run(m):
    p = m.params
    if p["user"]:
        params = {"$select": ",".join(p["select"])} if p["select"] else None
        user = m.graph.get_or_none("users/%s" % quote_key(p["user"]), params=params)
        users = [user] if user else []
    else:
        params, headers = query_options(p["filter"], p["select"], p["advanced_query"])
        users = m.graph.list("users", params=params, headers=headers, limit=p["max_items"])
    for user in users:
        user.pop("@odata.context", None)
    m.exit(changed=False, users=users, count=len(users))


if __name__ == "__main__":
    main()
