"""Microsoft Graph responses: each route's handler turns ``state.Tenant`` calls into Graph bodies.

``GraphResponses`` holds one method per route of graph_urls.HANDLERS (``handler(call, *template parameters)`` -> ``Result``)
and the projections they share (users, groups, directory objects). The app (graph.py) has checked the token, the permission
and the throttling before a handler runs; handlers raise ``GraphError`` for Graph's error answers.
"""

import json
import re
import uuid
from urllib.parse import unquote_plus, urlsplit

from . import access
from . import auth
from . import graph_query as query
from . import mail
from . import state as state_module
from .errors import GraphError, bad_request
from .graph_applications import ApplicationResponses
from .graph_permissions import READ_ROLE_MANAGEMENT, SEE_GROUPS, SEE_SERVICE_PRINCIPALS, SEE_USERS
from .graph_query import Result

USER_TYPE = state_module.ENTITY_TYPES["user"]["odata_type"]
OBJECT_TYPES = {"user": USER_TYPE, "group": state_module.ENTITY_TYPES["group"]["odata_type"], "directoryRole": "#microsoft.graph.directoryRole",
                "servicePrincipal": "#microsoft.graph.servicePrincipal"}
DIRECTORY_ROLE_PROPERTIES = ("id", "deletedDateTime", "description", "displayName", "roleTemplateId")
# The service principal properties the sandbox models (its apps' service principals, as role members).
SERVICE_PRINCIPAL_PROPERTIES = ("id", "appId", "displayName")
# "$expand on relationships of directory objects: Returns a maximum of 20 objects" (Graph's known issue 13635).
EXPANDED_MEMBERS = 20
# UNCONFIRMED wording: the refusal of $filter on a relationship, or of a cast on a transitive list, without advanced mode.
ADVANCED_RELATIONSHIP_MESSAGE = ("This query needs advanced query capabilities: add the ConsistencyLevel: eventual header and $count=true. "
                                 "Refer to https://aka.ms/graph-docs/advanced-queries for more information")


