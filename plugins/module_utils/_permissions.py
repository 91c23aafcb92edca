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

READ_AUTH_METHODS = ("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All")
WRITE_AUTH_METHODS = ("UserAuthenticationMethod.ReadWrite.All",)
AUTH_METHOD_SEGMENTS = "phone|microsoftAuthenticator|fido2|softwareOath|email|windowsHelloForBusiness|temporaryAccessPass"

# (methods, path pattern (no leading slash, no query, case-insensitive), permissions): the first match wins.
GRAPH_PERMISSIONS = (
    (("GET",), r"users/[^/]+/authentication/methods", READ_AUTH_METHODS),
    (("DELETE",), r"users/[^/]+/authentication/(%s)Methods/[^/]+" % AUTH_METHOD_SEGMENTS, WRITE_AUTH_METHODS),
    (("DELETE",), r"users/[^/]+/authentication/platformCredentialMethods/[^/]+", WRITE_AUTH_METHODS + ("UserAuthMethod-PlatformCred.ReadWrite.All",)),
    (("GET",), r"users/[^/]+/mailFolders/inbox/messageRules", ("MailboxSettings.Read", "MailboxSettings.ReadWrite")),
    (("PATCH",), r"users/[^/]+/mailFolders/inbox/messageRules/[^/]+", ("MailboxSettings.ReadWrite",)),
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


# -- what each module and role needs (docs/permissions.md, "Per module" and "Practice Protect"; the doctor checks a tenant
# against it; tests/unit/plugins/module_utils/test_permissions.py holds the two together) ----------------------------------

EXCHANGE_ADMINISTRATOR = "Exchange Administrator"
# Module -> (Graph and Exchange application permissions, least privilege, in the docs' order; whether the app needs the Exchange
# Administrator directory role; Practice Protect admin rights). Exchange.ManageAsApp is a permission of the Office 365 Exchange
# Online API, carried by the Exchange token; the others are Microsoft Graph's.
MODULE_NEEDS = {
    "m365_user": (("User.ReadWrite.All", "Domain.Read.All", "Organization.Read.All"), False, ()),
    "m365_user_info": (("User.Read.All", "Organization.Read.All", "GroupMember.Read.All", "Exchange.ManageAsApp"), True, ()),
    "m365_alias": (("User.Read.All", "Exchange.ManageAsApp"), True, ()),
    "m365_mailbox": (("User.Read.All", "Exchange.ManageAsApp"), True, ()),
    "m365_send_mail": (("User.Read.All", "Mail.Send"), False, ()),
    "m365_access": (("User.Read.All", "UserAuthenticationMethod.ReadWrite.All", "MailboxSettings.ReadWrite", "Exchange.ManageAsApp"), True, ()),
    "m365_group_member": (("User.Read.All", "GroupMember.ReadWrite.All", "Exchange.ManageAsApp"), True, ()),
    "service_account": (("User.ReadWrite.All", "Domain.Read.All", "Organization.Read.All", "RoleManagement.ReadWrite.Directory"), False, ()),
    "app_registration": (("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"), False, ()),
    "outbound_sync": (("User.Read.All", "Organization.Read.All"), False, ("Application Management",)),
    "m365_address_info": (("User.Read.All", "GroupMember.Read.All", "Exchange.ManageAsApp"), True, ()),
    "pp_user": ((), False, ("User Management",)),
    "pp_role_member": ((), False, ("Role Management",)),
    "onboard": (("User.ReadWrite.All", "Domain.Read.All", "Organization.Read.All", "GroupMember.ReadWrite.All", "Mail.Send",
                 "Exchange.ManageAsApp"), True, ("User Management", "Role Management", "Application Management")),
    "offboard": (("User.ReadWrite.All", "Domain.Read.All", "Organization.Read.All", "UserAuthenticationMethod.ReadWrite.All",
                  "MailboxSettings.ReadWrite", "GroupMember.ReadWrite.All", "Exchange.ManageAsApp"), True,
                 ("User Management", "Role Management", "Application Management")),
    "doctor": (("User.Read.All", "Domain.Read.All", "Organization.Read.All", "RoleManagement.Read.Directory", "GroupMember.Read.All",
                "Exchange.ManageAsApp"), True, ("Read Only System Administration",)),
}
# The collection's roles and the modules (or engines) they run: a role needs the union of what they need.
ROLE_MODULES = {
    "onboard_user": ("onboard",),
    "offboard_user": ("offboard",),
    "service_account": ("service_account",),
    "app_registration": ("app_registration",),
    "role_sync": ("m365_user_info", "pp_role_member", "outbound_sync"),
}
EXCHANGE_PERMISSION = "Exchange.ManageAsApp"
# Directory roles that include what the Exchange Administrator role gives the app in Exchange Online.
EXCHANGE_ROLES = (EXCHANGE_ADMINISTRATOR, "Global Administrator")
# Practice Protect: System Administrator holds every admin right; any admin right allows the reads.
PP_ALL_RIGHTS = "System Administrator"
PP_READ_RIGHT = "Read Only System Administration"


def needs(name):
    """``{"permissions": [...], "exchange_role": bool, "admin_rights": [...]}`` of a module or a role (``role:<name>`` or a
    role's name when no module has it), in the table's order without repeats."""
    name = name[5:] if name.startswith("role:") else name
    modules = (name,) if name in MODULE_NEEDS else ROLE_MODULES.get(name)
    if modules is None:
        raise KeyError(name)
    permissions, role, rights = [], False, []
    for module in modules:
        graph, exchange_role, admin_rights = MODULE_NEEDS[module]
        permissions.extend(p for p in graph if p not in permissions)
        role = role or exchange_role
        rights.extend(r for r in admin_rights if r not in rights)
    return {"permissions": permissions, "exchange_role": role, "admin_rights": rights}


# A permission a needed one's work is covered by (the broader forms Microsoft lists for the same calls).
BROADER = {
    "User.Read.All": ("User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"),
    "User.ReadWrite.All": ("Directory.ReadWrite.All",),
    "Domain.Read.All": ("Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"),
    "Organization.Read.All": ("Organization.ReadWrite.All", "LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All", "Directory.Read.All",
                              "Directory.ReadWrite.All"),
    "GroupMember.ReadWrite.All": ("Group.ReadWrite.All", "Directory.ReadWrite.All"),
    "GroupMember.Read.All": ("GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
                             "Directory.ReadWrite.All"),
    "RoleManagement.Read.Directory": ("RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.Read.All",
                                      "Directory.ReadWrite.All"),
}


def missing_permissions(needed, granted):
    """The permissions of ``needed`` that neither ``granted`` nor a broader permission in it covers."""
    granted = set(granted or ())
    return [p for p in needed if p not in granted and not granted & set(BROADER.get(p, ()))]
