"""Microsoft Graph: which application permissions each route accepts, and what each request costs in resource units.

Plain data, so that the collection's permission table (plugins/module_utils/_permissions.py) and docs/permissions.md are
checked against it (tests/unit/plugins/module_utils/test_permissions.py). Keys are "METHOD /template" as in graph_urls.HANDLERS.
"""

from . import mail
from .errors import GraphError

# Application roles; any one suffices.
READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")
READ_SKUS = ("Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All",
             "LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All")
READ_DOMAINS = ("Domain.Read.All", "Domain.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_ROLE_MANAGEMENT = ("RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.Read.All",
                        "Directory.ReadWrite.All")
WRITE_ROLE_MANAGEMENT = ("RoleManagement.ReadWrite.Directory",)
# directoryrole-list, directoryrole-get, directoryrole-list-members (application, least privileged first).
READ_DIRECTORY_ROLES = ("RoleManagement.Read.Directory", "Directory.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.ReadWrite.All")
# Groups: group-list, group-get, group-list-members, group-list-transitivemembers (application: GroupMember.Read.All least
# privileged; Group.Read.All, Group.ReadWrite.All, GroupMember.ReadWrite.All, Directory.Read.All higher). Directory.ReadWrite.All
# covers them too (UNCONFIRMED: the docs' tables do not list it for every one of these).
READ_GROUPS = ("GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All",
               "Directory.ReadWrite.All")
# group-post-members and group-delete-members: GroupMember.ReadWrite.All least privileged (for user and group members).
WRITE_GROUP_MEMBERS = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")
# user-list-memberof: the current docs give Directory.Read.All as the least privileged application permission; with
# User.Read.All the call works and groups come back with their id and type only (Graph's "limited information returned for
# inaccessible member objects"; confirmed by a Microsoft MVP's test with User.Read.All, then User.Read.All and
# GroupMember.Read.All). The sandbox accepts the user and group read permissions and applies that limit.
READ_MEMBER_OF = READ_USERS + READ_GROUPS
# What lets a caller see a member object's properties rather than its id and type only.
SEE_USERS = READ_USERS + ("User.ReadBasic.All",)
SEE_GROUPS = READ_GROUPS
# UNCONFIRMED: what lets a caller see a service principal member's properties (the application and directory read permissions).
SEE_SERVICE_PRINCIPALS = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")

# authentication-methods API, application: UserAuthenticationMethod.Read.All least privileged to list, ReadWrite.All to delete.
READ_AUTH_METHODS = ("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All")
WRITE_AUTH_METHODS = ("UserAuthenticationMethod.ReadWrite.All",)
# Applications and service principals (application-list/-get, serviceprincipal-list/-get, serviceprincipal-list-approleassignments:
# Application.Read.All least privileged; the write and directory permissions above it). Writes (application-post-applications,
# -update, -delete, -addpassword, -removepassword, serviceprincipal-post-serviceprincipals): Application.ReadWrite.All
# (Application.ReadWrite.OwnedBy also allows them on applications the caller owns; ownership is not modelled, so it is not accepted).
READ_APPLICATIONS = ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_APPLICATIONS = ("Application.ReadWrite.All",)
# serviceprincipal-post-approleassignments: "AppRoleAssignment.ReadWrite.All and Application.Read.All" (or and Directory.Read.All):
# two permissions at once, the second in ROUTE_ALSO_NEEDS. serviceprincipal-delete-approleassignments: AppRoleAssignment.ReadWrite.All.
GRANT_APP_ROLES = ("AppRoleAssignment.ReadWrite.All",)