class GraphResponses(ApplicationResponses):
    """The handlers of the Graph routes, over a runtime (its tenant)."""

    def __init__(self, runtime):
        self.rt = runtime

    @property
    def tenant(self):
        return self.rt.tenant

    # ----------------------------------------------------------------------------------------------------------
    # Projection

    def user_value(self, data, name):
        if name == "passwordProfile" or name in state_module.USER_SINGLE_ONLY:
            return None
        if name == "identities":
            initial = next((n for n, d in self.tenant.domains.items() if d["isInitial"]), state_module.INITIAL_DOMAIN)
            return [{"signInType": "userPrincipalName", "issuer": initial, "issuerAssignedId": data.get("userPrincipalName")}]
        if name == "securityIdentifier":
            raw = uuid.UUID(data["id"]).bytes_le
            return "S-1-12-1-" + "-".join(str(int.from_bytes(raw[i:i + 4], "little")) for i in range(0, 16, 4))
        if name in data:
            value = data[name]
        elif name in state_module.USER_UNMODELLED:
            value = state_module.USER_UNMODELLED[name]
        else:
            value = None
        if value is None and name in state_module.COLLECTION_PROPERTIES:
            value = []
        return json.loads(json.dumps(value))

    def project_user(self, data, select, expand=None, prefix=None):
        """A user's properties (``select`` or the default set), and the relationship ``expand`` names (see ``_expand``)."""
        out = dict(prefix or {})
        for name in (select or state_module.USER_DEFAULT_SELECT):
            out[name] = self.user_value(data, name)
        if expand is not None and expand[0] == "manager":
            manager = None
            manager_id = data.get("_managerId")
            if manager_id:
                try:
                    manager = self.tenant.get_user(manager_id)
                except GraphError:
                    manager = None
            out["manager"] = self.project_user(manager, expand[1], prefix={"@odata.type": USER_TYPE}) if manager else None
        elif expand is not None:
            extensions = [state_module.extension_view(item) for item in data.get("_extensions") or []]
            if expand[1] is not None:
                extensions = [item for item in extensions if state_module.extension_matches(item["extensionName"], expand[1])]
            out["extensions"] = extensions
        return out

    def _user_entity(self, data, select=None, context="users", expand=None, first_id=False):
        body = {"@odata.context": "%s%s%s/$entity" % (query.METADATA, context, query.context_select(select))}
        if first_id and not select:
            body["id"] = data["id"]
        body.update(self.project_user(data, select, expand))
        return body

    def _user_collection(self, call, items, context, default_select=None):
        options = call.options()
        for name in options:
            if name not in ("$select", "$filter", "$top", "$orderby", "$count", "$search", "$expand", "$skiptoken"):
                raise bad_request("'%s' is not supported by the service." % name)
        eventual, advanced = query.advanced(call)
        select = query.user_select(call, collection=True)
        expand = query.parse_expand(call)
        node = query.parse_filter(options.get("$filter"), "user", advanced, call)
        search = query.parse_search(call, eventual)
        order = query.parse_orderby(call, advanced, node is not None)
        top = query.parse_top(call) or 100
        if expand is not None:
            # "$expand on directory objects: Returns a maximum of 100 objects" a page, whatever $top says (Graph's known issue
            # 13635); the rest follows through @odata.nextLink.
            top = min(top, query.EXPAND_PAGE_SIZE)
        offset = query.skip_offset(call)
        if node is not None:
            items = [item for item in items if query.matches(node, item)]
        if search is not None:
            items = [item for item in items if query.search_matches(search, item)]
        if order is not None:
            name, descending = order
            present = [item for item in items if item.get(name) is not None]
            missing = [item for item in items if item.get(name) is None]
            present.sort(key=lambda item: str(item.get(name)).lower(), reverse=descending)
            items = (missing + present) if not descending else (present + missing)
        body = {"@odata.context": "%s%s%s" % (query.METADATA, context, query.context_select(select))}
        if advanced and offset == 0:
            body["@odata.count"] = len(items)
        page = items[offset:offset + top]
        if offset + top < len(items):
            body["@odata.nextLink"] = query.next_link(call, offset + top)
        body["value"] = [self.project_user(item, select or default_select, expand) for item in page]
        return Result(200, body)

    def _count(self, call, items):
        eventual, _ = query.advanced(call)
        if not eventual:
            raise bad_request("$count is not currently supported.")
        options = call.options()
        node = query.parse_filter(options.get("$filter"), "user", True, call)
        search = query.parse_search(call, eventual)
        if node is not None:
            items = [item for item in items if query.matches(node, item)]
        if search is not None:
            items = [item for item in items if query.search_matches(search, item)]
        return Result(200, str(len(items)))

    # ----------------------------------------------------------------------------------------------------------
    # Users

    def list_users(self, call):
        return self._user_collection(call, self.tenant.list_users(), "users")

    def count_users(self, call):
        return self._count(call, self.tenant.list_users())

    def create_user(self, call):
        data = self.tenant.create_user(call.json())
        body = self._user_entity(data, first_id=True)
        location = "%s/v2/%s/directoryObjects/%s/Microsoft.DirectoryServices.User" % (call.base_url, self.tenant.tenant_id, data["id"])
        return Result(201, body, {"Location": location})

    def get_user(self, call, key):
        select = query.user_select(call, collection=False)
        expand = query.parse_expand(call)
        return Result(200, self._user_entity(self.tenant.get_user(key), select, expand=expand))

    def update_user(self, call, key):
        body = call.json()
        if isinstance(body, dict):
            self.tenant.check_sensitive_action(key, call.app_id, properties=list(body))  # users holding admin roles
        self.tenant.update_user(key, body)
        return Result(204)

    def delete_user(self, call, key):
        self.tenant.check_sensitive_action(key, call.app_id)  # users holding admin roles
        self.tenant.delete_user(key)
        return Result(204)

    def get_manager(self, call, key):
        select = query.user_select(call, collection=False)
        manager = self.tenant.get_manager(key)
        body = {"@odata.context": query.METADATA + "directoryObjects%s/$entity" % query.context_select(select), "@odata.type": USER_TYPE}
        body.update(self.project_user(manager, select))
        return Result(200, body)

    def set_manager(self, call, key):
        body = call.json()
        reference = body.get("@odata.id") if isinstance(body, dict) else None
        if not isinstance(reference, str) or not reference.strip():
            # UNCONFIRMED wording.
            raise bad_request("The value of the @odata.id property is not a valid reference.", code="BadRequest")
        path = urlsplit(reference).path.rstrip("/")
        match = re.search(r"/(?:users|directoryObjects)/([^/]+)$", path, re.IGNORECASE) or re.search(r"\(\s*'?([^')]+)'?\s*\)$", path)
        if not match:
            raise bad_request("The value of the @odata.id property is not a valid reference.", code="BadRequest")
        self.tenant.set_manager(key, unquote_plus(match.group(1)))
        return Result(204)

    def remove_manager(self, call, key):
        self.tenant.remove_manager(key)
        return Result(204)

    # ----------------------------------------------------------------------------------------------------------
    # Open extensions (openTypeExtension on users)

    @staticmethod
    def _extension_context(data):
        return "%susers('%s')/extensions" % (query.METADATA, data["id"])

    def list_extensions(self, call, key):
        query.only_options(call, ())
        data = self.tenant.get_user(key)
        return Result(200, {"@odata.context": self._extension_context(data), "value": self.tenant.list_extensions(key)})

    def get_extension(self, call, key, extension_id):
        query.only_options(call, ())
        data = self.tenant.get_user(key)
        body = {"@odata.context": self._extension_context(data) + "/$entity"}
        body.update(self.tenant.get_extension(key, extension_id))
        return Result(200, body)

    def create_extension(self, call, key):
        """201 with the extension; its id is its name (extensibility-open-users)."""
        data = self.tenant.get_user(key)
        body = {"@odata.context": self._extension_context(data) + "/$entity"}
        body.update(self.tenant.create_extension(key, call.json(), app_id=call.app_id))
        return Result(201, body)

    def update_extension(self, call, key, extension_id):
        """204 on a user (extensibility-open-users; the generic update docs' 200 with a body is for Outlook items)."""
        self.tenant.update_extension(key, extension_id, call.json())
        return Result(204)

    def delete_extension(self, call, key, extension_id):
        self.tenant.delete_extension(key, extension_id)
        return Result(204)

    def assign_license(self, call, key):
        body = call.json()
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
        data = self.tenant.assign_license(key, body.get("addLicenses", []) or [], body.get("removeLicenses", []) or [])
        return Result(200, self._user_entity(data))

    def revoke_sign_in_sessions(self, call, key):
        """user-revokesigninsessions docs: no body needed; 200 with an Edm.Boolean."""
        self.tenant.revoke_sign_in_sessions(key)
        return Result(200, {"@odata.context": query.METADATA + "Edm.Boolean", "value": True})

    # ----------------------------------------------------------------------------------------------------------
    # A person's ways in (access.py)

    def list_auth_methods(self, call, key):
        items = access.list_methods(self.tenant, key)
        return Result(200, {"@odata.context": query.METADATA + "users('%s')/authentication/methods" % key, "value": items})

    def delete_auth_method(self, call, key, method_id):
        segment = call.path.strip("/").split("/")[3]
        access.delete_method(self.tenant, key, segment, method_id)
        return Result(204)

    def list_message_rules(self, call, key):
        items = access.list_rules(self.tenant, key)
        return Result(200, {"@odata.context": query.METADATA + "users('%s')/mailFolders('inbox')/messageRules" % key, "value": items})

    def update_message_rule(self, call, key, rule_id):
        rule = access.update_rule(self.tenant, key, rule_id, call.json())
        return Result(200, dict({"@odata.context": query.METADATA + "users('%s')/mailFolders('inbox')/messageRules/$entity" % key}, **rule))

    def send_mail(self, call, key):
        """user-sendmail docs: 202 Accepted, no body. The message is kept in the tenant's outbox (mail.py)."""
        mail.send_mail(self.tenant, key, call.json(), app_id=call.app_id)
        return Result(202)

    # ----------------------------------------------------------------------------------------------------------
    # Deleted items

    def _deleted_default(self):
        # UNCONFIRMED: the default property set of deleted users; the user default set plus deletedDateTime.
        return list(state_module.USER_DEFAULT_SELECT) + ["deletedDateTime"]

    def list_deleted_untyped(self, call):
        """GET /directory/deletedItems without a type cast: Graph refuses the list (microsoft-graph-docs issues 10080 and
        10280 quote the answer; directory-deleteditems-list: the cast is a required part of the URI)."""
        raise GraphError(400, "Request_UnsupportedQuery", "Searches against this resource are not supported. Only specific instances can be "
                                                          "queried.")

    def list_deleted(self, call):
        return self._user_collection(call, self.tenant.list_deleted_users(), "users", default_select=self._deleted_default())

    def count_deleted(self, call):
        return self._count(call, self.tenant.list_deleted_users())

    def get_deleted(self, call, object_id):
        select = query.user_select(call, collection=False)
        data = self.tenant.get_deleted(object_id)
        body = {"@odata.context": query.METADATA + "directory/deletedItems%s/$entity" % query.context_select(select),
                "@odata.type": USER_TYPE}
        body.update(self.project_user(data, select or self._deleted_default()))
        return Result(200, body)

    def restore_deleted(self, call, object_id):
        data = self.tenant.restore_deleted(object_id)
        body = {"@odata.context": query.METADATA + "directoryObjects/$entity", "@odata.type": USER_TYPE}
        body.update(self.project_user(data, None))
        return Result(200, body)

    def purge_deleted(self, call, object_id):
        self.tenant.purge_deleted(object_id)
        return Result(204)

    # ----------------------------------------------------------------------------------------------------------
    # Licences and domains

    def list_skus(self, call):
        options = call.options()
        if "$filter" in options:
            # UNCONFIRMED wording: the query-option validator of an ASP.NET OData service.
            raise bad_request("The query specified in the URI is not valid. Query option 'Filter' is not allowed. To allow it, set the "
                              "'AllowedQueryOptions' property on EnableQueryAttribute or QueryValidationSettings.", code="BadRequest")
        select = query.parse_select(options.get("$select"), state_module.SKU_PROPERTIES, "microsoft.graph.subscribedSku", collection=True)
        skus = self.tenant.list_skus()
        value = [{name: sku[name] for name in select} if select else sku for sku in skus]
        return Result(200, {"@odata.context": "%ssubscribedSkus%s" % (query.METADATA, query.context_select(select)), "value": value})

    def list_domains(self, call):
        options = call.options()
        select = query.parse_select(options.get("$select"), state_module.DOMAIN_PROPERTIES, "microsoft.graph.domain", collection=True)
        domains = self.tenant.list_domains()
        node = query.parse_filter(options.get("$filter"), "domain", False, call)
        if node is not None:
            domains = [domain for domain in domains if query.matches(node, domain)]
        value = [{name: domain[name] for name in select} if select else domain for domain in domains]
        return Result(200, {"@odata.context": "%sdomains%s" % (query.METADATA, query.context_select(select)), "value": value})

    def get_domain(self, call, name):
        select = query.parse_select(call.options().get("$select"), state_module.DOMAIN_PROPERTIES, "microsoft.graph.domain", collection=False)
        domain = self.tenant.get_domain(name)
        body = {"@odata.context": "%sdomains%s/$entity" % (query.METADATA, query.context_select(select))}
        body.update({key: domain[key] for key in select} if select else domain)
        return Result(200, body)

    # ----------------------------------------------------------------------------------------------------------
    # Directory roles (roleManagement/directory: rbacapplication and unifiedRoleAssignment docs)

    def _role_options(self, call, allowed):
        for name in call.options():
            if name not in allowed:
                # UNCONFIRMED wording; also what the sandbox answers for options it does not emulate here.
                raise bad_request("'%s' is not supported by the service." % name)

    def list_role_definitions(self, call):
        self._role_options(call, ("$select",))
        select = query.parse_select(call.options().get("$select"), state_module.ROLE_DEFINITION_PROPERTIES, "microsoft.graph.unifiedRoleDefinition")
        value = [{name: item[name] for name in select} if select else item for item in self.tenant.list_role_definitions()]
        return Result(200, {"@odata.context": "%sroleManagement/directory/roleDefinitions%s" % (query.METADATA, query.context_select(select)),
                            "value": value})

    def get_role_definition(self, call, key):
        self._role_options(call, ("$select",))
        select = query.parse_select(call.options().get("$select"), state_module.ROLE_DEFINITION_PROPERTIES, "microsoft.graph.unifiedRoleDefinition",
                                    collection=False)
        item = self.tenant.get_role_definition(key)
        body = {"@odata.context": "%sroleManagement/directory/roleDefinitions%s/$entity" % (query.METADATA, query.context_select(select))}
        body.update({name: item[name] for name in select} if select else item)
        return Result(200, body)

    @staticmethod
    def _role_assignment_view(assignment, select=None):
        # Key order of the list docs' example.
        full = {"id": assignment["id"], "principalId": assignment["principalId"], "resourceScope": assignment["directoryScopeId"],
                "directoryScopeId": assignment["directoryScopeId"], "roleDefinitionId": assignment["roleDefinitionId"]}
        return {name: full[name] for name in select} if select else full

    def list_role_assignments(self, call):
        self._role_options(call, ("$select", "$filter"))
        options = call.options()
        select = query.parse_select(options.get("$select"), state_module.ROLE_ASSIGNMENT_PROPERTIES, "microsoft.graph.unifiedRoleAssignment")
        node = query.parse_filter(options.get("$filter"), "roleAssignment", False, call)
        items = self.tenant.list_role_assignments()
        if node is not None:
            items = [item for item in items if query.matches(node, item)]
        return Result(200, {"@odata.context": "%sroleManagement/directory/roleAssignments%s" % (query.METADATA, query.context_select(select)),
                            "value": [self._role_assignment_view(item, select) for item in items]})

    def get_role_assignment(self, call, assignment_id):
        self._role_options(call, ("$select",))
        select = query.parse_select(call.options().get("$select"), state_module.ROLE_ASSIGNMENT_PROPERTIES, "microsoft.graph.unifiedRoleAssignment",
                                    collection=False)
        body = {"@odata.context": "%sroleManagement/directory/roleAssignments%s/$entity" % (query.METADATA, query.context_select(select))}
        body.update(self._role_assignment_view(self.tenant.get_role_assignment(assignment_id), select))
        return Result(200, body)

    def create_role_assignment(self, call):
        body = call.json()
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
        for name, value in body.items():
            if name.startswith("@odata."):
                continue
            if name not in ("principalId", "roleDefinitionId", "directoryScopeId", "appScopeId"):
                raise bad_request("The property '%s' does not exist on type 'microsoft.graph.unifiedRoleAssignment'. Make sure to only use "
                                  "property names that are defined by the type or mark the type as open type." % name, code="BadRequest")
            if value is not None and not isinstance(value, str):
                raise bad_request("Cannot convert the literal '%s' to the expected type 'Edm.String'." % value, code="BadRequest")
        # UNCONFIRMED wording. Only the tenant-wide scope "/" is emulated (no administrative units, no app scopes).
        if body.get("appScopeId"):
            raise state_module.invalid_property("appScopeId", "UnifiedRoleAssignment")
        for name in ("principalId", "roleDefinitionId", "directoryScopeId"):
            if not body.get(name) or (name == "directoryScopeId" and body[name] != "/"):
                raise state_module.invalid_property(name, "UnifiedRoleAssignment")
        assignment = self.tenant.create_role_assignment(body["principalId"], body["roleDefinitionId"], body["directoryScopeId"])
        entity = {"@odata.context": query.METADATA + "roleManagement/directory/roleAssignments/$entity", "id": assignment["id"],
                  "roleDefinitionId": assignment["roleDefinitionId"], "principalId": assignment["principalId"],
                  "directoryScopeId": assignment["directoryScopeId"]}
        return Result(201, entity)

    def delete_role_assignment(self, call, assignment_id):
        self.tenant.delete_role_assignment(assignment_id)
        return Result(204)

    # ----------------------------------------------------------------------------------------------------------
    # Activated directory roles (directoryrole-list, directoryrole-get, directoryrole-list-members). The list has no paging
    # (reference 1.3); $expand=members shows at most 20 members a role, as Graph's known issue 13635 says of $expand on
    # directory objects.

    def _directory_role_view(self, call, role, select, expand):
        out = {name: role.get(name) for name in (select or DIRECTORY_ROLE_PROPERTIES)}
        if expand:
            members = self.tenant.directory_role_members(role["id"])[:EXPANDED_MEMBERS]
            out["members"] = [self._object_view(call, entity, data, None) for entity, data in members]
        return out

    @staticmethod
    def _directory_role_options(call, collection):
        query.only_options(call, ("$select", "$expand"))
        options = call.options()
        select = query.parse_select(options.get("$select"), DIRECTORY_ROLE_PROPERTIES, "microsoft.graph.directoryRole", collection=collection)
        text = options.get("$expand")
        if text is not None and text.strip().lower() != "members":
            # UNCONFIRMED wording; members is the only relationship the sandbox expands on directory roles.
            raise bad_request("Could not find a property named '%s' on type 'microsoft.graph.directoryRole'." % text.strip())
        return select, text is not None

    def list_directory_roles(self, call):
        select, expand = self._directory_role_options(call, collection=True)
        value = [self._directory_role_view(call, role, select, expand) for role in self.tenant.list_directory_roles()]
        return Result(200, {"@odata.context": "%sdirectoryRoles%s" % (query.METADATA, query.context_select(select)), "value": value})

    def get_directory_role(self, call, key):
        select, expand = self._directory_role_options(call, collection=False)
        body = {"@odata.context": "%sdirectoryRoles%s/$entity" % (query.METADATA, query.context_select(select))}
        body.update(self._directory_role_view(call, self.tenant.get_directory_role(key), select, expand))
        return Result(200, body)

    def list_directory_role_members(self, call, key):
        return self._relationship(call, self.tenant.directory_role_members(key))

    # ----------------------------------------------------------------------------------------------------------
    # Groups and membership (group-list, group-get, group-list-members, group-list-transitivemembers, group-post-members,
    # group-delete-members, user-list-memberof; reference 6)

    @staticmethod
    def project_group(data, select=None):
        out = {}
        for name in select or state_module.GROUP_DEFAULT_SELECT:
            value = data.get(name)
            if value is None and name in ("groupTypes", "proxyAddresses"):
                value = []
            out[name] = json.loads(json.dumps(value))
        return out

    def _group_select(self, call, collection=True):
        return query.parse_select(call.options().get("$select"), state_module.GROUP_PROPERTIES, "microsoft.graph.group", collection=collection)

    def list_groups(self, call):
        query.only_options(call, ("$select", "$filter", "$top", "$count", "$skiptoken"))
        options = call.options()
        _, advanced = query.advanced(call)
        select = self._group_select(call)
        node = query.parse_filter(options.get("$filter"), "group", advanced, call)
        items = self.tenant.list_groups()
        if node is not None:
            items = [item for item in items if query.matches(node, item)]
        page, extra = query.page(call, items, advanced)
        body = {"@odata.context": "%sgroups%s" % (query.METADATA, query.context_select(select))}
        body.update(extra)
        body["value"] = [self.project_group(item, select) for item in page]
        return Result(200, body)

    def get_group(self, call, key):
        query.only_options(call, ("$select",))
        select = self._group_select(call, collection=False)
        body = {"@odata.context": "%sgroups%s/$entity" % (query.METADATA, query.context_select(select))}
        body.update(self.project_group(self.tenant.get_group(key), select))
        return Result(200, body)

    def _object_view(self, call, entity, data, select):
        """A directory object in a relationship list: @odata.type, then its properties (those of ``select`` its type has).
        Without a permission to read objects of its type, Graph returns the type and id only, other properties null."""
        if entity == "user":
            names = ([n for n in select if n in state_module.USER_SCHEMA or n in state_module.USER_UNMODELLED] or ["id"]) if select else None
            body = self.project_user(data, names)
            visible = auth.has_any_role(call.claims, SEE_USERS)
        elif entity == "group":
            names = ([n for n in select if n in state_module.GROUP_PROPERTIES] or ["id"]) if select else None
            body = self.project_group(data, names)
            visible = auth.has_any_role(call.claims, SEE_GROUPS)
        elif entity == "servicePrincipal":
            names = ([n for n in select if n in SERVICE_PRINCIPAL_PROPERTIES] or ["id"]) if select else SERVICE_PRINCIPAL_PROPERTIES
            body = {name: data.get(name) for name in names}
            visible = auth.has_any_role(call.claims, SEE_SERVICE_PRINCIPALS)
        else:
            names = ([n for n in select if n in DIRECTORY_ROLE_PROPERTIES] or ["id"]) if select else DIRECTORY_ROLE_PROPERTIES
            body = {name: data.get(name) for name in names}
            visible = auth.has_any_role(call.claims, READ_ROLE_MANAGEMENT)
        if not visible:
            body = {name: (data.get("id") if name == "id" else None) for name in body}
            body["id"] = data.get("id")
        out = {"@odata.type": OBJECT_TYPES[entity]}
        out.update(body)
        return out

    def _relationship(self, call, objects, cast=None, transitive=False):
        """A directoryObject collection (members, transitiveMembers, memberOf), optionally cast to one type."""
        query.only_options(call, ("$select", "$filter", "$top", "$count", "$skiptoken"))
        options = call.options()
        _, advanced = query.advanced(call)
        if not advanced and ((cast and transitive) or "$filter" in options):
            # Reference 1.2 and 6.3: $filter on these lists, and OData casts on transitive lists, are advanced queries.
            raise GraphError(400, "Request_UnsupportedQuery", ADVANCED_RELATIONSHIP_MESSAGE)
        if cast:
            objects = [(entity, data) for entity, data in objects if entity == cast]
        if cast == "user":
            properties = list(state_module.USER_SCHEMA) + list(state_module.USER_UNMODELLED)
            select = query.parse_select(options.get("$select"), properties, "microsoft.graph.user", state_module.USER_SINGLE_ONLY)
        elif cast == "group":
            select = self._group_select(call)
        else:
            properties = list(state_module.USER_SCHEMA) + list(state_module.USER_UNMODELLED) + list(state_module.GROUP_PROPERTIES)
            properties += [name for name in DIRECTORY_ROLE_PROPERTIES if name not in properties]
            select = query.parse_select(options.get("$select"), properties, "microsoft.graph.directoryObject", state_module.USER_SINGLE_ONLY)
        text = options.get("$filter")
        if text is not None:
            try:
                node = query.parse_filter(text, cast or "user", True, call)
            except GraphError:
                if cast:
                    raise
                node = query.parse_filter(text, "group", True, call)
            objects = [(entity, data) for entity, data in objects if query.matches(node, data)]
        page, extra = query.page(call, objects, advanced)
        context = {"user": "users", "group": "groups"}.get(cast, "directoryObjects")
        body = {"@odata.context": "%s%s%s" % (query.METADATA, context, query.context_select(select))}
        body.update(extra)
        body["value"] = [self._object_view(call, entity, data, select) for entity, data in page]
        return Result(200, body)

    def list_members(self, call, key):
        return self._relationship(call, self.tenant.group_members(key))

    def list_user_members(self, call, key):
        return self._relationship(call, self.tenant.group_members(key), cast="user")

    def list_group_members(self, call, key):
        return self._relationship(call, self.tenant.group_members(key), cast="group")

    def list_transitive_members(self, call, key):
        return self._relationship(call, self.tenant.transitive_members(key), transitive=True)

    def list_transitive_user_members(self, call, key):
        return self._relationship(call, self.tenant.transitive_members(key), cast="user", transitive=True)

    def list_member_of(self, call, key):
        return self._relationship(call, self.tenant.member_of(key))

    def list_member_of_groups(self, call, key):
        return self._relationship(call, self.tenant.member_of(key), cast="group")

    def add_member(self, call, key):
        """group-post-members: {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/{id}"}; 204."""
        body = call.json()
        reference = body.get("@odata.id") if isinstance(body, dict) else None
        invalid = bad_request("The value of the @odata.id property is not a valid reference.", code="BadRequest")  # UNCONFIRMED wording
        if not isinstance(reference, str) or not reference.strip():
            raise invalid
        match = re.search(r"/(?:directoryObjects|users|groups)/([^/?]+)$", urlsplit(reference.strip()).path.rstrip("/"), re.IGNORECASE)
        if not match:
            raise invalid
        self._check_role_assignable(call, key)
        self.tenant.add_group_member(key, unquote_plus(match.group(1)))
        return Result(204)

    def _check_role_assignable(self, call, key):
        """group-post-members and group-delete-members: a role-assignable group's members change only with
        RoleManagement.ReadWrite.Directory as well (the docs' note on role-assignable groups)."""
        group = self.tenant.get_group(key)
        if group.get("isAssignableToRole") and not auth.has_any_role(call.claims, ("RoleManagement.ReadWrite.Directory",)):
            raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

    def remove_member(self, call, key, member_id):
        """group-delete-members: DELETE /groups/{id}/members/{id}/$ref; 204."""
        self._check_role_assignable(call, key)
        self.tenant.remove_group_member(key, member_id)
        return Result(204)
