"""Microsoft Graph routes: "METHOD /template" -> the name of the method that answers it, and the matcher.

The handlers are ``GraphResponses`` methods (graph_responses.py), except ``batch``, which the app runs itself (graph.py).
Templates are matched segment by segment, case-insensitively; {id} matches any one segment, and a literal beats {id}.
"""

from .errors import GraphError, segment_not_found

HANDLERS = {
    "POST /$batch": "batch",
    "GET /users": "list_users",
    "POST /users": "create_user",
    "GET /users/$count": "count_users",
    "GET /users/{id}": "get_user",
    "PATCH /users/{id}": "update_user",
    "DELETE /users/{id}": "delete_user",
    "GET /users/{id}/manager": "get_manager",
    "PUT /users/{id}/manager/$ref": "set_manager",
    "DELETE /users/{id}/manager/$ref": "remove_manager",
    "GET /users/{id}/extensions": "list_extensions",
    "POST /users/{id}/extensions": "create_extension",
    "GET /users/{id}/extensions/{id}": "get_extension",
    "PATCH /users/{id}/extensions/{id}": "update_extension",
    "DELETE /users/{id}/extensions/{id}": "delete_extension",
    "POST /users/{id}/assignLicense": "assign_license",
    "POST /users/{id}/revokeSignInSessions": "revoke_sign_in_sessions",
    "POST /users/{id}/microsoft.graph.revokeSignInSessions": "revoke_sign_in_sessions",
    "POST /users/{id}/sendMail": "send_mail",
    "POST /users/{id}/microsoft.graph.sendMail": "send_mail",
    "GET /subscribedSkus": "list_skus",
    "GET /domains": "list_domains",
    "GET /domains/{id}": "get_domain",
    "GET /directory/deletedItems": "list_deleted_untyped",
    "GET /directory/deletedItems/microsoft.graph.user": "list_deleted",
    "GET /directory/deletedItems/microsoft.graph.user/$count": "count_deleted",
    "GET /directory/deletedItems/graph.user": "list_deleted",
    "GET /directory/deletedItems/graph.user/$count": "count_deleted",
    "GET /directory/deletedItems/{id}": "get_deleted",
    "POST /directory/deletedItems/{id}/restore": "restore_deleted",
    "DELETE /directory/deletedItems/{id}": "purge_deleted",
    "GET /directoryRoles": "list_directory_roles",
    "GET /directoryRoles/{id}": "get_directory_role",
    "GET /directoryRoles/{id}/members": "list_directory_role_members",
    "GET /roleManagement/directory/roleDefinitions": "list_role_definitions",
    "GET /roleManagement/directory/roleDefinitions/{id}": "get_role_definition",
    "GET /roleManagement/directory/roleAssignments": "list_role_assignments",
    "GET /roleManagement/directory/roleAssignments/{id}": "get_role_assignment",
    "POST /roleManagement/directory/roleAssignments": "create_role_assignment",
    "DELETE /roleManagement/directory/roleAssignments/{id}": "delete_role_assignment",
    "GET /groups": "list_groups",
    "GET /groups/{id}": "get_group",
    "GET /groups/{id}/members": "list_members",
    "GET /groups/{id}/members/microsoft.graph.user": "list_user_members",
    "GET /groups/{id}/members/microsoft.graph.group": "list_group_members",
    "GET /groups/{id}/transitiveMembers": "list_transitive_members",
    "GET /groups/{id}/transitiveMembers/microsoft.graph.user": "list_transitive_user_members",
    "POST /groups/{id}/members/$ref": "add_member",
    "DELETE /groups/{id}/members/{id}/$ref": "remove_member",
    "GET /users/{id}/memberOf": "list_member_of",
    "GET /users/{id}/memberOf/microsoft.graph.group": "list_member_of_groups",
    # A person's ways in (access.py): authentication methods, one delete route per kind, and inbox rules.
    "GET /users/{id}/authentication/methods": "list_auth_methods",
    "GET /users/{id}/mailFolders/inbox/messageRules": "list_message_rules",
    "PATCH /users/{id}/mailFolders/inbox/messageRules/{id}": "update_message_rule",
    # Application registrations, service principals, application permissions (graph_applications.py).
    "GET /applications": "list_applications",
    "POST /applications": "create_application",
    "GET /applications/{id}": "get_application",
    "PATCH /applications/{id}": "update_application",
    "DELETE /applications/{id}": "delete_application",
    "POST /applications/{id}/addPassword": "add_password",
    "POST /applications/{id}/removePassword": "remove_password",
    "GET /servicePrincipals": "list_service_principals",
    "POST /servicePrincipals": "create_service_principal",
    "GET /servicePrincipals/{id}": "get_service_principal",
    "GET /servicePrincipals/{id}/appRoleAssignments": "list_app_role_assignments",
    "POST /servicePrincipals/{id}/appRoleAssignments": "create_app_role_assignment",
    "DELETE /servicePrincipals/{id}/appRoleAssignments/{id}": "delete_app_role_assignment",
}
for _segment in ("phoneMethods", "microsoftAuthenticatorMethods", "fido2Methods", "softwareOathMethods", "emailMethods",
                 "windowsHelloForBusinessMethods", "temporaryAccessPassMethods", "platformCredentialMethods"):
    HANDLERS["DELETE /users/{id}/authentication/%s/{id}" % _segment] = "delete_auth_method"
TEMPLATES = sorted({key.split(" ", 1)[1] for key in HANDLERS})


def match(call):
    """(route key, template parameters) for a call; GraphError for an unknown segment or method."""
    segments = list(call.path.strip("/").split("/")) if call.path.strip("/") else []
    best = None
    for template in TEMPLATES:
        parts = template.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        params, literals = [], 0
        for part, segment in zip(parts, segments):
            if part == "{id}" and segment:
                params.append(segment)
            elif part.lower() == segment.lower():
                literals += 1
            else:
                break
        else:
            if best is None or literals > best[1]:
                best = (template, literals, params)
    if best is None:
        raise segment_not_found(unmatched_segment(segments))
    key = "%s %s" % (call.method, best[0])
    if key not in HANDLERS:
        raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri.")
    return key, best[2]


def unmatched_segment(segments):
    """The first segment of a path that no template has: what Graph names in its 400."""
    for index in range(len(segments)):
        prefix = segments[:index + 1]
        if not any(len(t.strip("/").split("/")) > index and all(
                part == "{id}" or part.lower() == segment.lower() for part, segment in zip(t.strip("/").split("/"), prefix))
                for t in TEMPLATES):
            return segments[index]
    return segments[-1] if segments else ""