ROUTE_PERMISSIONS = {
    "GET /users": READ_USERS,
    "GET /users/$count": READ_USERS,
    "GET /users/{id}": READ_USERS,
    "GET /users/{id}/manager": READ_USERS,
    # Open extensions on users (opentypeextension-post/get/update/delete docs): User.Read.All to read, User.ReadWrite.All to write
    # (least privileged for applications); "the same privileges that your app requires to read from or write to a resource instance"
    # (extensibility-overview), so the Directory.* forms too.
    "GET /users/{id}/extensions": READ_USERS,
    "GET /users/{id}/extensions/{id}": READ_USERS,
    "POST /users/{id}/extensions": WRITE_USERS,
    "PATCH /users/{id}/extensions/{id}": WRITE_USERS,
    "DELETE /users/{id}/extensions/{id}": WRITE_USERS,
    "POST /users": WRITE_USERS,
    "PATCH /users/{id}": WRITE_USERS,
    # A PATCH whose body holds only accountEnabled.
    "PATCH /users/{id} (accountEnabled only)": WRITE_USERS + ("User.EnableDisableAccount.All",),
    "DELETE /users/{id}": WRITE_USERS,
    "PUT /users/{id}/manager/$ref": WRITE_USERS,
    "DELETE /users/{id}/manager/$ref": WRITE_USERS,
    "POST /users/{id}/assignLicense": ("LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
    # user-revokesigninsessions docs: User.RevokeSessions.All for apps; User.ReadWrite.All works app-only too (Microsoft Q&A
    # 1691984); Directory.ReadWrite.All is listed for delegated callers only (UNCONFIRMED for apps, accepted here).
    "POST /users/{id}/revokeSignInSessions": ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
    "POST /users/{id}/microsoft.graph.revokeSignInSessions": ("User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"),
    # user-sendmail docs: Mail.Send only (no higher application permission).
    "POST /users/{id}/sendMail": ("Mail.Send",),
    "POST /users/{id}/microsoft.graph.sendMail": ("Mail.Send",),
    "GET /subscribedSkus": READ_SKUS,
    "GET /domains": READ_DOMAINS,
    "GET /domains/{id}": READ_DOMAINS,
    # Without a type cast the list is refused (the handler answers Graph's 400); the cast's short form graph.user works too.
    "GET /directory/deletedItems": READ_USERS,
    "GET /directory/deletedItems/microsoft.graph.user": READ_USERS,
    "GET /directory/deletedItems/microsoft.graph.user/$count": READ_USERS,
    "GET /directory/deletedItems/graph.user": READ_USERS,
    "GET /directory/deletedItems/graph.user/$count": READ_USERS,
    "GET /directory/deletedItems/{id}": READ_USERS,
    "POST /directory/deletedItems/{id}/restore": WRITE_USERS,
    "DELETE /directory/deletedItems/{id}": WRITE_USERS,
    "GET /directoryRoles": READ_DIRECTORY_ROLES,
    "GET /directoryRoles/{id}": READ_DIRECTORY_ROLES,
    "GET /directoryRoles/{id}/members": READ_DIRECTORY_ROLES,
    "GET /roleManagement/directory/roleDefinitions": READ_ROLE_MANAGEMENT,
    "GET /roleManagement/directory/roleDefinitions/{id}": READ_ROLE_MANAGEMENT,
    "GET /roleManagement/directory/roleAssignments": READ_ROLE_MANAGEMENT,
    "GET /roleManagement/directory/roleAssignments/{id}": READ_ROLE_MANAGEMENT,
    "POST /roleManagement/directory/roleAssignments": WRITE_ROLE_MANAGEMENT,
    "DELETE /roleManagement/directory/roleAssignments/{id}": WRITE_ROLE_MANAGEMENT,
    "GET /groups": READ_GROUPS,
    "GET /groups/{id}": READ_GROUPS,
    "GET /groups/{id}/members": READ_GROUPS,
    "GET /groups/{id}/members/microsoft.graph.user": READ_GROUPS,
    "GET /groups/{id}/members/microsoft.graph.group": READ_GROUPS,
    "GET /groups/{id}/transitiveMembers": READ_GROUPS,
    "GET /groups/{id}/transitiveMembers/microsoft.graph.user": READ_GROUPS,
    "POST /groups/{id}/members/$ref": WRITE_GROUP_MEMBERS,
    "DELETE /groups/{id}/members/{id}/$ref": WRITE_GROUP_MEMBERS,
    "GET /users/{id}/memberOf": READ_MEMBER_OF,
    "GET /users/{id}/memberOf/microsoft.graph.group": READ_MEMBER_OF,
    "GET /applications": READ_APPLICATIONS,
    "GET /applications/{id}": READ_APPLICATIONS,
    "POST /applications": WRITE_APPLICATIONS,
    "PATCH /applications/{id}": WRITE_APPLICATIONS,
    "DELETE /applications/{id}": WRITE_APPLICATIONS,
    "POST /applications/{id}/addPassword": WRITE_APPLICATIONS,
    "POST /applications/{id}/removePassword": WRITE_APPLICATIONS,
    "GET /servicePrincipals": READ_APPLICATIONS,
    "GET /servicePrincipals/{id}": READ_APPLICATIONS,
    "POST /servicePrincipals": WRITE_APPLICATIONS,
    "GET /servicePrincipals/{id}/appRoleAssignments": READ_APPLICATIONS + GRANT_APP_ROLES,
    "POST /servicePrincipals/{id}/appRoleAssignments": GRANT_APP_ROLES,
    "DELETE /servicePrincipals/{id}/appRoleAssignments/{id}": GRANT_APP_ROLES,
    # None: no role of its own; every sub-request is checked on its own.
    "POST /$batch": None,
    # authentication-methods API (authenticationmethods-list and each kind's delete page): application permissions only.
    "GET /users/{id}/authentication/methods": READ_AUTH_METHODS,
    # messageRules (mailfolder-list-messagerules, messagerule-update): application MailboxSettings.Read / MailboxSettings.ReadWrite.
    "GET /users/{id}/mailFolders/inbox/messageRules": ("MailboxSettings.Read", "MailboxSettings.ReadWrite"),
    "PATCH /users/{id}/mailFolders/inbox/messageRules/{id}": ("MailboxSettings.ReadWrite",),
}
for _segment in ("phoneMethods", "microsoftAuthenticatorMethods", "fido2Methods", "softwareOathMethods", "emailMethods",
                 "windowsHelloForBusinessMethods", "temporaryAccessPassMethods"):
    ROUTE_PERMISSIONS["DELETE /users/{id}/authentication/%s/{id}" % _segment] = WRITE_AUTH_METHODS
ROUTE_PERMISSIONS["DELETE /users/{id}/authentication/platformCredentialMethods/{id}"] = WRITE_AUTH_METHODS + (
    "UserAuthMethod-PlatformCred.ReadWrite.All",)

# Routes that need a second permission besides one of ROUTE_PERMISSIONS: any one of these as well.
ROUTE_ALSO_NEEDS = {
    "POST /servicePrincipals/{id}/appRoleAssignments": READ_APPLICATIONS,
}

# Base RU cost (Graph throttling limits, identity and access); routes not listed cost 1. Writes also take one token from the write bucket.
RU_COSTS = {
    "GET /users": 2,
    "GET /users/$count": 2,
    "GET /users/{id}": 2,
    "GET /users/{id}/manager": 2,
    # Open extensions are not in the cost table: 1 RU (GET), 1 RU and one write (POST, PATCH, DELETE).
    "GET /users/{id}/extensions": 1,
    "GET /users/{id}/extensions/{id}": 1,
    "POST /users/{id}/extensions": 1,
    "PATCH /users/{id}/extensions/{id}": 1,
    "DELETE /users/{id}/extensions/{id}": 1,
    "GET /subscribedSkus": 3,
    "POST /users/{id}/revokeSignInSessions": 1,
    "POST /users/{id}/microsoft.graph.revokeSignInSessions": 1,
    # Outlook's own limits (per app and mailbox) are not emulated; the identity write bucket counts the call (UNCONFIRMED).
    "POST /users/{id}/sendMail": 1,
    "POST /users/{id}/microsoft.graph.sendMail": 1,
    "GET /groups/{id}/members": 3,
    "GET /groups/{id}/members/microsoft.graph.user": 3,
    "GET /groups/{id}/members/microsoft.graph.group": 3,
    "GET /groups/{id}/transitiveMembers": 5,
    "GET /groups/{id}/transitiveMembers/microsoft.graph.user": 5,
    "GET /users/{id}/memberOf": 2,
    "GET /users/{id}/memberOf/microsoft.graph.group": 2,
}

# Routes whose 403 is not the directory's Authorization_RequestDenied (Outlook answers ErrorAccessDenied; see mail.py).
ROUTE_DENIED = {
    "POST /users/{id}/sendMail": mail.access_denied,
    "POST /users/{id}/microsoft.graph.sendMail": mail.access_denied,
    "GET /users/{id}/mailFolders/inbox/messageRules": mail.access_denied,
    "PATCH /users/{id}/mailFolders/inbox/messageRules/{id}": mail.access_denied,
}


def required_roles(key, call):
    """The roles any one of which allows the call (None: the route checks its sub-requests itself)."""
    if key == "PATCH /users/{id}":
        try:
            body = call.json(required=False)
        except GraphError:
            body = None
        if isinstance(body, dict) and set(body) == {"accountEnabled"}:
            return ROUTE_PERMISSIONS["PATCH /users/{id} (accountEnabled only)"]
    return ROUTE_PERMISSIONS[key]


def ru_cost(key, call):
    """Resource units of a call: the base cost of its route with the $select, $expand and $top modifiers (at least 1)."""
    cost = RU_COSTS.get(key, 1)
    if call.method == "GET":
        try:
            options = call.options()
        except GraphError:
            options = {}
        if "$select" in options:
            cost -= 1
        if "$expand" in options:
            cost += 1
        top = options.get("$top", "")
        if top.isdigit() and int(top) < 20:
            cost -= 1
    return max(1, cost)
