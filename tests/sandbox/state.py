"""The sandbox tenant: domains, SKUs, directory objects, deleted items, apps, realism config and request log.

Everything here is plain Python so that every emulated service (Graph, its $batch, and later Exchange and
Practice Protect) works on the same objects through the same methods. Methods raise ``GraphError``.

Concurrency: the server runs one asyncio event loop and no method here awaits, so each call runs to the end
without interleaving; no lock is needed as long as handlers keep calling these methods without awaiting
in the middle of a read-modify-write.

Replication lag: each directory object is a ``Record`` holding its current state and, while a write is
younger than ``replication_lag_s``, the state readers saw before that write. Every read, and every write
that has to look the object up first, goes through ``_view`` and so sees the older state until the lag has
passed. Uniqueness checks and seat accounting use the current state (the directory's own copy).
"""

import base64
import copy
import datetime
import hashlib
import hmac
import json
import random
import re
import secrets
import time
import uuid

from . import access
from . import realism
from . import secret_log
from .errors import INVALID_VALUES, PASSWORD_COMPLEXITY, PROXY_CONFLICT, UPN_CONFLICT, UPN_DOMAIN, bad_request, not_found
from .errors import forbidden
from .errors import GraphError
from .exchange_state import MAILBOX_TYPES, Mailboxes

TENANT_ID = "5f0c6a3e-2b7d-4c1a-9e8f-3d6b1a2c4e50"
ORGANIZATION = "Northwind Accounting"
INITIAL_DOMAIN = "northwindacct.onmicrosoft.com"
DEFAULT_DOMAIN = "northwindacct.com"

# Fixed application (client) ids; their secrets are random per start.
SECRET_APP_ID = "4a1d7c3e-8b2f-4e6a-9c5d-1f3b7a9e2c40"
CERT_APP_ID = "6b2e8d4f-9c3a-4f7b-8d6e-2a4c8b0f3d51"
READONLY_APP_ID = "8c3f9e5a-0d4b-4a8c-9e7f-3b5d9c1a4e62"
WRITE_ROLES = ["User.ReadWrite.All", "Domain.Read.All", "Organization.Read.All"]
WRITE_ROLES = WRITE_ROLES + ["RoleManagement.ReadWrite.Directory"]
WRITE_ROLES = WRITE_ROLES + ["Exchange.ManageAsApp"]
WRITE_ROLES = WRITE_ROLES + ["Mail.Send"]  # sendMail (mail.py): activation mails
WRITE_ROLES = WRITE_ROLES + ["GroupMember.ReadWrite.All"]  # groups: members, transitiveMembers, memberOf, $ref writes
WRITE_ROLES = WRITE_ROLES + ["UserAuthenticationMethod.ReadWrite.All", "MailboxSettings.ReadWrite"]  # a leaver's ways in (access.py)
WRITE_ROLES = WRITE_ROLES + ["Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"]  # app_registration (graph_applications.py)
READONLY_ROLES = ["User.Read.All", "Domain.Read.All", "Organization.Read.All"]
READONLY_ROLES = READONLY_ROLES + ["GroupMember.Read.All"]

