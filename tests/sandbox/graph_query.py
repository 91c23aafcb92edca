"""Microsoft Graph calls and their OData query options ($select, $expand, $filter, $top, $orderby, $search, $count, $skiptoken).

``Call`` is one request (over HTTP or a $batch item) and ``Result`` its answer before it is rendered. The functions here read a
call's query options the way Graph does (advanced queries, page sizes, skip tokens) and raise ``GraphError`` with Graph's
answers; the responses (graph_responses.py) build bodies with them.
"""

import base64
import json
import re
import uuid
from urllib.parse import unquote_plus

from . import odata
from . import state as state_module
from .errors import GraphError, bad_request, error_body, throttled_body

METADATA = "https://graph.microsoft.com/v1.0/$metadata#"
JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
ORDERABLE = {"displayName": False, "userPrincipalName": False, "createdDateTime": True, "deletedDateTime": True}  # name: advanced only
SEARCHABLE = ("displayName", "givenName", "surname", "mail", "mailNickname", "userPrincipalName", "jobTitle", "department")
SKIPTOKEN_PREFIX = "RFNwdAIAAQAAA"  # opaque to clients, like Graph's
EXPAND_PAGE_SIZE = 100  # the page size of a directory list with $expand, whatever $top says (Graph's known issue 13635)
# $filter: at most 15 child clauses under an OR, and 15 values in an `in`, outside advanced queries; with them, a request URL
# of at most 2,048 characters instead (known issue 13635, filter-query-parameter docs; microsoft-graph-docs issue 21098 and
# its PR 22097). The answer is the directory's own (issue 21098 quotes it for 16 values in an `in`).
MAX_OR_CLAUSES = 15
MAX_ADVANCED_URL = 2048
TOO_MANY_CLAUSES = "Too many child clauses specified in search filter expression containing 'OR' operators: %d. Max allowed: %d."


class Call:
    """One Graph request (HTTP or $batch item)."""

    def __init__(self, method, path, raw_query, headers, body, base_url, claims, request_id=None, batch=None):
        self.method = method.upper()
        self.path = "/" + path.strip("/")
        self.raw_query = raw_query or ""
        self.headers = {key.lower(): value for key, value in (headers or {}).items()}
        self.body = body or b""
        self.base_url = base_url
        self.claims = claims or {}
        self.request_id = request_id or str(uuid.uuid4())
        self.client_request_id = self.headers.get("client-request-id") or self.request_id
        self.batch = batch
        self.log_seq = None
        self._json = None
        self._options = None

    @property
    def app_id(self):
        return self.claims.get("appid")

    @property
    def is_write(self):
        return self.method not in ("GET", "HEAD", "OPTIONS")

    @property
    def graph_url(self):
        """The request's URL as it would be on Graph itself (for Graph's URL length limits)."""
        return "https://graph.microsoft.com/v1.0%s%s" % (self.path, "?" + self.raw_query if self.raw_query else "")

    def header(self, name):
        return self.headers.get(name.lower(), "")

    def json(self, required=True):
        if self._json is None:
            if not self.body.strip():
                if not required:
                    return None
                raise bad_request("Empty Payload. JSON content expected.", code="BadRequest")
            try:
                self._json = json.loads(self.body)
            except (ValueError, UnicodeDecodeError):
                raise bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid "
                                  "JSON format.", code="BadRequest")
        return self._json

    def body_keys(self):
        try:
            body = json.loads(self.body) if self.body.strip() else None
        except (ValueError, UnicodeDecodeError):
            return []
        return list(body) if isinstance(body, dict) else []

    def options(self):
        """System query options ($name, lower case) -> decoded value; repeated options are refused as OData does."""
        if self._options is None:
            options = {}
            for part in self.raw_query.split("&"):
                if not part:
                    continue
                key, _, value = part.partition("=")
                key = unquote_plus(key).strip().lower()
                if not key.startswith("$"):
                    continue
                if key in options:
                    raise bad_request("Query option '%s' was specified more than once, but it must be specified at most once." % key,
                                      code="BadRequest")
                options[key] = unquote_plus(value)
            self._options = options
        return self._options


