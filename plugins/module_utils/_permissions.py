# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Microsoft Graph application permissions that allow each call the modules make.

Graph's 403 says only "Insufficient privileges to complete the operation."; the modules name the permissions that would
have allowed the refused call, from this table. It mirrors the "Per call" table of docs/permissions.md and the sandbox's
enforcement (tests/unit/plugins/module_utils/test_permissions.py checks both): least privileged first.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")
READ_GROUPS = ("GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
               "Directory.ReadWrite.All")
READ_DIRECTORY_ROLES = ("RoleManagement.Read.Directory", "Directory.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.ReadWrite.All")
READ_APPLICATIONS = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_ROLES = ("RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.Read.All",
              "Directory.ReadWrite.All")

# (methods, path pattern (no leading slash, no query, case-insensitive), permissions): the first match wins.
GRAPH_PERMISSIONS = (
    (("POST",), r"users/[^/]+/assignLicense", ("LicenseAssignment.ReadWrite.All",) + WRITE_USERS),
    (("POST",), r"users/[^/]+/(microsoft\.graph\.)?revokeSignInSessions", ("User.RevokeSessions.All",) + WRITE_USERS),
    (("POST",), r"users/[^/]+/(microsoft\.graph\.)?sendMail", ("Mail.Send",)),
    (("GET",), r"users/[^/]+/memberOf(/microsoft\.graph\.group)?",
     ("Directory.Read.All",) + tuple(p for p in READ_USERS + READ_GROUPS if p != "Directory.Read.All")),
    (("PUT", "DELETE"), r"users/[^/]+/manager/\$ref", WRITE_USERS),
    (("GET",), r"users(/\$count|/[^/]+(/manager|/extensions(/[^/]+)?)?)?|directory/deletedItems(/((microsoft\.)?graph\.user(/\$count)?|[^/]+))?", READ_USERS),
    (("POST", "PATCH", "DELETE"), r"users(/[^/]+(/extensions(/[^/]+)?)?)?|directory/deletedItems/[^/]+(/restore)?", WRITE_USERS),
    (("GET",), r"subscribedSkus(/[^/]+)?", ("Organization.Read.All", "LicenseAssignment.Read.All", "Directory.Read.All",
                                            "Organization.ReadWrite.All", "LicenseAssignment.ReadWrite.All", "Directory.ReadWrite.All")),
    (("GET",), r"domains(/[^/]+)?", ("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")),
    (("GET",), r"roleManagement/directory/(roleDefinitions|roleAssignments)(/[^/]+)?", READ_ROLES),
    (("GET",), r"directoryRoles(/[^/]+(/members)?)?", READ_DIRECTORY_ROLES),
    (("POST", "DELETE"), r"roleManagement/directory/roleAssignments(/[^/]+)?", ("RoleManagement.ReadWrite.Directory",)),
    (("POST", "DELETE"), r"groups/[^/]+/members(/[^/]+)?/\$ref", ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")),
    (("GET",), r"groups(/[^/]+(/(members|transitiveMembers)(/microsoft\.graph\.(user|group))?)?)?", READ_GROUPS),
    # Granting an application permission needs AppRoleAssignment.ReadWrite.All and, besides it, Application.Read.All (or a
    # permission above it): serviceprincipal-post-approleassignments.
    (("POST", "DELETE"), r"servicePrincipals/[^/]+/appRoleAssignments(/[^/]+)?", ("AppRoleAssignment.ReadWrite.All",)),
    (("GET",), r"servicePrincipals/[^/]+/appRoleAssignments", READ_APPLICATIONS + ("AppRoleAssignment.ReadWrite.All",)),
    (("GET",), r"(applications|servicePrincipals)(/[^/]+)?", READ_APPLICATIONS),
    (("POST", "PATCH", "DELETE"), r"applications(/[^/]+(/(addPassword|removePassword))?)?|servicePrincipals", ("Application.ReadWrite.All",)),
)


def graph_permissions(method, path):
    """The application permissions any one of which allows ``method path`` (a tuple; empty when the call is not listed)."""
    path = (path or "").split("?")[0].strip("/")
    path = re.sub(r"^(v1\.0|beta)/", "", path)
    for methods, pattern, permissions in GRAPH_PERMISSIONS:
        if (method or "").upper() in methods and re.match("(?:%s)$" % pattern, path, re.IGNORECASE):
            return permissions
    return ()