# ISO 3166-1 alpha-2 codes (usageLocation).
COUNTRY_CODES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD
CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF
GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI
SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
VN VU WF WS YE YT ZA ZM ZW
""".split())

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Characters Entra allows in the user part of a UPN (user-post-users docs).
UPN_LOCAL_RE = re.compile(r"^[A-Za-z0-9'.\-_!#^~]+$")
# Characters Exchange refuses in an alias (mailNickname).
NICKNAME_BAD_RE = re.compile(r"[@()\\\[\]\";:<>,\s]")

# --------------------------------------------------------------------------------------------------------------
# Service plans and SKUs. Plan ids and part numbers are the published ones ("Product names and service plan
# identifiers for licensing", Microsoft Learn). service is the assignedPlans.service value.

PLANS = {
    "EXCHANGE_S_STANDARD": ("9aaf7827-d63c-4b61-89c3-182f06f82e5c", "exchange"),
    "EXCHANGE_S_ENTERPRISE": ("efb87545-963c-4e0d-99df-69c6916d9eb0", "exchange"),
    "SHAREPOINTSTANDARD": ("c7699d2e-19aa-44de-8edf-1736da088ca1", "SharePoint"),
    "SHAREPOINTENTERPRISE": ("5dbe027f-2339-4123-9542-606e4d348a72", "SharePoint"),
    "SHAREPOINTWAC": ("e95bec33-7c88-4a70-8e19-b10bd9d0c014", "SharePoint"),
    "MCOSTANDARD": ("0feaeb32-d00e-4d66-bd5a-43b5b83db82c", "MicrosoftCommunicationsOnline"),
    "TEAMS1": ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TeamspaceAPI"),
    "OFFICE_BUSINESS": ("094e7854-93fc-4d55-b2c0-3ab5369ebdc1", "MicrosoftOffice"),
    "OFFICESUBSCRIPTION": ("43de0ff5-c92c-492b-9116-175376d08c38", "MicrosoftOffice"),
    "INTUNE_A": ("c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "SCO"),
    "AAD_PREMIUM": ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AADPremiumService"),
    "FLOW_O365_P1": ("0f9b09cb-62d1-4ff4-9129-43f4996f83f4", "ProcessSimple"),
    "FLOW_O365_P2": ("76846ad7-7776-4c40-a281-a386362dd1b9", "ProcessSimple"),
    "FLOW_P2_VIRAL": ("50e68c76-46c6-4674-81f9-75456511b170", "ProcessSimple"),
    "POWERAPPS_O365_P1": ("92f7a6f3-b89b-4bbd-8c30-809e6da5ad1c", "PowerAppsService"),
    "POWERAPPS_O365_P2": ("c68f8d98-5534-41c8-bf36-22fa496fa792", "PowerAppsService"),
}
EXCHANGE_PLAN_IDS = frozenset(PLANS[name][0] for name in ("EXCHANGE_S_STANDARD", "EXCHANGE_S_ENTERPRISE"))

# skuId, part number, seats, service plans.
SKU_CATALOGUE = [
    ("f245ecc8-75af-4f8e-b61f-27d8114de5f3", "O365_BUSINESS_PREMIUM", 25,
     ["EXCHANGE_S_STANDARD", "SHAREPOINTSTANDARD", "SHAREPOINTWAC", "MCOSTANDARD", "TEAMS1", "OFFICE_BUSINESS",
      "FLOW_O365_P1", "POWERAPPS_O365_P1"]),
    ("cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46", "SPB", 10,
     ["EXCHANGE_S_STANDARD", "SHAREPOINTSTANDARD", "SHAREPOINTWAC", "MCOSTANDARD", "TEAMS1", "OFFICE_BUSINESS",
      "INTUNE_A", "AAD_PREMIUM", "FLOW_O365_P1", "POWERAPPS_O365_P1"]),
    ("3b555118-da6a-4418-894f-7df1e2096870", "O365_BUSINESS_ESSENTIALS", 10,
     ["EXCHANGE_S_STANDARD", "SHAREPOINTSTANDARD", "SHAREPOINTWAC", "MCOSTANDARD", "TEAMS1", "FLOW_O365_P1",
      "POWERAPPS_O365_P1"]),
    ("4b9405b0-7788-4568-add1-99614e613b69", "EXCHANGESTANDARD", 5, ["EXCHANGE_S_STANDARD"]),
    ("6fd2c87f-b296-42f0-b197-1e91e994b900", "ENTERPRISEPACK", 2,
     ["EXCHANGE_S_ENTERPRISE", "SHAREPOINTENTERPRISE", "SHAREPOINTWAC", "MCOSTANDARD", "TEAMS1", "OFFICESUBSCRIPTION",
      "FLOW_O365_P2", "POWERAPPS_O365_P2"]),
    ("f30db892-07e9-47e9-837c-80727f46fd3d", "FLOW_FREE", 10000, ["FLOW_P2_VIRAL"]),
]
E3_SKU = "6fd2c87f-b296-42f0-b197-1e91e994b900"

SEED_USERS = [
    {"id": "2e9a4c61-7b3d-4f8e-a0c5-6d1f3b8e9a20", "userPrincipalName": "admin@" + INITIAL_DOMAIN,
     "displayName": "Northwind Administrator", "givenName": None, "surname": None, "mailNickname": "admin",
     "usageLocation": "AU", "createdDateTime": "2023-07-03T01:12:45Z"},
    {"id": "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61", "userPrincipalName": "sarah.jones@" + DEFAULT_DOMAIN,
     "displayName": "Sarah Jones", "givenName": "Sarah", "surname": "Jones", "mailNickname": "sarah.jones",
     "jobTitle": "Senior Accountant", "department": "Audit", "usageLocation": "AU", "createdDateTime": "2024-03-01T09:30:00Z",
     "assignedLicenses": [{"disabledPlans": [], "skuId": E3_SKU}]},
    {"id": "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13", "userPrincipalName": "tom.baker@" + DEFAULT_DOMAIN,
     "displayName": "Tom Baker", "givenName": "Tom", "surname": "Baker", "mailNickname": "tom.baker",
     "jobTitle": "Accountant", "department": "Tax", "usageLocation": "AU", "createdDateTime": "2024-06-17T22:05:10Z",
     "assignedLicenses": [{"disabledPlans": [], "skuId": E3_SKU}]},
    # A licensed user on the initial (onmicrosoft.com) domain, and a room mailbox: a resource account with no licence and
    # sign-in blocked, as Exchange creates them (mailboxType is the seed's way to give a mailbox without a licence).
    {"id": "9e4b7a12-3c5d-4e6f-8a9b-0c1d2e3f4a72", "userPrincipalName": "it.admin@" + INITIAL_DOMAIN,
     "displayName": "IT Admin", "givenName": "IT", "surname": "Admin", "mailNickname": "it.admin", "jobTitle": "IT Administrator",
     "department": "IT", "companyName": "Northwind Accounting", "usageLocation": "AU", "createdDateTime": "2023-07-04T02:00:00Z",
     "assignedLicenses": [{"disabledPlans": [], "skuId": "f245ecc8-75af-4f8e-b61f-27d8114de5f3"}]},
    {"id": "a5c8e2f4-6b7d-4f1a-9c3e-2d4b6f8a0c83", "userPrincipalName": "boardroom@" + DEFAULT_DOMAIN,
     "displayName": "Boardroom", "mailNickname": "boardroom", "accountEnabled": False, "createdDateTime": "2024-02-12T03:00:00Z",
     "mailboxType": "RoomMailbox"},
]

# Groups of the default seed: security groups (Microsoft 365 groups cannot hold groups), one nested in the other.
# members: UPNs of users or display names of groups seeded before.
SEED_GROUPS = [
    {"id": "3f6a9c1e-2b4d-4e8f-a1c3-5d7e9f1b3c04", "displayName": "Tax Team", "description": "Tax practice staff",
     "mailNickname": "taxteam", "members": ["tom.baker@" + DEFAULT_DOMAIN], "createdDateTime": "2024-01-15T00:00:00Z"},
    {"id": "6c2e8a4f-1d3b-4c5e-9f7a-8b0d2e4f6a15", "displayName": "All Staff", "description": "Everyone who works at Northwind Accounting",
     "mailNickname": "allstaff", "createdDateTime": "2024-01-15T00:00:00Z",
     "members": ["sarah.jones@" + DEFAULT_DOMAIN, "boardroom@" + DEFAULT_DOMAIN, "it.admin@" + INITIAL_DOMAIN, "Tax Team"]},
    # One group of every other kind, with tom.baker in each (the similar user joiners copy groups from): a Microsoft 365 group
    # (a team's group), a distribution list and a mail-enabled security group (Exchange owns their membership), a dynamic group
    # (the rule is stored, not evaluated: its members are seeded), a group synced from on-premises Active Directory and a
    # role-assignable group.
    {"id": "8a1d3f5b-7c9e-4b2d-a6f8-1e3c5a7b9d26", "displayName": "Client Services", "description": "The client services team (Teams)",
     "mailNickname": "clientservices", "mail": "clientservices@" + DEFAULT_DOMAIN, "groupTypes": ["Unified"], "mailEnabled": True,
     "securityEnabled": False, "visibility": "Private", "proxyAddresses": ["SMTP:clientservices@" + DEFAULT_DOMAIN],
     "members": ["tom.baker@" + DEFAULT_DOMAIN], "createdDateTime": "2024-02-01T00:00:00Z"},
    {"id": "2b7e4c9a-5d1f-4a3b-8e6c-0f2a4b6d8e37", "displayName": "Tax Announcements", "description": "Distribution list of the tax practice",
     "mailNickname": "taxannouncements", "mail": "taxannouncements@" + DEFAULT_DOMAIN, "mailEnabled": True, "securityEnabled": False,
     "proxyAddresses": ["SMTP:taxannouncements@" + DEFAULT_DOMAIN], "members": ["tom.baker@" + DEFAULT_DOMAIN],
     "createdDateTime": "2024-02-01T00:00:00Z"},
    {"id": "5e9c2a7d-3b8f-4c1e-9a5d-7b3f1c9e5a48", "displayName": "File Share Access", "description": "Mail-enabled security group of the file share",
     "mailNickname": "fileshare", "mail": "fileshare@" + DEFAULT_DOMAIN, "mailEnabled": True, "securityEnabled": True,
     "proxyAddresses": ["SMTP:fileshare@" + DEFAULT_DOMAIN], "members": ["tom.baker@" + DEFAULT_DOMAIN], "createdDateTime": "2024-02-01T00:00:00Z"},
    {"id": "7d4b1e8c-9a2f-4d6b-b3c7-5e1a9d4f2b59", "displayName": "Licensed Staff", "description": "Every licensed user (dynamic)",
     "mailNickname": "licensedstaff", "groupTypes": ["DynamicMembership"], "membershipRuleProcessingState": "On",
     "membershipRule": '(user.assignedPlans -any (assignedPlan.capabilityStatus -eq "Enabled"))',
     "members": ["tom.baker@" + DEFAULT_DOMAIN], "createdDateTime": "2024-02-01T00:00:00Z"},
    {"id": "4c8f6a2e-1d7b-4e9c-8f3a-9c5e7a1d3f6a", "displayName": "Head Office", "description": "Synced from the on-premises directory",
     "mailNickname": "headoffice", "onPremisesSyncEnabled": True, "members": ["tom.baker@" + DEFAULT_DOMAIN],
     "createdDateTime": "2023-05-01T00:00:00Z"},
    {"id": "9f3a7c5e-2b6d-4a8f-9e1c-3d7b5f9a1c7b", "displayName": "Helpdesk Admins", "description": "Role-assignable: holds a directory role",
     "mailNickname": "helpdeskadmins", "isAssignableToRole": True, "members": ["tom.baker@" + DEFAULT_DOMAIN],
     "createdDateTime": "2024-03-01T00:00:00Z"},
]

# --------------------------------------------------------------------------------------------------------------
# The user type. Stored properties (kept on every user, null or [] by default), in Graph's schema spirit.

STRING, BOOLEAN, STRINGS, DATETIME = "Edm.String", "Edm.Boolean", "Collection(Edm.String)", "Edm.DateTimeOffset"
# Graph's DateTimeOffset literal: ISO 8601 with a zone (Z or an offset), seconds and fractions optional.
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")

# name: (type, max length or None, writable: None = read-only, "create" = POST only, "both")
USER_SCHEMA = {
    "id": (STRING, None, None),
    "userPrincipalName": (STRING, 113, "both"),
    "displayName": (STRING, 256, "both"),
    "givenName": (STRING, 64, "both"),
    "surname": (STRING, 64, "both"),
    "mailNickname": (STRING, 64, "both"),
    "jobTitle": (STRING, 128, "both"),
    "department": (STRING, 64, "both"),
    "companyName": (STRING, 64, "both"),
    "officeLocation": (STRING, 128, "both"),
    "mobilePhone": (STRING, 64, "both"),
    "businessPhones": (STRINGS, 64, "both"),
    "usageLocation": (STRING, 2, "both"),
    "otherMails": (STRINGS, 256, "both"),
    "employeeId": (STRING, 16, "both"),
    "employeeType": (STRING, 64, "both"),
    "employeeHireDate": (DATETIME, None, "both"),
    "accountEnabled": (BOOLEAN, None, "both"),
    "mail": (STRING, 256, "both"),
    "proxyAddresses": (STRINGS, None, None),
    "assignedLicenses": ("Collection(microsoft.graph.assignedLicense)", None, None),
    "assignedPlans": ("Collection(microsoft.graph.assignedPlan)", None, None),
    "userType": (STRING, None, "both"),
    "createdDateTime": ("Edm.DateTimeOffset", None, None),
    "deletedDateTime": ("Edm.DateTimeOffset", None, None),
    "preferredLanguage": (STRING, 64, "both"),
    "onPremisesImmutableId": (STRING, 256, "both"),
    "city": (STRING, 128, "both"),
    "state": (STRING, 128, "both"),
    "country": (STRING, 128, "both"),
    "streetAddress": (STRING, 1024, "both"),
    "postalCode": (STRING, 40, "both"),
    "faxNumber": (STRING, 64, "both"),
    "passwordPolicies": (STRING, None, "both"),
    "passwordProfile": ("microsoft.graph.passwordProfile", None, "both"),
}
COLLECTION_PROPERTIES = frozenset(name for name, spec in USER_SCHEMA.items() if spec[0].startswith("Collection("))

# Real user properties the sandbox does not model; $select returns them with these values. Reading them is
# harmless, writing them is refused as read-only.
USER_UNMODELLED = {
    "ageGroup": None, "consentProvidedForMinor": None, "legalAgeGroupClassification": None,
    "creationType": None, "externalUserState": None, "externalUserStateChangeDateTime": None,
    "imAddresses": [], "isResourceAccount": None, "showInAddressList": None,
    "onPremisesSyncEnabled": None, "onPremisesLastSyncDateTime": None, "onPremisesDistinguishedName": None,
    "onPremisesDomainName": None, "onPremisesSamAccountName": None, "onPremisesSecurityIdentifier": None,
    "onPremisesUserPrincipalName": None, "onPremisesProvisioningErrors": [],
    "onPremisesExtensionAttributes": {"extensionAttribute%d" % n: None for n in range(1, 16)},
    "preferredDataLocation": None, "provisionedPlans": [], "signInSessionsValidFromDateTime": None,
    "lastPasswordChangeDateTime": None, "employeeLeaveDateTime": None,
    "employeeOrgData": None, "identities": [], "securityIdentifier": None, "licenseAssignmentStates": [],
    "signInActivity": None, "customSecurityAttributes": None,
}
# Properties Graph serves only for a single user (GET /users/{id}), never on the list (the user list docs: 501).
USER_SINGLE_ONLY = ("aboutMe", "birthday", "hireDate", "interests", "mySite", "pastProjects", "preferredName",
                    "responsibilities", "schools", "skills", "mailboxSettings")

USER_DEFAULT_SELECT = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
                       "preferredLanguage", "surname", "userPrincipalName", "id")

DOMAIN_PROPERTIES = ("authenticationType", "availabilityStatus", "id", "isAdminManaged", "isDefault", "isInitial", "isRoot",
                     "isVerified", "supportedServices", "passwordValidityPeriodInDays", "passwordNotificationWindowInDays",
                     "state")
SKU_PROPERTIES = ("accountName", "accountId", "appliesTo", "capabilityStatus", "consumedUnits", "id", "prepaidUnits",
                  "servicePlans", "skuId", "skuPartNumber", "subscriptionIds")


# Directory object types the tenant stores, by Record.entity. Later entities (groups, role assignments) add an
# entry and reuse Record, the replication-lag view and the deleted-items container.
ENTITY_TYPES = {
    "user": {"odata_type": "#microsoft.graph.user", "collection": "users", "schema": USER_SCHEMA,
             "default_select": USER_DEFAULT_SELECT, "filter_entity": "user"},
}

# Groups (group resource docs). Stored properties; membership is kept in the record's data as "_members" (object ids of
# users and groups, in the order they were added). GROUP_DEFAULT_SELECT is what GET /groups returns without $select
# (UNCONFIRMED: the real default set is longer; these are the properties the sandbox models).
GROUP_PROPERTIES = ("id", "classification", "createdDateTime", "deletedDateTime", "description", "displayName", "expirationDateTime",
                    "groupTypes", "isAssignableToRole", "mail", "mailEnabled", "mailNickname", "membershipRule",
                    "membershipRuleProcessingState", "onPremisesSyncEnabled", "proxyAddresses", "renewedDateTime", "securityEnabled",
                    "securityIdentifier", "visibility")
GROUP_DEFAULT_SELECT = GROUP_PROPERTIES
ENTITY_TYPES["group"] = {"odata_type": "#microsoft.graph.group", "collection": "groups", "schema": dict((name, None) for name in GROUP_PROPERTIES),
                         "default_select": GROUP_DEFAULT_SELECT, "filter_entity": "group"}
# POST /groups/{id}/members/$ref for an object that is a member already (group-post-members; reference 6.1).
MEMBER_EXISTS = "One or more added object references already exist for the following modified properties: 'members'."
# A $ref write to a distribution list or a mail-enabled security group (Exchange owns their membership): 400 Request_BadRequest
# with this message (microsoftgraph/microsoft-graph-docs issue 14827, the error body in full; KelvinTegelaar/CIPP issue 1607).
MAIL_ENABLED_WRITE = "Cannot Update a mail-enabled security groups and or distribution list."
# A $ref write to a group synced from on-premises Active Directory: the message Graph gives for writes to other synced objects
# (users); for group members UNCONFIRMED.
SYNCED_WRITE = ("Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently "
                "undergoing migration.")
# A $ref write to a dynamic group: UNCONFIRMED wording and status (the docs only say dynamic groups' members cannot be changed).
DYNAMIC_WRITE = "Cannot add or remove members of a group with dynamic membership."

# Open extensions on users. The duplicate error (code and message) is the one the Microsoft Graph beta .NET SDK's functional
# tests and the PnP CLI for Microsoft 365's openextension tests expect; its 400 status follows from the code. The not-found body
# (code "ResourceNotFound") is the one the PnP CLI's openextension get tests quote; its 404 status follows from the code. The
# size message is the one pnp/sp-dev-fx-webparts issue 5964 quotes from a user's /me/extensions write (status 400, code BadRequest).
# Limits (extensibility-overview, "Comparison of extension types"): two open extensions per creator app per resource instance,
# at most 2 KB per open extension. UNCONFIRMED: how Graph measures the 2 KB (the sandbox counts the extension's compact JSON,
# name and properties, in UTF-8) and the wording of the two-per-app refusal.
EXTENSION_TYPE = "#microsoft.graph.openTypeExtension"
EXTENSION_QUALIFIER = "microsoft.graph.openTypeExtension."
EXTENSION_EXISTS = "An extension already exists with given id."
EXTENSION_NOT_FOUND = "Extension with given id not found."
EXTENSION_TOO_LARGE = "Maximum size supported for each extension is : 2 KB."
EXTENSION_LIMIT = "An application can add at most two open extensions to the same object."  # UNCONFIRMED wording
EXTENSIONS_PER_APP = 2
EXTENSION_MAX_BYTES = 2048


# --------------------------------------------------------------------------------------------------------------
# Directory roles: built-in role definitions (template ids and descriptions from Microsoft Entra's "built-in roles"
# reference; for built-in roles the definition id is the template id). isPrivileged follows that page's PRIVILEGED
# label. rolePermissions are abridged to one representative action each (UNCONFIRMED: the real lists are long).

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
PRIVILEGED_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"

# template id, display name, description, privileged, one allowed resource action
ROLE_CATALOGUE = [
    (GLOBAL_ADMIN, "Global Administrator",
     "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.", True,
     "microsoft.directory/users/allProperties/allTasks"),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader", "Can read everything that a Global Administrator can, but not update anything.",
     True, "microsoft.directory/users/allProperties/read"),
    ("e8611ab8-c189-46e8-94e1-60213ab1f814", "Privileged Role Administrator",
     "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.", True,
     "microsoft.directory/roleAssignments/allProperties/allTasks"),
    (PRIVILEGED_AUTH_ADMIN, "Privileged Authentication Administrator",
     "Can access to view, set and reset authentication method information for any user (admin or non-admin).", True,
     "microsoft.directory/users/password/update"),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator",
     "Can manage all aspects of users and groups, including resetting passwords for limited admins.", True,
     "microsoft.directory/users/create"),
    ("729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator", "Can reset passwords for non-administrators and Helpdesk Administrators.",
     True, "microsoft.directory/users/invalidateAllRefreshTokens"),
    ("966707d0-3269-4727-9be2-8c3a10f19b9d", "Password Administrator", "Can reset passwords for non-administrators and Password Administrators.",
     True, "microsoft.directory/users/password/update"),
    ("c4e39bd9-1100-46d3-8c65-fb160da0071f", "Authentication Administrator",
     "Can access to view, set and reset authentication method information for any non-admin user.", True,
     "microsoft.directory/users/authenticationMethods/standard/restrictedRead"),
    ("194ae4cb-b126-40b2-bd5b-6091b380977d", "Security Administrator",
     "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.", True,
     "microsoft.directory/identityProtection/allProperties/allTasks"),
    ("5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader", "Can read security information and reports in Microsoft Entra ID and Office 365.",
     True, "microsoft.directory/identityProtection/allProperties/read"),
    (EXCHANGE_ADMIN, "Exchange Administrator", "Can manage all aspects of the Exchange product.", False,
     "microsoft.office365.exchange/allEntities/basic/allTasks"),
    ("31392ffb-586c-42d1-9346-e59415a2cc4e", "Exchange Recipient Administrator",
     "Can create or update Exchange Online recipients within the Exchange Online organization.", False,
     "microsoft.office365.exchange/allRecipients/allProperties/allTasks"),
    ("f28a1f50-f6e7-4571-818b-6a12f2af6b6c", "SharePoint Administrator", "Can manage all aspects of the SharePoint service.", False,
     "microsoft.office365.sharePoint/allEntities/allTasks"),
    ("69091246-20e8-4a56-aa4d-066075b2a7a8", "Teams Administrator", "Can manage the Microsoft Teams service.", False,
     "microsoft.teams/allEntities/allProperties/allTasks"),
    ("b0f54661-2d74-4c50-afa3-1ec803f12efe", "Billing Administrator", "Can perform common billing related tasks like updating payment information.",
     False, "microsoft.commerce.billing/allEntities/allProperties/allTasks"),
    ("4d6ac14f-3453-41d0-bef9-a3e0c569773a", "License Administrator", "Can manage product licenses on users and groups.", False,
     "microsoft.directory/users/assignLicense"),
    ("17315797-102d-40b4-93e0-432062caca18", "Compliance Administrator",
     "Can read and manage compliance configuration and reports in Microsoft Entra ID and Microsoft 365.", False,
     "microsoft.office365.complianceManager/allEntities/allTasks"),
    ("fdd7a751-b60b-444a-984c-02652fe8fa1c", "Groups Administrator",
     "Members of this role can create/manage groups, create/manage groups settings like naming and expiration policies, and view groups "
     "activity and audit reports.", False, "microsoft.directory/groups/allProperties/allTasks"),
    ("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Application Administrator",
     "Can create and manage all aspects of app registrations and enterprise apps.", True, "microsoft.directory/applications/allProperties/allTasks"),
    ("158c047a-c907-4556-b7ef-446551a6b5f7", "Cloud Application Administrator",
     "Can create and manage all aspects of app registrations and enterprise apps except App Proxy.", True,
     "microsoft.directory/servicePrincipals/allProperties/allTasks"),
    ("b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", "Conditional Access Administrator", "Can manage Conditional Access capabilities.", True,
     "microsoft.directory/conditionalAccessPolicies/allProperties/allTasks"),
    ("8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2", "Hybrid Identity Administrator",
     "Manage Active Directory to Microsoft Entra cloud provisioning, Microsoft Entra Connect, pass-through authentication (PTA), password hash "
     "synchronization (PHS), seamless single sign-on (seamless SSO), and federation settings.", True,
     "microsoft.directory/domains/federation/update"),
    ("3a2c62db-5318-420d-8d74-23affee5d9d5", "Intune Administrator", "Can manage all aspects of the Intune product.", True,
     "microsoft.intune/allEntities/allTasks"),
    ("88d8e3e3-8f55-4a1e-953a-9b9898b8876b", "Directory Readers",
     "Can read basic directory information. Commonly used to grant directory read access to applications and guests.", False,
     "microsoft.directory/users/standard/read"),
    ("4a5d8f65-41da-4de4-8968-e035b65339cf", "Reports Reader", "Can read sign-in and audit reports.", False,
     "microsoft.directory/signInReports/allProperties/read"),
    ("f023fd81-a637-4b56-95fd-791ac0226033", "Service Support Administrator", "Can read service health information and manage support tickets.",
     False, "microsoft.office365.supportTickets/allEntities/allTasks"),
]
ROLE_DEFINITION_PROPERTIES = ("id", "description", "displayName", "isBuiltIn", "isEnabled", "isPrivileged", "resourceScopes", "templateId",
                              "version", "rolePermissions")
ROLE_ASSIGNMENT_PROPERTIES = ("id", "principalId", "resourceScope", "directoryScopeId", "roleDefinitionId")
# Roles whose holders may delete, or change the password and other sensitive properties of, users holding any
# admin role (Entra's "Who can perform sensitive actions"; app-only callers need the role on their service principal).
SENSITIVE_ACTION_ROLES = frozenset([GLOBAL_ADMIN, PRIVILEGED_AUTH_ADMIN])
# Properties Graph calls sensitive for users with admin roles (user-update docs: accountEnabled, mobilePhone,
# otherMails "such as"; businessPhones and passwordProfile are the other sensitive ones, UNCONFIRMED as a full list).
SENSITIVE_USER_PROPERTIES = frozenset(["accountEnabled", "mobilePhone", "businessPhones", "otherMails", "passwordProfile"])
ROLE_CONFLICT = "A conflicting object with one or more of the specified property values is present in the directory."


def role_definition(template_id, name, description, privileged, action):
    return {"id": template_id, "description": description, "displayName": name, "isBuiltIn": True, "isEnabled": True,
            # UNCONFIRMED on v1.0: isPrivileged is documented on the beta unifiedRoleDefinition.
            "isPrivileged": privileged, "resourceScopes": ["/"], "templateId": template_id, "version": "1",
            "rolePermissions": [{"allowedResourceActions": [action], "condition": None}]}


ROLE_DEFINITIONS = {template_id: role_definition(template_id, name, description, privileged, action)
                    for template_id, name, description, privileged, action in ROLE_CATALOGUE}


def role_assignment_id(role_definition_id, principal_id):
    """The id Graph gives an assignment: base64url of both GUIDs' little-endian bytes, unpadded, plus "-1".

    Derived from the examples in the roleAssignments docs (not a documented contract); it makes an assignment's
    id depend only on role and principal, as in those examples.
    """
    raw = uuid.UUID(role_definition_id).bytes_le + uuid.UUID(principal_id).bytes_le
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") + "-1"


def now_iso(ts=None):
    """Graph's DateTimeOffset format: UTC, whole seconds, Z."""
    moment = datetime.datetime.fromtimestamp(ts if ts is not None else time.time(), datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_guid(value):
    return isinstance(value, str) and bool(GUID_RE.match(value))


def invalid_property(name, resource="User"):
    return bad_request("Invalid value specified for property '%s' of resource '%s'." % (name, resource))


def hash_password(password):
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, 1000)
    return "pbkdf2-sha256$1000$%s$%s" % (base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def check_password(stored, password):
    try:
        _, rounds, salt, digest = stored.split("$")
        actual = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), base64.b64decode(salt), int(rounds))
        return hmac.compare_digest(actual, base64.b64decode(digest))
    except (ValueError, AttributeError):
        return False