class Result:
    """A Graph answer before it is rendered (as HTTP or as a $batch item)."""

    def __init__(self, status, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def error_result(call, exc):
    headers = dict(exc.headers)
    if exc.status == 429:
        return Result(429, throttled_body(call.request_id, call.client_request_id), headers)
    return Result(exc.status, error_body(exc.code, exc.message, call.request_id, call.client_request_id, exc.details), headers)


def odata_error(exc):
    return GraphError(exc.status, exc.code, exc.message)


def context_select(select):
    return "(%s)" % ",".join(select) if select else ""


def advanced(call):
    eventual = call.header("consistencylevel").strip().lower() == "eventual"
    return eventual, eventual and count_option(call)


def count_option(call):
    value = call.options().get("$count")
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise bad_request("'%s' is not a valid count option." % value, code="BadRequest")
    return value.lower() == "true"


def parse_select(text, properties, type_name, single_only=(), collection=True):
    """Validated $select list (canonical names) or None for the default set."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        return None
    lookup = {name.lower(): name for name in list(properties) + list(single_only)}
    out = []
    for name in names:
        if name == "*":
            out.extend(name for name in properties if name not in out)
            continue
        canonical = lookup.get(name.lower())
        if canonical is None:
            raise bad_request("Could not find a property named '%s' on type '%s'." % (name, type_name))
        if collection and canonical in single_only:
            # UNCONFIRMED wording; the user list docs give the status (501).
            raise GraphError(501, "NotImplemented", "This operation target is not yet supported.")
        if canonical not in out:
            out.append(canonical)
    return out


def user_select(call, collection):
    properties = list(state_module.USER_SCHEMA) + list(state_module.USER_UNMODELLED)
    return parse_select(call.options().get("$select"), properties, "microsoft.graph.user", state_module.USER_SINGLE_ONLY, collection)


def parse_expand(call):
    """$expand on users: None, ("manager", its $select list ([] for the default set)) for manager or manager($select=a,b),
    or ("extensions", an extension id or None) for extensions or extensions($filter=id eq '<name>') (opentypeextension-get docs)."""
    text = call.options().get("$expand")
    if not text:
        return None
    match = re.match(r"^\s*(\w+)\s*(?:\((.*)\))?\s*$", text)
    if not match:
        raise bad_request("Syntax error at position %d in '%s'." % (len(text), text), code="BadRequest")
    name, inner = match.group(1), match.group(2)
    if name.lower() == "extensions":
        if inner is None:
            return ("extensions", None)
        wanted = re.match(r"^\s*\$filter\s*=\s*id\s+eq\s+'((?:[^']|'')*)'\s*$", inner, re.IGNORECASE)
        if not wanted:
            # UNCONFIRMED wording; the sandbox emulates only the documented $filter=id eq '...' inside this $expand.
            raise bad_request("The query specified in the URI is not valid: only $filter=id eq '<extension id>' is supported inside "
                              "$expand=extensions.", code="BadRequest")
        return ("extensions", wanted.group(1).replace("''", "'"))
    if name.lower() != "manager":
        if name in state_module.USER_SCHEMA or name in state_module.USER_UNMODELLED:
            raise bad_request("Property '%s' on type 'microsoft.graph.user' is not a navigation property or complex property. Only "
                              "navigation properties can be expanded." % name, code="BadRequest")
        raise bad_request("Could not find a property named '%s' on type 'microsoft.graph.user'." % name)
    if inner is None:
        return ("manager", [])
    select = re.match(r"^\s*\$select\s*=\s*([^)]*)$", inner)
    if not select:
        raise bad_request("Syntax error at position %d in '%s'." % (len(text), text), code="BadRequest")
    properties = list(state_module.USER_SCHEMA) + list(state_module.USER_UNMODELLED)
    return ("manager", parse_select(select.group(1), properties, "microsoft.graph.user", state_module.USER_SINGLE_ONLY) or [])


def parse_filter(text, entity, advanced, call=None):
    """The parsed $filter (or None); the 400s of odata.py, including the advanced-query one, and the limit on OR clauses
    and `in` values (MAX_OR_CLAUSES; in advanced queries the URL length of ``call`` instead)."""
    if text is None:
        return None
    try:
        node = odata.parse_filter(text)
        if not advanced:
            message = odata.needs_advanced(node, entity)
            if message:
                raise GraphError(400, "Request_UnsupportedQuery", message)
        odata.check_properties(node, entity)
    except odata.ODataError as exc:
        raise odata_error(exc)
    clauses = odata.or_clause_count(node)
    if clauses > MAX_OR_CLAUSES:
        if not advanced:
            raise GraphError(400, "Request_UnsupportedQuery", TOO_MANY_CLAUSES % (clauses, MAX_OR_CLAUSES))
        if call is not None and len(call.graph_url) > MAX_ADVANCED_URL:
            # UNCONFIRMED wording; the limit (2,048 characters of URL in advanced queries) is documented.
            raise GraphError(400, "Request_UnsupportedQuery", "The request URL is longer than %d characters; split the filter into smaller "
                                                              "requests." % MAX_ADVANCED_URL)
    return node


def matches(node, obj):
    return odata.evaluate(node, obj)


def parse_top(call, maximum=999):
    text = call.options().get("$top")
    if text is None:
        return None
    if not re.match(r"^\s*-?\d+\s*$", text):
        raise bad_request("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer "
                          "value." % text, code="BadRequest")
    value = int(text)
    if value < 0:
        raise bad_request("Invalid value '%s' for $top query option found. The $top query option requires a non-negative integer "
                          "value." % text, code="BadRequest")
    if not 1 <= value <= maximum:
        raise bad_request("Invalid page size specified: '%d'. Must be between 1 and %d inclusive." % (value, maximum))
    return value


def parse_orderby(call, advanced, has_filter):
    text = call.options().get("$orderby")
    if text is None:
        return None
    clauses = [clause.strip() for clause in text.split(",") if clause.strip()]
    unsupported = GraphError(400, "Request_UnsupportedQuery", "Sorting not supported for current query.")
    if len(clauses) != 1:
        raise unsupported
    parts = clauses[0].split()
    if len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
        raise bad_request("Syntax error at position %d in '%s'." % (len(text), text), code="BadRequest")
    lookup = {name.lower(): name for name in list(state_module.USER_SCHEMA) + list(state_module.USER_UNMODELLED)}
    name = lookup.get(parts[0].lower())
    if name is None:
        raise bad_request("Could not find a property named '%s' on type 'microsoft.graph.user'." % parts[0])
    if name not in ORDERABLE or (ORDERABLE[name] and not advanced) or (has_filter and not advanced):
        raise unsupported
    return name, len(parts) == 2 and parts[1].lower() == "desc"


def parse_search(call, eventual):
    text = call.options().get("$search")
    if text is None:
        return None
    if not eventual:
        raise GraphError(400, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a "
                                                          "special request header: 'ConsistencyLevel: eventual'")
    clauses = re.findall(r'"([^":]+):([^"]*)"|\b(AND|OR)\b', text)
    terms, joins = [], []
    for prop, value, join in clauses:
        if join:
            joins.append(join)
        else:
            lookup = {name.lower(): name for name in SEARCHABLE}
            canonical = lookup.get(prop.strip().lower())
            if canonical is None:
                raise bad_request("Invalid search property '%s'." % prop.strip(), code="Request_UnsupportedQuery")
            terms.append((canonical, value.strip().lower()))
    if not terms:
        raise bad_request("Syntax error: character '%s' is not valid at position 0 in '%s'." % (text[:1], text), code="BadRequest")
    return terms, ("OR" if "OR" in joins else "AND")


def search_matches(search, obj):
    terms, join = search

    def hit(prop, term):
        value = obj.get(prop) or ""
        words = [word.lower() for word in re.split(r"[^0-9A-Za-z]+|(?<=[a-z])(?=[A-Z])", value) if word]
        return value.lower().startswith(term) or any(word.startswith(term) for word in words)

    results = [hit(prop, term) for prop, term in terms]
    return any(results) if join == "OR" else all(results)


def skip_offset(call):
    token = call.options().get("$skiptoken")
    if token is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(token[len(SKIPTOKEN_PREFIX):] + "=" * (-len(token[len(SKIPTOKEN_PREFIX):]) % 4)).decode()
        kind, offset = raw.split(":")
        if not token.startswith(SKIPTOKEN_PREFIX) or kind != "offset":
            raise ValueError(token)
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        # UNCONFIRMED wording.
        raise bad_request("The specified page token value has expired and can no longer be included in your request.")


def next_link(call, offset):
    token = SKIPTOKEN_PREFIX + base64.urlsafe_b64encode(("offset:%d" % offset).encode()).decode().rstrip("=")
    parts = [part for part in call.raw_query.split("&") if part and unquote_plus(part.partition("=")[0]).strip().lower() != "$skiptoken"]
    parts.append("$skiptoken=" + token)
    return "%s/v1.0%s?%s" % (call.base_url, call.path, "&".join(parts))


def page(call, items, advanced):
    """(page, extra body keys) for a collection: $top (default 100, at most 999), $skiptoken, @odata.count, nextLink."""
    top = parse_top(call) or 100
    offset = skip_offset(call)
    extra = {}
    if advanced and offset == 0:
        extra["@odata.count"] = len(items)
    if offset + top < len(items):
        extra["@odata.nextLink"] = next_link(call, offset + top)
    return items[offset:offset + top], extra


def only_options(call, allowed):
    for name in call.options():
        if name not in allowed:
            # UNCONFIRMED wording; also what the sandbox answers for options it does not emulate on these routes.
            raise bad_request("'%s' is not supported by the service." % name)