def password_complex_enough(password, upn):
    if not 8 <= len(password) <= 256:
        return False
    classes = sum(bool(re.search(pattern, password)) for pattern in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if classes < 3:
        return False
    local = (upn or "").split("@", 1)[0].lower()
    return not (local and local in password.lower())


class Record:
    """One directory object. state: the object's kind while it exists ("user", "deleted"), None once purged."""

    __slots__ = ("id", "entity", "state", "data", "prev_state", "prev_data", "visible_from")

    def __init__(self, object_id, entity, state, data):
        self.id = object_id
        self.entity = entity
        self.state = state
        self.data = data
        self.prev_state = None
        self.prev_data = None
        self.visible_from = 0.0


class App:
    """A client-credentials app registration."""

    def __init__(self, client_id, display_name, roles, credential, secret=None, certificate=None):
        self.client_id = client_id
        self.display_name = display_name
        self.roles = list(roles)
        self.credential = credential
        self.secret_hash = hashlib.sha256(secret.encode()).hexdigest() if secret else None
        self.certificate = certificate  # {"der", "public_key", "thumbprint", "path"}
        self.object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-sp:" + client_id))

    def check_secret(self, secret):
        if not self.secret_hash or not isinstance(secret, str):
            return False
        return hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), self.secret_hash)

    def describe(self):
        out = {"client_id": self.client_id, "display_name": self.display_name, "roles": list(self.roles),
               "credential": self.credential, "service_principal_id": self.object_id}
        if self.certificate:
            out["thumbprint"] = self.certificate["thumbprint"]
            out["certificate_path"] = self.certificate.get("path")
        return out


class Tenant:
    """The emulated Microsoft 365 tenant."""

    def __init__(self, seed="default", clock=time.monotonic, snapshot=None):
        self.tenant_id = TENANT_ID
        self.snapshot = snapshot  # a doctor snapshot to start from (snapshot.py), kept for reset
        self.organization = ORGANIZATION
        self.clock = clock
        self.apps = {}
        self.seed_name = seed
        self.log = []
        self.log_seq = 0
        self.exchange = Mailboxes(self)  # Exchange's model of this tenant (exchange_state.py)
        from .graph_applications import Registrations  # it imports graph_query, which imports this module
        self.registrations = Registrations(self)  # application registrations and their permissions (graph_applications.py)
        self.reset()

    # ----------------------------------------------------------------------------------------------------------
    # Seed, config, log

    def reset(self):
        """Back to the seed: directory, SKUs, domains, config and log (apps are kept: their secrets are in the env file)."""
        self.config = realism.default_config()
        self.rng = random.Random(20240501)  # $batch response order: shuffled, but the same on every run
        self.records = {}
        self.domains = {}
        self.skus = {}
        self.log = []
        self.exchange.reset()  # before the seed, whose licences provision mailboxes
        self.registrations.reset()
        self.sent_mail = []  # messages accepted by sendMail (mail.py), as sent; GET /_sandbox/mail
        self.auth_methods = {}  # user id -> authentication methods (access.py)
        for domain_id, default, initial, verified in ((INITIAL_DOMAIN, False, True, True), (DEFAULT_DOMAIN, True, False, True),
                                                      ("northwind-legacy.com", False, False, False)):
            self.domains[domain_id] = {
                "authenticationType": "Managed", "availabilityStatus": None, "id": domain_id, "isAdminManaged": True,
                "isDefault": default, "isInitial": initial, "isRoot": True, "isVerified": verified,
                "supportedServices": ["Email", "OfficeCommunicationsOnline"] if verified else [],
                "passwordValidityPeriodInDays": 2147483647, "passwordNotificationWindowInDays": 90, "state": None,
            }
        for sku_id, part, seats, plans in SKU_CATALOGUE:
            self.skus[sku_id] = {
                "skuId": sku_id, "skuPartNumber": part, "seats": seats, "capabilityStatus": "Enabled",
                "subscriptionId": str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-subscription:" + sku_id)),
                "plans": [(PLANS[name][0], name, PLANS[name][1]) for name in plans],
            }
        if self.seed_name == "default":
            for user in SEED_USERS:
                self.seed_user(copy.deepcopy(user))
            for group in SEED_GROUPS:
                self.seed_group(copy.deepcopy(group))
            access.seed_default(self)  # authentication methods, inbox rules, mobile devices
        # Directory role assignments. Reads through the API lag writes by replication_lag_s like directory objects
        # (role_assignment_views: id -> (visible_from, what readers saw before)); checks use the current set. The
        # tenant's admin is a Global Administrator, as the account that created the tenant is.
        self.role_assignments = {}
        self.role_assignment_views = {}
        # Directory roles activated in the tenant (directoryRoles): Global Administrator always; a role once assigned.
        self.activated_roles = {GLOBAL_ADMIN}
        if self.seed_name == "default":
            self.seed_role_assignment(SEED_USERS[0]["id"], GLOBAL_ADMIN)
        if self.snapshot is not None:
            from . import snapshot
            snapshot.apply_graph(self, self.snapshot)

    def log_request(self, service, method, path, query, status, app_id=None, write=False, batch=None, body_keys=None, fault=None):
        self.log_seq += 1
        entry = {"seq": self.log_seq, "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
                 "service": service, "method": method, "path": path, "query": query, "status": status, "app_id": app_id,
                 "write": bool(write), "batch": batch, "body_keys": list(body_keys or []), "fault": fault}
        self.log.append(entry)
        if len(self.log) > 200000:
            del self.log[:50000]
        secret_log.request_logged(entry)  # to requests.jsonl for the secret scan
        return entry

    def log_since(self, since=0):
        return [dict(entry) for entry in self.log if entry["seq"] > since]

    def replication_lag(self):
        return float(self.config.get("replication_lag_s") or 0)

    # ----------------------------------------------------------------------------------------------------------
    # Exchange: what the other services (Graph, mail, Practice Protect's sync, the server) ask of the tenant's mailboxes. The
    # model is exchange_state.Mailboxes, held in ``self.exchange``; these pass through to it.

    @property
    def mailboxes(self):
        return self.exchange.mailboxes

    def provision_mailbox(self, user):
        self.exchange.provision_mailbox(user)

    def seed_mailbox(self, user_id, mailbox_type):
        self.exchange.seed_mailbox(user_id, mailbox_type)

    def stage_email_addresses(self, user_id, addresses):
        self.exchange.stage_email_addresses(user_id, addresses)

    def mailbox_of(self, user_id):
        return self.exchange.mailbox_of(user_id)

    def set_mailbox_type(self, user_id, target):
        return self.exchange.set_mailbox_type(user_id, target)

    def settle_mailboxes(self):
        self.exchange.settle()

    def dump_mailboxes(self):
        return self.exchange.dump()

    # ----------------------------------------------------------------------------------------------------------
    # Apps

    def add_app(self, app):
        self.apps[app.client_id] = app
        return app

    def app(self, client_id):
        return self.apps.get(client_id)

    # ----------------------------------------------------------------------------------------------------------
    # Records and replication lag

    def _view(self, record):
        """(state, data) as readers see the record now."""
        if self.clock() >= record.visible_from:
            return record.state, record.data
        return record.prev_state, record.prev_data

    def _write(self, record, state, data):
        lag = self.replication_lag()
        if lag > 0:
            record.prev_state, record.prev_data = self._view(record)
            record.visible_from = self.clock() + lag
        else:
            record.prev_state, record.prev_data, record.visible_from = None, None, 0.0
        record.state, record.data = state, data

    def _prune(self):
        gone = [key for key, record in self.records.items() if record.state is None and self._view(record)[0] is None]
        for key in gone:
            del self.records[key]

    def visible(self, entity, state):
        """Data of every object of an entity readers currently see in a state (creation order)."""
        out = []
        for record in self.records.values():
            if record.entity != entity:
                continue
            seen_state, data = self._view(record)
            if seen_state == state:
                out.append(data)
        return out

    def _current_users(self):
        return [record for record in self.records.values() if record.entity == "user" and record.state == "user"]

    def active_user_count(self):
        return sum(1 for record in self.records.values() if record.entity == "user" and record.state == "user")

    def _find(self, key, state="user", entity="user"):
        """The record readers see in `state` for an id or a userPrincipalName, else 404."""
        if not isinstance(key, str) or not key:
            raise not_found(key)
        if is_guid(key):
            record = self.records.get(key.lower())
            if record is not None and record.entity == entity and self._view(record)[0] == state:
                return record
            raise not_found(key)
        lowered = key.lower()
        for record in self.records.values():
            if record.entity != entity:
                continue
            seen_state, data = self._view(record)
            if seen_state == state and (data.get("userPrincipalName") or "").lower() == lowered:
                return record
        raise not_found(key)

    # ----------------------------------------------------------------------------------------------------------
    # Domains and SKUs

    def list_domains(self):
        return [dict(domain) for domain in self.domains.values()]

    def get_domain(self, name):
        for domain_id, domain in self.domains.items():
            if domain_id.lower() == (name or "").lower():
                return dict(domain)
        raise not_found(name)

    def verified_domain(self, name):
        domain = self.domains.get((name or "").lower())
        return domain if domain and domain["isVerified"] else None

    def consumed_units(self, sku_id, reserved=True):
        """Seats used by users, plus (``reserved``) those a snapshot's tenant used that no seeded user explains (snapshot.py)."""
        used = sum(1 for record in self._current_users() if any(lic["skuId"] == sku_id for lic in record.data.get("assignedLicenses") or []))
        return used + (self.skus.get(sku_id, {}).get("reserved", 0) if reserved else 0)

    def free_units(self, sku_id):
        sku = self.skus[sku_id]
        if sku["capabilityStatus"] != "Enabled":
            return 0
        return sku["seats"] - self.consumed_units(sku_id)

    def set_seats(self, sku, seats):
        """Set a SKU's prepaid (enabled) units, by part number or skuId (control API: a bulk rehearsal needs seats for everyone)."""
        if isinstance(seats, bool) or not isinstance(seats, int) or seats < 0:
            raise bad_request("seats must be a whole number of at least 0.")
        sku_id = self._sku_by_name(sku)
        self.skus[sku_id]["seats"] = seats
        return sku_id

    def list_skus(self):
        out = []
        for sku in self.skus.values():
            out.append({
                "accountName": "NorthwindAccounting",
                "accountId": self.tenant_id,
                "appliesTo": "User",
                "capabilityStatus": sku["capabilityStatus"],
                "consumedUnits": self.consumed_units(sku["skuId"]),
                "id": "%s_%s" % (self.tenant_id, sku["skuId"]),
                "prepaidUnits": {"enabled": sku["seats"], "lockedOut": 0, "suspended": 0, "warning": 0},
                "servicePlans": [{"servicePlanId": plan_id, "servicePlanName": name, "provisioningStatus": "Success",
                                  "appliesTo": "User"} for plan_id, name, _ in sku["plans"]],
                "skuId": sku["skuId"],
                "skuPartNumber": sku["skuPartNumber"],
                "subscriptionIds": [sku["subscriptionId"]],
            })
        return out

    # ----------------------------------------------------------------------------------------------------------
    # Users: validation helpers

    def _check_types(self, body):
        """Refuse unknown, read-only and mistyped properties (OData deserialisation errors come first)."""
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            spec = USER_SCHEMA.get(name)
            if spec is None:
                if name in USER_UNMODELLED or name in USER_SINGLE_ONLY:
                    # UNCONFIRMED wording; the sandbox does not model these properties.
                    raise bad_request("Property '%s' is read-only and cannot be set." % name)
                raise bad_request("The property '%s' does not exist on type 'microsoft.graph.user'. Make sure to only use property names "
                                  "that are defined by the type or mark the type as open type." % name, code="BadRequest")
            kind, _, writable = spec
            if writable is None:
                # UNCONFIRMED wording (the user docs only say proxyAddresses is read-only in Graph).
                raise bad_request("Property '%s' is read-only and cannot be set." % name)
            if value is None:
                continue
            if kind == STRING and not isinstance(value, str):
                raise bad_request("Cannot convert the literal '%s' to the expected type 'Edm.String'." % _literal(value), code="BadRequest")
            if kind == DATETIME and not (isinstance(value, str) and DATETIME_RE.match(value)):
                raise bad_request("Cannot convert the literal '%s' to the expected type 'Edm.DateTimeOffset'." % _literal(value), code="BadRequest")
            if kind == BOOLEAN and not isinstance(value, bool):
                raise bad_request("Cannot convert the literal '%s' to the expected type 'Edm.Boolean'." % _literal(value), code="BadRequest")
            if kind == STRINGS:
                if not isinstance(value, list):
                    raise bad_request("An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. "
                                      "A 'StartArray' node was expected.", code="BadRequest")
                for item in value:
                    if not isinstance(item, str):
                        raise bad_request("Cannot convert the literal '%s' to the expected type 'Edm.String'." % _literal(item),
                                          code="BadRequest")
            if name == "passwordProfile" and not isinstance(value, dict):
                raise bad_request("An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. "
                                  "A 'StartObject' node was expected.", code="BadRequest")

    def _check_values(self, body, current_upn):
        """Directory-level checks of the values being written."""
        for name, value in body.items():
            spec = USER_SCHEMA.get(name)
            if spec is None or value is None:
                continue
            kind, max_length, _ = spec
            if max_length and kind == STRING and len(value) > max_length:
                raise invalid_property(name)
            if max_length and kind == STRINGS and any(len(item) > max_length for item in value):
                raise invalid_property(name)
        if "displayName" in body and not (body["displayName"] or "").strip():
            raise invalid_property("displayName")
        if "mailNickname" in body:
            nickname = body["mailNickname"]
            if not nickname or NICKNAME_BAD_RE.search(nickname) or nickname.startswith(".") or nickname.endswith("."):
                raise invalid_property("mailNickname")
        if "accountEnabled" in body and body["accountEnabled"] is None:
            raise invalid_property("accountEnabled")
        if "businessPhones" in body and body["businessPhones"] is not None and len(body["businessPhones"]) > 1:
            raise invalid_property("businessPhones")
        if "usageLocation" in body:
            location = body["usageLocation"]
            if not isinstance(location, str) or location.upper() not in COUNTRY_CODES:
                raise bad_request(INVALID_VALUES)
        if "userType" in body and body["userType"] not in ("Member", "Guest"):
            raise invalid_property("userType")
        if body.get("onPremisesImmutableId") is not None and re.search(r"[$_]", body["onPremisesImmutableId"]):
            raise invalid_property("onPremisesImmutableId")
        if "otherMails" in body and body["otherMails"] is not None:
            for address in body["otherMails"]:
                if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", address):
                    raise invalid_property("otherMails")
        if "mail" in body and body["mail"] is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", body["mail"]):
            raise invalid_property("mail")
        if "userPrincipalName" in body:
            self._check_upn(body["userPrincipalName"])
        if "passwordProfile" in body and body["passwordProfile"] is not None:
            profile = body["passwordProfile"]
            password = profile.get("password")
            if password is not None:
                if not isinstance(password, str):
                    raise bad_request("Cannot convert the literal '%s' to the expected type 'Edm.String'." % _literal(password),
                                      code="BadRequest")
                if not password_complex_enough(password, body.get("userPrincipalName") or current_upn):
                    raise bad_request(PASSWORD_COMPLEXITY)
            for flag in ("forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"):
                if flag in profile and not isinstance(profile[flag], bool):
                    raise bad_request("Cannot convert the literal '%s' to the expected type 'Edm.Boolean'." % _literal(profile[flag]),
                                      code="BadRequest")

    def _check_upn(self, upn):
        if not isinstance(upn, str) or upn.count("@") != 1:
            raise invalid_property("userPrincipalName")
        local, domain = upn.split("@")
        if (not local or len(local) > 64 or len(upn) > 113 or not UPN_LOCAL_RE.match(local) or local.startswith(".")
                or local.endswith(".") or ".." in local):
            raise invalid_property("userPrincipalName")
        if not self.verified_domain(domain):
            raise bad_request(UPN_DOMAIN, details=[{"target": "userPrincipalName", "code": "InvalidValue"}])

    def _upn_taken(self, upn, except_id=None):
        lowered = upn.lower()
        return any(record.id != except_id and (record.data.get("userPrincipalName") or "").lower() == lowered
                   for record in self._current_users())

    def _address_taken(self, address, except_id=None):
        lowered = address.lower()
        for record in self._current_users():
            if record.id == except_id:
                continue
            data = record.data
            if (data.get("mail") or "").lower() == lowered:
                return True
            if any(proxy.split(":", 1)[-1].lower() == lowered for proxy in data.get("proxyAddresses") or []):
                return True
        return False

    # ----------------------------------------------------------------------------------------------------------
    # Users: operations

    def create_user(self, body):
        """POST /users. Returns the stored user (complete, whatever the replication lag)."""
        self._check_types(body)
        for name in ("accountEnabled", "displayName", "mailNickname", "userPrincipalName"):
            if body.get(name) is None:
                raise invalid_property(name)
        profile = body.get("passwordProfile")
        if not profile or not profile.get("password"):
            raise bad_request("A password must be specified to create a new user.")
        self._check_values(body, body["userPrincipalName"])
        domain = self.domains[body["userPrincipalName"].split("@")[1].lower()]
        if domain["authenticationType"] == "Federated" and not body.get("onPremisesImmutableId"):
            raise invalid_property("onPremisesImmutableId")
        if self._upn_taken(body["userPrincipalName"]):
            raise bad_request(UPN_CONFLICT, details=[{"target": "userPrincipalName", "code": "ObjectConflict"}])
        if body.get("mail") and self._address_taken(body["mail"]):
            raise bad_request(PROXY_CONFLICT, details=[{"target": "proxyAddresses", "code": "ObjectConflict"}])
        data = self._new_user_data(body)
        record = Record(data["id"], "user", None, None)
        self.records[record.id] = record
        self._write(record, "user", data)
        return copy.deepcopy(data)

    def _new_user_data(self, body, object_id=None):
        data = {name: ([] if name in COLLECTION_PROPERTIES else None) for name in USER_SCHEMA if name != "passwordProfile"}
        data["id"] = object_id or str(uuid.uuid4())
        data["userType"] = "Member"
        data["createdDateTime"] = now_iso()
        data["_managerId"] = None
        data["_mailbox"] = False
        data["_extensions"] = []
        for name, value in body.items():
            if name.startswith("@odata.") or name == "passwordProfile" or name not in USER_SCHEMA:
                continue
            data[name] = copy.deepcopy(value) if value is not None else ([] if name in COLLECTION_PROPERTIES else None)
        if data.get("usageLocation"):
            data["usageLocation"] = data["usageLocation"].upper()
        if data.get("mail"):
            data["proxyAddresses"] = ["SMTP:" + data["mail"]]
        profile = body.get("passwordProfile") or {}
        data["passwordProfile"] = {
            "forceChangePasswordNextSignIn": profile.get("forceChangePasswordNextSignIn", True),
            "forceChangePasswordNextSignInWithMfa": profile.get("forceChangePasswordNextSignInWithMfa", False),
            "passwordHash": hash_password(profile["password"]) if profile.get("password") else None,
        }
        # Both start at creation (the password is set then); both are returned only on $select (USER_UNMODELLED).
        data["lastPasswordChangeDateTime"] = data["signInSessionsValidFromDateTime"] = data["createdDateTime"]
        return data

    def get_user(self, key):
        return copy.deepcopy(self._view(self._find(key))[1])

    def list_users(self):
        return self.visible("user", "user")

    def update_user(self, key, body):
        """PATCH /users/{id}."""
        self._check_types(body)
        record = self._find(key)
        data = copy.deepcopy(record.data)
        self._check_values(body, data.get("userPrincipalName"))
        if body.get("userPrincipalName") and self._upn_taken(body["userPrincipalName"], except_id=record.id):
            raise bad_request(UPN_CONFLICT, details=[{"target": "userPrincipalName", "code": "ObjectConflict"}])
        if body.get("mail") and self._address_taken(body["mail"], except_id=record.id):
            raise bad_request(PROXY_CONFLICT, details=[{"target": "proxyAddresses", "code": "ObjectConflict"}])
        for name in ("displayName", "mailNickname", "userPrincipalName"):
            if name in body and body[name] is None:
                raise invalid_property(name)
        if "usageLocation" in body and body["usageLocation"] is None:
            raise bad_request(INVALID_VALUES)
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if name == "passwordProfile":
                profile = value or {}
                stored = data["passwordProfile"]
                if profile.get("password"):
                    stored["passwordHash"] = hash_password(profile["password"])
                    # Entra revokes sign-in sessions when the password changes (UNCONFIRMED: that it moves this property).
                    data["lastPasswordChangeDateTime"] = data["signInSessionsValidFromDateTime"] = now_iso()
                for flag in ("forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"):
                    if flag in profile:
                        stored[flag] = profile[flag]
                continue
            if name == "mail" and value:
                # Changing mail makes it the primary SMTP address (user-update docs).
                proxies = ["smtp:" + proxy.split(":", 1)[1] if proxy.startswith("SMTP:") else proxy
                           for proxy in data.get("proxyAddresses") or []]
                proxies = [proxy for proxy in proxies if proxy.split(":", 1)[1].lower() != value.lower()]
                data["proxyAddresses"] = ["SMTP:" + value] + proxies
            if value is None and name in COLLECTION_PROPERTIES:
                value = []
            if name == "usageLocation":
                value = value.upper()
            data[name] = copy.deepcopy(value)
        self._write(record, "user", data)
        return copy.deepcopy(data)

    def revoke_sign_in_sessions(self, key):
        """POST /users/{id}/revokeSignInSessions: sessions issued before now are invalid (user-revokesigninsessions docs).
        UNCONFIRMED: whether app-only callers also need a directory role for users who hold admin roles (not emulated)."""
        record = self._find(key)
        data = copy.deepcopy(record.data)
        data["signInSessionsValidFromDateTime"] = now_iso()
        self._write(record, "user", data)
        return copy.deepcopy(data)

    def delete_user(self, key):
        """DELETE /users/{id}: soft delete (the UPN is freed by prefixing the id without dashes, as Entra does)."""
        record = self._find(key)
        data = copy.deepcopy(record.data)
        data["deletedDateTime"] = now_iso()
        data["_originalUpn"] = data["userPrincipalName"]
        data["userPrincipalName"] = record.id.replace("-", "") + data["userPrincipalName"]
        self._write(record, "deleted", data)
        # A deleted user loses its directory role assignments; restoring it does not bring them back (UNCONFIRMED).
        for assignment_id in [a["id"] for a in self.role_assignments.values() if a["principalId"] == record.id]:
            del self.role_assignments[assignment_id]

    def list_deleted_users(self):
        return self.visible("user", "deleted")

    def get_deleted(self, object_id):
        return copy.deepcopy(self._view(self._find(object_id, state="deleted"))[1])

    def restore_deleted(self, object_id):
        """POST /directory/deletedItems/{id}/restore: the UPN returns to its original value."""
        record = self._find(object_id, state="deleted")
        data = copy.deepcopy(record.data)
        original = data.pop("_originalUpn", None) or data["userPrincipalName"]
        if self._upn_taken(original, except_id=record.id):
            # UNCONFIRMED: the wording of the restore conflict; the create conflict's body is the plausible one.
            raise bad_request(UPN_CONFLICT, details=[{"target": "userPrincipalName", "code": "ObjectConflict"}])
        data["userPrincipalName"] = original
        data["deletedDateTime"] = None
        # Seats are released while a user is deleted. A licence whose SKU has no free seat any more is not given
        # back (the real service keeps it in an error state; the sandbox keeps consumed <= prepaid instead).
        kept = []
        for licence in data.get("assignedLicenses") or []:
            sku_id = licence["skuId"]
            if sku_id in self.skus and self.free_units(sku_id) - sum(1 for k in kept if k["skuId"] == sku_id) > 0:
                kept.append(licence)
        data["assignedLicenses"] = kept
        self._write(record, "user", data)
        return copy.deepcopy(data)

    def purge_deleted(self, object_id):
        """DELETE /directory/deletedItems/{id}: permanent."""
        record = self._find(object_id, state="deleted")
        self._write(record, None, None)
        self._prune()

    # ----------------------------------------------------------------------------------------------------------
    # Manager

    def get_manager(self, key):
        data = self._view(self._find(key))[1]
        manager_id = data.get("_managerId")
        if manager_id:
            record = self.records.get(manager_id)
            if record is not None and self._view(record)[0] == "user":
                return copy.deepcopy(self._view(record)[1])
        raise not_found("manager")

    def set_manager(self, key, manager_id):
        record = self._find(key)
        manager = self._find(manager_id)
        if manager.id == record.id:
            # UNCONFIRMED wording.
            raise bad_request("The manager of a user cannot be the user itself.")
        data = copy.deepcopy(record.data)
        data["_managerId"] = manager.id
        self._write(record, "user", data)

    def remove_manager(self, key):
        record = self._find(key)
        if not self._view(record)[1].get("_managerId"):
            raise not_found("manager")
        data = copy.deepcopy(record.data)
        data["_managerId"] = None
        self._write(record, "user", data)

    # ----------------------------------------------------------------------------------------------------------
    # Open extensions (openTypeExtension on users: opentypeextension-post/get/update/delete docs, extensibility-overview and
    # extensibility-open-users). Kept in the user's record ("_extensions", in creation order), so they lag like any write and
    # stay with the user through soft delete and restore. Each is {"extensionName", "properties", "creator" (app id)}.

    @staticmethod
    def _extension_index(extensions, extension_id):
        """Index of the extension an id names, else None."""
        for index, extension in enumerate(extensions):
            if extension_matches(extension["extensionName"], extension_id):
                return index
        return None

    def list_extensions(self, key):
        """GET /users/{id}/extensions: the extensions readers see now, as Graph shows them."""
        data = self._view(self._find(key))[1]
        return [extension_view(extension) for extension in data.get("_extensions") or []]

    def get_extension(self, key, extension_id):
        data = self._view(self._find(key))[1]
        extensions = data.get("_extensions") or []
        index = self._extension_index(extensions, extension_id)
        if index is None:
            raise extension_not_found()
        return extension_view(extensions[index])

    def create_extension(self, key, body, app_id=None):
        """POST /users/{id}/extensions. Checked against the stored state (the directory's own copy), like uniqueness checks."""
        name, properties = _extension_body(body, creating=True)
        record = self._find(key)
        data = copy.deepcopy(record.data)
        extensions = data.setdefault("_extensions", [])
        if self._extension_index(extensions, name) is not None:
            raise bad_request(EXTENSION_EXISTS)
        if sum(1 for extension in extensions if extension.get("creator") == app_id) >= EXTENSIONS_PER_APP:
            raise bad_request(EXTENSION_LIMIT)
        extension = {"extensionName": name, "properties": properties, "creator": app_id}
        _check_extension_size(extension)
        extensions.append(extension)
        self._write(record, "user", data)
        return extension_view(extension)

    def update_extension(self, key, extension_id, body):
        """PATCH /users/{id}/extensions/{name}: the body's custom properties replace all the stored ones (unsent ones are
        deleted, null values kept as null), as the extensibility overview says."""
        record, data, index = self._stored_extension(key, extension_id)
        extensions = data["_extensions"]
        name, properties = _extension_body(body, creating=False)
        if name is not None and name.lower() != extensions[index]["extensionName"].lower():
            # UNCONFIRMED: Graph's answer to a PATCH that names another extension; the sandbox refuses a rename.
            raise bad_request("The extensionName of an existing extension cannot be changed.", code="BadRequest")
        extension = dict(extensions[index], properties=properties)
        _check_extension_size(extension)
        extensions[index] = extension
        self._write(record, "user", data)

    def delete_extension(self, key, extension_id):
        record, data, index = self._stored_extension(key, extension_id)
        del data["_extensions"][index]
        self._write(record, "user", data)

    def _stored_extension(self, key, extension_id):
        """(record, a copy of its data to change, index of the extension) for a write; 404 when the user has no such extension."""
        record = self._find(key)
        data = copy.deepcopy(record.data)
        data.setdefault("_extensions", [])
        index = self._extension_index(data["_extensions"], extension_id)
        if index is None:
            raise extension_not_found()
        return record, data, index

    # ----------------------------------------------------------------------------------------------------------
    # Licences

    def assign_license(self, key, add_licenses, remove_licenses):
        """POST /users/{id}/assignLicense (user-assignlicense docs). Returns the user after the change."""
        record = self._find(key)
        if not isinstance(add_licenses, list) or not isinstance(remove_licenses, list):
            raise bad_request("Invalid value specified for property 'addLicenses' of resource 'User'."
                              if not isinstance(add_licenses, list) else
                              "Invalid value specified for property 'removeLicenses' of resource 'User'.")
        guid_error = bad_request("Cannot convert a primitive value to the expected type 'Edm.Guid'. See the inner exception for more details.",
                                 code="BadRequest")
        additions = []
        for item in add_licenses:
            if not isinstance(item, dict):
                raise bad_request("An unexpected 'PrimitiveValue' node was found when reading from the JSON reader. "
                                  "A 'StartObject' node was expected.", code="BadRequest")
            sku_id = item.get("skuId")
            disabled = item.get("disabledPlans") or []
            if not is_guid(sku_id) or not isinstance(disabled, list) or not all(is_guid(plan) for plan in disabled):
                raise guid_error
            additions.append((sku_id.lower(), [plan.lower() for plan in disabled]))
        removals = []
        for sku_id in remove_licenses:
            if not is_guid(sku_id):
                raise guid_error
            removals.append(sku_id.lower())
        for sku_id in [sku for sku, _ in additions] + removals:
            if sku_id not in self.skus:
                raise bad_request("License %s does not correspond to a valid company License." % sku_id)
        data = copy.deepcopy(record.data)
        held = {licence["skuId"]: licence for licence in data.get("assignedLicenses") or []}
        for sku_id in removals:
            if sku_id not in held:
                raise bad_request("User does not have a corresponding license.")
        if additions and not data.get("usageLocation"):
            raise bad_request("License assignment cannot be done for user with invalid usage location.")
        for sku_id in removals:
            del held[sku_id]
        holding = {licence["skuId"] for licence in record.data.get("assignedLicenses") or []}
        for sku_id, disabled in additions:
            # A SKU the user already holds only changes its disabled plans: no new seat.
            if sku_id not in holding and self.free_units(sku_id) <= 0:
                raise bad_request("Subscription with SKU %s does not have any available licenses." % sku_id)
            held[sku_id] = {"disabledPlans": disabled, "skuId": sku_id}
        data["assignedLicenses"] = list(held.values())
        self._refresh_plans(data)
        self._write(record, "user", data)
        return copy.deepcopy(data)

    def _refresh_plans(self, data):
        """assignedPlans follow assignedLicenses; an Exchange plan provisions the mailbox."""
        stamp = now_iso()
        effective = {}
        for licence in data.get("assignedLicenses") or []:
            sku = self.skus.get(licence["skuId"])
            if sku is None:
                continue
            for plan_id, _, service in sku["plans"]:
                if plan_id not in licence.get("disabledPlans", []):
                    effective[plan_id] = service
        plans = []
        seen = set()
        for plan in data.get("assignedPlans") or []:
            plan = dict(plan)
            seen.add(plan["servicePlanId"])
            status = "Enabled" if plan["servicePlanId"] in effective else "Deleted"
            if plan["capabilityStatus"] != status:
                plan["capabilityStatus"], plan["assignedDateTime"] = status, stamp
            plans.append(plan)
        for plan_id, service in effective.items():
            if plan_id not in seen:
                plans.append({"assignedDateTime": stamp, "capabilityStatus": "Enabled", "service": service, "servicePlanId": plan_id})
        data["assignedPlans"] = plans
        if any(plan_id in EXCHANGE_PLAN_IDS for plan_id in effective):
            provision_mailbox(self, data)

    # ----------------------------------------------------------------------------------------------------------
    # Directory roles (roleManagement/directory). role_assignments: id -> {id, principalId, roleDefinitionId (the
    # built-in template id), directoryScopeId}. Principals are users or the apps' service principals.

    def list_role_definitions(self):
        return [copy.deepcopy(definition) for definition in ROLE_DEFINITIONS.values()]

    def get_role_definition(self, key):
        definition = ROLE_DEFINITIONS.get(key.lower()) if is_guid(key) else None
        if definition is None:
            raise not_found(key)  # UNCONFIRMED: status and wording for an unknown role definition
        return copy.deepcopy(definition)

    def _principal_kind(self, principal_id):
        """"user" or "servicePrincipal" for an id readers can see now; 404 otherwise (UNCONFIRMED status and wording)."""
        if is_guid(principal_id):
            if any(app.object_id == principal_id.lower() for app in self.apps.values()):
                return "servicePrincipal"
            self._find(principal_id)  # 404 while a new user has not replicated yet
            return "user"
        raise not_found(principal_id)

    def create_role_assignment(self, principal_id, role_definition_id, directory_scope_id="/"):
        """POST /roleManagement/directory/roleAssignments. Returns the stored assignment."""
        definition = self.get_role_definition(role_definition_id)
        self._principal_kind(principal_id)
        assignment_id = role_assignment_id(definition["id"], principal_id)
        if assignment_id in self.role_assignments:
            raise bad_request(ROLE_CONFLICT)
        assignment = {"id": assignment_id, "principalId": principal_id.lower(), "roleDefinitionId": definition["id"],
                      "directoryScopeId": directory_scope_id}
        self._lag_role_assignment(assignment_id)
        self.role_assignments[assignment_id] = assignment
        self.activated_roles.add(definition["id"])
        return copy.deepcopy(assignment)

    def _lag_role_assignment(self, assignment_id):
        """Before a write to an assignment: readers keep seeing what they saw for replication_lag_s."""
        lag = self.replication_lag()
        if lag > 0:
            self.role_assignment_views[assignment_id] = (self.clock() + lag, self._seen_role_assignment(assignment_id))
        else:
            self.role_assignment_views.pop(assignment_id, None)

    def _seen_role_assignment(self, assignment_id):
        """The assignment as API readers see it now (None: not there for them)."""
        view = self.role_assignment_views.get(assignment_id)
        if view is not None and self.clock() < view[0]:
            return view[1]
        return self.role_assignments.get(assignment_id)

    def seed_role_assignment(self, principal_id, role_definition_id):
        """Add an assignment without the API (seed data and tests)."""
        assignment_id = role_assignment_id(role_definition_id, principal_id)
        self.role_assignments[assignment_id] = {"id": assignment_id, "principalId": principal_id.lower(),
                                                "roleDefinitionId": role_definition_id.lower(), "directoryScopeId": "/"}
        self.activated_roles.add(role_definition_id.lower())
        return copy.deepcopy(self.role_assignments[assignment_id])

    def list_role_assignments(self, current=False):
        """As API readers see them now (replication lag), or the directory's current set (``current``)."""
        if current:
            return [copy.deepcopy(assignment) for assignment in self.role_assignments.values()]
        ids = list(self.role_assignments) + [key for key in self.role_assignment_views if key not in self.role_assignments]
        seen = [self._seen_role_assignment(key) for key in ids]
        return [copy.deepcopy(assignment) for assignment in seen if assignment is not None]

    def get_role_assignment(self, assignment_id):
        assignment = self._seen_role_assignment(assignment_id)
        if assignment is None:
            raise not_found(assignment_id)
        return copy.deepcopy(assignment)

    def delete_role_assignment(self, assignment_id):
        """DELETE /roleManagement/directory/roleAssignments/{id} (404 for an unknown id: UNCONFIRMED)."""
        if assignment_id not in self.role_assignments:
            raise not_found(assignment_id)
        self._lag_role_assignment(assignment_id)
        del self.role_assignments[assignment_id]

    def principal_role_ids(self, principal_id):
        """The roleDefinitionIds (template ids) a user or service principal holds."""
        lowered = (principal_id or "").lower()
        held = {assignment["roleDefinitionId"] for assignment in self.role_assignments.values() if assignment["principalId"] == lowered}
        for app in self.apps.values():
            if app.object_id == lowered:  # roles given to an app when it was registered (App.directory_roles), kept across resets
                held |= {role.lower() for role in getattr(app, "directory_roles", None) or ()}
        return held

    # Activated directory roles (directoryRoles: directoryrole-list, directoryrole-get, directoryrole-list-members). "A role
    # becomes activated when an admin activates the role ... When assigning a role using the Azure portal, the role activation
    # step is implicitly done" (directoryrole-list docs); Global Administrator is activated in every tenant. UNCONFIRMED: that an
    # assignment through roleManagement activates the role as the portal does, and that a role stays activated once it has no
    # member left (the sandbox keeps it until reset).

    def _activated(self):
        held = set(self.activated_roles)
        for app in self.apps.values():
            held |= {role.lower() for role in getattr(app, "directory_roles", None) or ()}
        return [ROLE_DEFINITIONS[template_id] for template_id in ROLE_DEFINITIONS if template_id in held]

    def list_directory_roles(self):
        return [directory_role(definition) for definition in self._activated()]

    def get_directory_role(self, key):
        """An activated role by its object id, or by ``roleTemplateId=<template id>`` (the alternate key); else 404."""
        lowered = (key or "").strip().lower()
        if lowered.startswith("roletemplateid="):
            wanted = lowered.split("=", 1)[1].strip("'")
            match = [role for role in self.list_directory_roles() if role["roleTemplateId"] == wanted]
        else:
            match = [role for role in self.list_directory_roles() if role["id"] == lowered]
        if not match:
            raise not_found(key)
        return match[0]

    def directory_role_members(self, key):
        """[(entity, data)] of a role's members as readers see them: users ("user", user data) and the apps' service
        principals ("servicePrincipal", {id, appId, displayName}), by the assignments readers see (replication lag) and the
        roles apps were registered with."""
        template_id = self.get_directory_role(key)["roleTemplateId"]
        out, seen = [], set()
        for assignment in self.list_role_assignments():
            principal = assignment["principalId"]
            if assignment["roleDefinitionId"] != template_id or principal in seen:
                continue
            seen.add(principal)
            record = self.records.get(principal)
            if record is not None and record.entity == "user" and self._view(record)[0] == "user":
                out.append(("user", copy.deepcopy(self._view(record)[1])))
        for app in self.apps.values():
            if app.object_id in seen:
                continue
            if template_id in self.principal_role_ids(app.object_id):
                seen.add(app.object_id)
                out.append(("servicePrincipal", {"id": app.object_id, "appId": app.client_id, "displayName": app.display_name}))
        return out

    def check_sensitive_action(self, key, app_id, properties=None):
        """403 unless the calling app may act on this user: deleting, or changing sensitive properties of, a user
        who holds an admin role needs, app-only, a higher admin role on the app's service principal (user-delete and
        user-update docs: User.ReadWrite.All "isn't enough privilege"; the roles are Entra's "Who can perform
        sensitive actions"). ``properties`` None means a delete. UNCONFIRMED: every role counts as an admin role here."""
        if properties is not None and not (set(properties) & SENSITIVE_USER_PROPERTIES):
            return
        record = self._find(key)
        if not self.principal_role_ids(record.id):
            return
        app = self.app(app_id) if app_id else None
        if app is None or not (self.principal_role_ids(app.object_id) & SENSITIVE_ACTION_ROLES):
            raise forbidden()

    # ----------------------------------------------------------------------------------------------------------
    # Groups and membership (group-list, group-list-members, group-list-transitivemembers, group-post-members,
    # group-delete-members, user-list-memberof). Membership lives in the group's record ("_members"), so a $ref write
    # lags like any other write. Members that are not active now (a deleted user) are left out of every read and come
    # back when restored (UNCONFIRMED: Entra's handling of a restored user's memberships).

    def list_groups(self):
        return self.visible("group", "group")

    def get_group(self, key):
        return copy.deepcopy(self._view(self._find(key, state="group", entity="group"))[1])

    def _member_view(self, object_id):
        """("user" | "group", data) of an active directory object readers see now, or None."""
        record = self.records.get(object_id)
        if record is None or record.entity not in ("user", "group"):
            return None
        state, data = self._view(record)
        return (record.entity, data) if state == record.entity else None

    def group_members(self, key):
        """Direct members of a group as [(entity, data)], in the order they were added."""
        data = self._view(self._find(key, state="group", entity="group"))[1]
        out = []
        for member_id in data.get("_members") or []:
            member = self._member_view(member_id)
            if member is not None:
                out.append(member)
        return out

    def transitive_members(self, key):
        """Members of a group and of every group nested in it, each once: the direct members first, then each nested
        group's, breadth first (nested groups are listed too, as transitiveMembers does)."""
        root = self._find(key, state="group", entity="group")
        seen = {root.id}
        out = []
        queue = [root.id]
        while queue:
            group_id = queue.pop(0)
            member = self._member_view(group_id)
            if member is None:
                continue
            for member_id in member[1].get("_members") or []:
                if member_id in seen:
                    continue
                found = self._member_view(member_id)
                if found is None:
                    continue
                seen.add(member_id)
                out.append(found)
                if found[0] == "group":
                    queue.append(member_id)
        return out

    def member_of(self, key):
        """Direct memberships of a user: [(entity, data)] of the groups readers see it in, then its directory roles."""
        user = self._find(key)
        out = [("group", data) for data in self.list_groups() if user.id in (data.get("_members") or [])]
        for role_id in sorted(self.principal_role_ids(user.id)):
            definition = ROLE_DEFINITIONS.get(role_id)
            if definition is not None:
                out.append(("directoryRole", directory_role(definition)))
        return out

    def _reference_target(self, object_id):
        """The record of a user or group a $ref names (by object id; a user also by UPN), else 404."""
        for entity in ("user", "group"):
            try:
                return self._find(object_id, state=entity, entity=entity)
            except GraphError:
                pass
        raise not_found(object_id)

    @staticmethod
    def group_kind(data):
        """"unified", "security", "mail_security", "distribution", with "dynamic" and "synced" first where they apply."""
        types = [t.lower() for t in data.get("groupTypes") or []]
        if "dynamicmembership" in types:
            return "dynamic"
        if data.get("onPremisesSyncEnabled"):
            return "synced"
        if "unified" in types:
            return "unified"
        if data.get("mailEnabled"):
            return "mail_security" if data.get("securityEnabled") else "distribution"
        return "security"

    def _check_member_write(self, group):
        """Graph refuses $ref writes to groups whose membership it does not own."""
        kind = self.group_kind(group.data)
        if kind in ("mail_security", "distribution"):
            raise bad_request(MAIL_ENABLED_WRITE)
        if kind == "synced":
            raise bad_request(SYNCED_WRITE)
        if kind == "dynamic":
            raise bad_request(DYNAMIC_WRITE)

    def add_group_member(self, group_key, object_id):
        """POST /groups/{id}/members/$ref: 404 for an unknown group or object, 400 when it is a member already."""
        group = self._find(group_key, state="group", entity="group")
        target = self._reference_target(object_id)
        self._check_member_write(group)
        if target.id == group.id:
            raise bad_request("A group cannot be a member of itself.")  # UNCONFIRMED wording
        # Checked and written against the stored state (the directory's own copy), like the uniqueness checks of users.
        data = copy.deepcopy(group.data)
        if target.id in data["_members"]:
            raise bad_request(MEMBER_EXISTS)
        data["_members"].append(target.id)
        self._write(group, "group", data)

    def remove_group_member(self, group_key, member_id):
        """DELETE /groups/{id}/members/{id}/$ref: 404 when the object is not a member (UNCONFIRMED status and wording)."""
        group = self._find(group_key, state="group", entity="group")
        lowered = (member_id or "").lower()
        if lowered not in group.data["_members"]:
            raise not_found(member_id)
        self._check_member_write(group)
        data = copy.deepcopy(group.data)
        data["_members"] = [item for item in data["_members"] if item != lowered]
        self._write(group, "group", data)

    # ----------------------------------------------------------------------------------------------------------
    # Direct seeding (control API) and dump

    def seed_user(self, spec):
        """Add a user without the API (no log, no throttling, no lag). Defaults fill what the spec leaves out."""
        if not isinstance(spec, dict) or not spec.get("userPrincipalName"):
            raise bad_request("Each seeded user needs a userPrincipalName.")
        upn = spec["userPrincipalName"]
        self._check_upn(upn)
        if self._upn_taken(upn):
            raise bad_request(UPN_CONFLICT, details=[{"target": "userPrincipalName", "code": "ObjectConflict"}])
        local = upn.split("@")[0]
        licences = spec.pop("assignedLicenses", None) or spec.pop("licenses", None) or []
        password = spec.pop("password", None)
        object_id = (spec.pop("id", None) or str(uuid.uuid4())).lower()
        if not is_guid(object_id) or object_id in self.records:
            raise bad_request("Seeded user id %s is not a GUID or is already in use." % object_id)
        created = spec.pop("createdDateTime", None)
        mailbox_type = spec.pop("mailboxType", None)
        if mailbox_type is not None and mailbox_type not in MAILBOX_TYPES:
            raise bad_request("mailboxType must be one of %s." % ", ".join(MAILBOX_TYPES))
        times = dict((name, spec.pop(name)) for name in ("lastPasswordChangeDateTime", "signInSessionsValidFromDateTime") if name in spec)
        body = {"accountEnabled": True, "displayName": local, "mailNickname": re.sub(r"[^A-Za-z0-9._\-]", "", local) or "user"}
        body.update(spec)
        if password:
            body["passwordProfile"] = {"password": password, "forceChangePasswordNextSignIn": False}
        unknown = [name for name in body if name not in USER_SCHEMA]
        if unknown:
            raise bad_request("Unknown user properties: %s" % ", ".join(sorted(unknown)))
        data = self._new_user_data(body, object_id=object_id)
        if created:
            data["createdDateTime"] = data["lastPasswordChangeDateTime"] = data["signInSessionsValidFromDateTime"] = created
        data.update(times)  # a seeded history of password changes and session revocations
        normalised = {}
        for licence in licences:
            sku_id = self._sku_by_name(licence if isinstance(licence, str) else licence.get("skuId"))
            disabled = [] if isinstance(licence, str) else list(licence.get("disabledPlans") or [])
            normalised[sku_id] = {"disabledPlans": disabled, "skuId": sku_id}
        for sku_id in normalised:
            if self.free_units(sku_id) <= 0:
                raise bad_request("Subscription with SKU %s does not have any available licenses." % sku_id)
        data["assignedLicenses"] = list(normalised.values())
        self.records[object_id] = Record(object_id, "user", "user", data)
        self._refresh_plans(data)
        if mailbox_type is not None:
            self.seed_mailbox(object_id, mailbox_type)  # a mailbox of that type now, licence or not
        return copy.deepcopy(data)

    def seed_group(self, spec):
        """Add a group without the API. ``members``: UPNs or ids of users, display names or ids of groups already there."""
        if not isinstance(spec, dict) or not isinstance(spec.get("displayName"), str) or not spec["displayName"].strip():
            raise bad_request("Each seeded group needs a displayName.")
        spec = dict(spec)
        members = spec.pop("members", None) or []
        object_id = (spec.pop("id", None) or str(uuid.uuid4())).lower()
        if not is_guid(object_id) or object_id in self.records:
            raise bad_request("Seeded group id %s is not a GUID or is already in use." % object_id)
        unknown = [name for name in spec if name not in GROUP_PROPERTIES]
        if unknown:
            raise bad_request("Unknown group properties: %s" % ", ".join(sorted(unknown)))
        data = {name: ([] if name in ("groupTypes", "proxyAddresses") else None) for name in GROUP_PROPERTIES}
        nickname = re.sub(r"[^A-Za-z0-9._\-]", "", spec["displayName"]) or "group"
        data.update({"id": object_id, "createdDateTime": now_iso(), "mailEnabled": False, "securityEnabled": True, "mailNickname": nickname,
                     "visibility": None, "isAssignableToRole": False})
        data.update(copy.deepcopy(spec))
        raw = uuid.UUID(object_id).bytes_le
        data["securityIdentifier"] = "S-1-12-1-" + "-".join(str(int.from_bytes(raw[i:i + 4], "little")) for i in range(0, 16, 4))
        ids = []
        for member in members:
            member_id = self._seed_member_id(member)
            if member_id == object_id:
                raise bad_request("A group cannot be a member of itself.")
            if member_id not in ids:
                ids.append(member_id)
        data["_members"] = ids
        self.records[object_id] = Record(object_id, "group", "group", data)
        return copy.deepcopy(data)

    def _seed_member_id(self, key):
        if not isinstance(key, str) or not key:
            raise bad_request("Group members are UPNs or ids of users, or display names or ids of groups.")
        for entity, state in (("user", "user"), ("group", "group")):
            try:
                return self._find(key, state=state, entity=entity).id
            except GraphError:
                pass
        matches = [record.id for record in self.records.values()
                   if record.entity == "group" and record.state == "group" and (record.data.get("displayName") or "").lower() == key.lower()]
        if len(matches) != 1:
            raise bad_request("No user or group %s to seed as a member (or more than one group has that name)." % key)
        return matches[0]

    def _dump_member(self, member_id):
        record = self.records.get(member_id)
        if record is None or record.data is None:
            return {"id": member_id, "type": None, "name": None}
        name = record.data.get("userPrincipalName") if record.entity == "user" else record.data.get("displayName")
        return {"id": member_id, "type": record.entity if record.state == record.entity else record.state, "name": name}

    def _sku_by_name(self, value):
        for sku in self.skus.values():
            if value and value.lower() in (sku["skuId"], sku["skuPartNumber"].lower()):
                return sku["skuId"]
        raise bad_request("License %s does not correspond to a valid company License." % value)

    def dump(self):
        users = []
        for record in self.records.values():
            if record.entity != "user" or record.state is None:
                continue
            data = public_data(record.data)
            data["_state"] = "active" if record.state == "user" else "deleted"
            data["_managerId"] = record.data.get("_managerId")
            data["_mailbox"] = record.data.get("_mailbox")
            # Open extensions as Graph shows them, each with the app that created it.
            data["_extensions"] = [dict(extension_view(extension), _creator=extension.get("creator"))
                                   for extension in record.data.get("_extensions") or []]
            data["_visible"] = self.clock() >= record.visible_from
            users.append(data)
        groups = []
        for record in self.records.values():
            if record.entity != "group" or record.state != "group":
                continue
            data = public_data(record.data)
            data["members"] = [self._dump_member(member_id) for member_id in record.data.get("_members") or []]
            groups.append(data)
        return {
            "tenant_id": self.tenant_id,
            "organization": self.organization,
            "domains": self.list_domains(),
            "skus": self.list_skus(),
            "users": users,
            "groups": groups,
            "role_assignments": self.list_role_assignments(current=True),
            "apps": [app.describe() for app in self.apps.values()],
            "config": copy.deepcopy(self.config),
            "mailboxes": self.dump_mailboxes(),
            "auth_methods": access.dump(self),
            "registrations": self.registrations.dump(),
        }


def extension_not_found():
    return GraphError(404, "ResourceNotFound", EXTENSION_NOT_FOUND)


def extension_matches(name, extension_id):
    """Whether an id (the name, or the fully qualified microsoft.graph.openTypeExtension.<name>) names the extension ``name``.
    UNCONFIRMED: that names match case-insensitively, as directory keys do."""
    wanted = (extension_id or "").lower()
    if wanted.startswith(EXTENSION_QUALIFIER.lower()):
        wanted = wanted[len(EXTENSION_QUALIFIER):]
    return name.lower() == wanted


def extension_view(extension):
    """An open extension as Graph shows it: its type, name, id (the name, for directory objects), then the custom properties."""
    out = {"@odata.type": EXTENSION_TYPE, "extensionName": extension["extensionName"], "id": extension["extensionName"]}
    out.update(copy.deepcopy(extension["properties"]))
    return out


def _extension_body(body, creating):
    """(extensionName or None, custom properties) of a POST or PATCH body. Annotations (@odata.*) and id are not stored.
    UNCONFIRMED: the wording of these refusals; the docs allow primitive values and arrays of them, and the sandbox also keeps
    objects (public clients send them)."""
    if not isinstance(body, dict):
        raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
    odata_type = body.get("@odata.type")
    if odata_type is not None and str(odata_type).lstrip("#").lower() != EXTENSION_TYPE.lstrip("#").lower():
        raise bad_request("A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to "
                          "a valid type." % odata_type, code="BadRequest")
    name = body.get("extensionName")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise invalid_property("extensionName", "OpenTypeExtension")
    if creating and name is None:
        raise invalid_property("extensionName", "OpenTypeExtension")
    properties = {key: copy.deepcopy(value) for key, value in body.items() if not key.startswith("@odata.") and key not in ("extensionName", "id")}
    return name, properties


def _check_extension_size(extension):
    stored = dict({"extensionName": extension["extensionName"]}, **extension["properties"])
    if len(json.dumps(stored, separators=(",", ":"), ensure_ascii=False).encode("utf-8")) > EXTENSION_MAX_BYTES:
        raise bad_request(EXTENSION_TOO_LARGE, code="BadRequest")


def directory_role(definition):
    """A directoryRole (the activated role) as memberOf lists it. UNCONFIRMED: its id; the sandbox derives a stable one
    from the template id (the real id is the tenant's own instance of the role)."""
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-directory-role:" + definition["id"])), "deletedDateTime": None,
            "description": definition["description"], "displayName": definition["displayName"], "roleTemplateId": definition["id"]}


def provision_mailbox(tenant, user):
    """A user with an Exchange plan gets a mailbox: Exchange's model (exchange_state.Mailboxes) provisions it, after
    mailbox_provisioning_delay_s for API writes, and makes Graph's mail and proxyAddresses follow it."""
    tenant.provision_mailbox(user)


def public_data(data):
    """A stored user without internal fields and without the password hash."""
    out = {key: copy.deepcopy(value) for key, value in data.items() if not key.startswith("_") and key != "passwordProfile"}
    return out


def _literal(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return type(value).__name__
    return str(value)
