"""OData v4 $filter engine for the Microsoft Graph subset the sandbox emulates.

Four steps, used by the Graph app on every request that carries $filter:

- ``parse_filter(text)`` turns the text into a tree of nodes (syntax errors raise ODataError 400 BadRequest
  "Invalid filter clause: ..." with the Microsoft.OData parser's wording and a 0-based position);
- ``check_properties(node, entity)`` rejects properties that cannot be filtered, operators a property does not
  support and mismatched types, as Graph does once the expression is bound to the entity type;
- ``needs_advanced(node, entity)`` says whether the expression is only allowed in advanced query mode
  (header ``ConsistencyLevel: eventual`` plus ``$count=true``) and returns the message of the 400 Graph answers
  without it;
- ``evaluate(node, obj)`` tests one stored object (a plain dict).

Which property supports which operator, and which ones need advanced mode, comes from the Graph documentation
(user and group resource pages and the advanced query capabilities page); ENTITIES holds it as plain dicts so
more entities can be added by adding entries.
"""

import datetime
import re
import uuid
from dataclasses import dataclass
from typing import Optional


class ODataError(Exception):
    """An error Graph reports with an HTTP status, an error code and a message."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __repr__(self):
        return "ODataError(%r, %r, %r)" % (self.status, self.code, self.message)


# ---------------------------------------------------------------------------------------------------------------
# Messages

ADVANCED_OPERATOR_MESSAGE = (
    "Operator '{op}' is not supported because the required parameters might be missing. Try adding $count=true "
    "query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
)
UNSUPPORTED_PROPERTY_MESSAGE = "Unsupported or invalid query filter clause specified for property '{prop}' of resource '{resource}'."
# Graph's answer to contains() on directory objects (reported by users in 2021; older answers differed).
UNSUPPORTED_FUNCTION_MESSAGE = "Unsupported property filter clause operator '{name}'."
# UNCONFIRMED: the wording Graph uses when a filter compares two literals or two properties.
UNSUPPORTED_QUERY_MESSAGE = "Unsupported Query."
INVALID_FILTER_PREFIX = "Invalid filter clause: "


def _syntax_error(detail):
    return ODataError(400, "BadRequest", INVALID_FILTER_PREFIX + detail)


def _unsupported(message):
    return ODataError(400, "Request_UnsupportedQuery", message)


# ---------------------------------------------------------------------------------------------------------------
# Entity descriptions
#
# ENTITIES[entity][property] = {"type": <Edm type>, "ops": {operator: "default" | "advanced"}, "fields": {...}}
# Operators: eq, ne, not, in, range (ge/gt/le/lt), startswith, endswith, null (eq/ne null), any (any/all lambdas,
# collections only), count (/$count in a filter, collections only). A missing operator is not supported at all.
# For collections, eq/in/range/startswith/endswith describe what a lambda body may do with the items.
# "fields" lists the members of a complex type (a complex property or the items of a complex collection).
# The docs list only ge and le for directory objects; gt and lt are accepted alike (UNCONFIRMED).
# Comparisons with null need advanced mode, as the docs' table marks every "null values" cell.

DEFAULT = "default"
ADVANCED = "advanced"
D = DEFAULT
A = ADVANCED

STRING = "Edm.String"
BOOLEAN = "Edm.Boolean"
GUID = "Edm.Guid"
DATETIME = "Edm.DateTimeOffset"
DATE = "Edm.Date"
INT32 = "Edm.Int32"
INT64 = "Edm.Int64"
DOUBLE = "Edm.Double"


def _collection(item_type):
    return "Collection(%s)" % item_type


def _item_type(type_name):
    if type_name.startswith("Collection(") and type_name.endswith(")"):
        return type_name[len("Collection("):-1]
    return None


def _prop(type_name, fields=None, **ops):
    """A property description; keyword arguments are operators (trailing underscores dropped), None = unsupported."""
    spec = {"type": type_name, "ops": {name.rstrip("_"): level for name, level in ops.items() if level}}
    if fields:
        spec["fields"] = dict(fields)
    return spec


def _string(**ops):
    """A string property that, like most directory strings, supports ne and not in advanced mode."""
    ops.setdefault("ne", A)
    ops.setdefault("not_", A)
    return _prop(STRING, **ops)


def _string_collection(**ops):
    """A string collection: filtered with any(); ne is not offered (Graph says to use not with lambdas)."""
    ops.setdefault("any", D)
    ops.setdefault("not_", A)
    ops.setdefault("count", A)
    return _prop(_collection(STRING), **ops)


ASSIGNED_LICENSE_FIELDS = {"skuId": GUID, "disabledPlans": _collection(GUID)}
ASSIGNED_PLAN_FIELDS = {"assignedDateTime": DATETIME, "capabilityStatus": STRING, "service": STRING, "servicePlanId": GUID}
EXTENSION_ATTRIBUTE_FIELDS = {"extensionAttribute%d" % number: STRING for number in range(1, 16)}

ENTITIES = {
    "user": {
        "id": _string(eq=D, in_=D),
        "userPrincipalName": _string(eq=D, in_=D, range_=D, startswith=D, endswith=A),
        "displayName": _string(eq=D, in_=D, range_=D, startswith=D, null=A),
        "givenName": _string(eq=D, in_=D, range_=D, startswith=D, null=A),
        "surname": _string(eq=D, in_=D, range_=D, startswith=D, null=A),
        "mail": _string(eq=D, in_=D, range_=D, startswith=D, endswith=A, null=A),
        "mailNickname": _string(eq=D, in_=D, range_=D, startswith=D, null=A),
        "otherMails": _string_collection(eq=D, in_=D, range_=D, startswith=D, endswith=A),
        "proxyAddresses": _string_collection(eq=D, range_=D, startswith=D, endswith=A),
        "accountEnabled": _prop(BOOLEAN, eq=D, ne=A, not_=A, in_=D),
        "usageLocation": _string(eq=D, in_=D, range_=D, startswith=D, null=A),
        "jobTitle": _string(eq=D, in_=D, range_=D, startswith=D, null=A),
        "department": _string(eq=D, in_=D, range_=D, startswith=D, null=A),
        # companyName, officeLocation and mobilePhone are indexed only in the advanced store.
        "companyName": _string(eq=A, in_=A, range_=A, startswith=A, null=A),
        "officeLocation": _string(eq=A, in_=A, range_=A, startswith=A, null=A),
        "mobilePhone": _string(eq=A, in_=A, range_=A, startswith=A, null=A),
        "employeeId": _string(eq=D, in_=D, range_=D, startswith=D, null=A),
        "userType": _string(eq=D, in_=D, null=A),
        "createdDateTime": _prop(DATETIME, eq=D, ne=A, not_=A, in_=A, range_=D),
        "deletedDateTime": _prop(DATETIME, eq=D, ne=A, not_=A, in_=A, range_=D),
        "assignedLicenses": _prop(_collection("microsoft.graph.assignedLicense"), fields=ASSIGNED_LICENSE_FIELDS,
                                  eq=D, not_=A, any_=D, count=A),
        "assignedPlans": _prop(_collection("microsoft.graph.assignedPlan"), fields=ASSIGNED_PLAN_FIELDS,
                               eq=D, not_=A, any_=D, count=A),
        "businessPhones": _string_collection(eq=D),
        "onPremisesImmutableId": _string(eq=A, in_=A, range_=A),
        # The individual attributes are reached with a path: onPremisesExtensionAttributes/extensionAttribute1.
        "onPremisesExtensionAttributes": _prop("microsoft.graph.onPremisesExtensionAttributes", fields=EXTENSION_ATTRIBUTE_FIELDS,
                                               eq=A, not_=A, in_=A, range_=A, null=A),
    },
    "group": {
        "id": _string(eq=D, in_=D),
        "displayName": _string(eq=D, in_=D, range_=D, startswith=D, null=A),
        "mail": _string(eq=D, in_=D, range_=D, startswith=D, endswith=A, null=A),
        "mailNickname": _string(eq=D, in_=D, range_=D, startswith=D, null=A),
        "mailEnabled": _prop(BOOLEAN, eq=D, ne=A, not_=A, in_=D),
        "securityEnabled": _prop(BOOLEAN, eq=D, ne=A, not_=A, in_=D),
        "groupTypes": _string_collection(eq=D),
        "proxyAddresses": _string_collection(eq=D, range_=D, startswith=D, endswith=A),
    },
    # Role assignments are not directory objects: no advanced mode, so only eq.
    "roleAssignment": {
        "principalId": _prop(STRING, eq=D),
        "roleDefinitionId": _prop(STRING, eq=D),
        "directoryScopeId": _prop(STRING, eq=D),
    },
    # GET /domains supports no $filter at all.
    "domain": {},
}

# The resource name Graph puts in its messages; entities not listed use their name with a capital first letter.
# UNCONFIRMED for everything but User and Group.
RESOURCE_NAMES = {"user": "User", "group": "Group", "roleAssignment": "UnifiedRoleAssignment", "domain": "Domain"}


def resource_name(entity):
    return RESOURCE_NAMES.get(entity) or entity[:1].upper() + entity[1:]


def _entity_properties(entity):
    if entity not in ENTITIES:
        raise ValueError("unknown entity %r; known: %s" % (entity, ", ".join(sorted(ENTITIES))))
    return ENTITIES[entity]


def _lookup(mapping, name):
    """Find a key case-insensitively (Graph resolves property names regardless of case). Returns (key, value)."""
    if name in mapping:
        return name, mapping[name]
    lowered = name.lower()
    for key, value in mapping.items():
        if isinstance(key, str) and key.lower() == lowered:
            return key, value
    return None, None


# ---------------------------------------------------------------------------------------------------------------
# Nodes


class Node:
    """Base class of the parsed $filter tree; pos is the 0-based offset of the node in the text."""


@dataclass
class Literal(Node):
    kind: str  # string, int, float, bool, null, guid, datetime, date
    value: object
    text: str
    pos: int = 0

    @property
    def edm_type(self):
        """The Edm type of the literal; None for null, which is compatible with every type."""
        if self.kind == "int":
            return INT32 if -2 ** 31 <= self.value < 2 ** 31 else INT64
        return {"string": STRING, "bool": BOOLEAN, "guid": GUID, "datetime": DATETIME, "date": DATE, "float": DOUBLE}.get(self.kind)


@dataclass
class Property(Node):
    path: tuple  # segments as written, e.g. ("onPremisesExtensionAttributes", "extensionAttribute1") or ("x", "skuId")
    pos: int = 0

    @property
    def name(self):
        return "/".join(self.path)


@dataclass
class Count(Node):
    """``collection/$count``."""
    collection: Property
    pos: int = 0


@dataclass
class Compare(Node):
    op: str  # eq ne gt ge lt le
    left: Node
    right: Node
    pos: int = 0


@dataclass
class In(Node):
    operand: Node
    values: list
    pos: int = 0


@dataclass
class Not(Node):
    operand: Node
    pos: int = 0


@dataclass
class Logical(Node):
    op: str  # and or
    left: Node
    right: Node
    pos: int = 0


@dataclass
class Call(Node):
    name: str  # lower case
    args: list
    pos: int = 0


@dataclass
class Lambda(Node):
    collection: Property
    kind: str  # any all
    variable: Optional[str]
    body: Optional[Node]
    pos: int = 0


# ---------------------------------------------------------------------------------------------------------------
# Lexer

GUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![0-9A-Za-z_])")
DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|z|[+-]\d{2}:\d{2})?(?![0-9A-Za-z_])")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}(?![0-9A-Za-z_:])")
NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:[mMdDfFlL])?(?![0-9A-Za-z_])")
IDENT_RE = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*")
WHITESPACE = " \t\r\n"
PUNCTUATION = "(),:/"

COMPARISON_OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")
OPERATOR_KINDS = {"eq": "Equal", "ne": "NotEqual", "gt": "GreaterThan", "ge": "GreaterThanOrEqual", "lt": "LessThan",
                  "le": "LessThanOrEqual", "and": "And", "or": "Or"}
# Functions the OData grammar knows; only startswith/endswith (and contains elsewhere) are served by Graph.
KNOWN_FUNCTIONS = {
    "startswith": "StartsWith", "endswith": "EndsWith", "contains": "Contains", "substring": "Substring",
    "substringof": "SubstringOf", "tolower": "ToLower", "toupper": "ToUpper", "trim": "Trim", "length": "Length",
    "indexof": "IndexOf", "concat": "Concat", "year": "Year", "month": "Month", "day": "Day", "hour": "Hour",
    "minute": "Minute", "second": "Second", "date": "Date", "time": "Time", "now": "Now", "round": "Round",
    "floor": "Floor", "ceiling": "Ceiling", "matchespattern": "MatchesPattern", "isof": "IsOf", "cast": "Cast",
}


@dataclass
class Token:
    kind: str  # ident, literal, punct, end
    text: str
    pos: int
    literal: Optional[Literal] = None


def _parse_datetime_text(text):
    """An ISO 8601 date-time as an aware datetime (UTC when no offset is given), or None."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


def _tokenize(text):
    tokens = []
    pos = 0
    length = len(text)
    while pos < length:
        char = text[pos]
        if char in WHITESPACE:
            pos += 1
            continue
        if char in PUNCTUATION:
            tokens.append(Token("punct", char, pos))
            pos += 1
            continue
        if char == "'":
            start = pos
            pos += 1
            chunks = []
            while True:
                if pos >= length:
                    raise _syntax_error("There is an unterminated string literal at position %d in '%s'." % (length, text))
                if text[pos] == "'":
                    if pos + 1 < length and text[pos + 1] == "'":
                        chunks.append("'")
                        pos += 2
                        continue
                    pos += 1
                    break
                chunks.append(text[pos])
                pos += 1
            value = "".join(chunks)
            tokens.append(Token("literal", text[start:pos], start, Literal("string", value, text[start:pos], start)))
            continue
        match = GUID_RE.match(text, pos)
        if match:
            tokens.append(Token("literal", match.group(0), pos, Literal("guid", match.group(0).lower(), match.group(0), pos)))
            pos = match.end()
            continue
        match = DATETIME_RE.match(text, pos)
        if match:
            value = _parse_datetime_text(match.group(0))
            if value is None:
                raise _syntax_error("Unrecognized 'Edm.DateTimeOffset' literal '%s' at '%d' in '%s'." % (match.group(0), pos, text))
            tokens.append(Token("literal", match.group(0), pos, Literal("datetime", value, match.group(0), pos)))
            pos = match.end()
            continue
        match = DATE_RE.match(text, pos)
        if match:
            try:
                value = datetime.date.fromisoformat(match.group(0))
            except ValueError:
                raise _syntax_error("Unrecognized 'Edm.Date' literal '%s' at '%d' in '%s'." % (match.group(0), pos, text)) from None
            tokens.append(Token("literal", match.group(0), pos, Literal("date", value, match.group(0), pos)))
            pos = match.end()
            continue
        match = NUMBER_RE.match(text, pos)
        if match:
            raw = match.group(0)
            digits = raw.rstrip("mMdDfFlL")
            if re.fullmatch(r"-?\d+", digits):
                literal = Literal("int", int(digits), raw, pos)
            else:
                literal = Literal("float", float(digits), raw, pos)
            tokens.append(Token("literal", raw, pos, literal))
            pos = match.end()
            continue
        match = IDENT_RE.match(text, pos)
        if match:
            word = match.group(0)
            lowered = word.lower()
            if lowered in ("true", "false"):
                tokens.append(Token("literal", word, pos, Literal("bool", lowered == "true", word, pos)))
            elif lowered == "null":
                tokens.append(Token("literal", word, pos, Literal("null", None, word, pos)))
            else:
                tokens.append(Token("ident", word, pos))
            pos = match.end()
            continue
        raise _syntax_error("Syntax error: character '%s' is not valid at position %d in '%s'." % (char, pos, text))
    tokens.append(Token("end", "", length))
    return tokens


# ---------------------------------------------------------------------------------------------------------------
# Parser (recursive descent; precedence from loosest: or, and, comparison/in, not, primary)


class _Parser:
    def __init__(self, text):
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def token(self):
        return self.tokens[self.index]

    def advance(self):
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_keyword(self, *words):
        token = self.token
        return token.kind == "ident" and token.text.lower() in words

    def is_punct(self, char):
        return self.token.kind == "punct" and self.token.text == char

    def fail(self, template, pos=None):
        pos = self.token.pos if pos is None else pos
        raise _syntax_error(template % (pos, self.text))

    def expect_punct(self, char, template):
        if not self.is_punct(char):
            self.fail(template)
        return self.advance()

    def parse(self):
        if self.token.kind == "end":
            self.fail("Expression expected at position %d in '%s'.")
        node = self.parse_or()
        if self.token.kind != "end":
            self.fail("Syntax error at position %d in '%s'.")
        return node

    def parse_or(self):
        node = self.parse_and()
        while self.is_keyword("or"):
            token = self.advance()
            node = Logical("or", node, self.parse_and(), token.pos)
        return node

    def parse_and(self):
        node = self.parse_comparison()
        while self.is_keyword("and"):
            token = self.advance()
            node = Logical("and", node, self.parse_comparison(), token.pos)
        return node

    def parse_comparison(self):
        node = self.parse_unary()
        while True:
            if self.is_keyword(*COMPARISON_OPERATORS):
                token = self.advance()
                node = Compare(token.text.lower(), node, self.parse_unary(), token.pos)
            elif self.is_keyword("in"):
                token = self.advance()
                node = In(node, self.parse_list(), token.pos)
            else:
                return node

    def parse_list(self):
        self.expect_punct("(", "'(' expected at position %d in '%s'.")
        values = []
        while True:
            token = self.token
            if token.kind != "literal":
                self.fail("Expression expected at position %d in '%s'.")
            values.append(self.advance().literal)
            if self.is_punct(","):
                self.advance()
                continue
            self.expect_punct(")", "')' or ',' expected at position %d in '%s'.")
            return values

    def parse_unary(self):
        if self.is_keyword("not"):
            token = self.advance()
            if self.token.kind == "end":
                self.fail("Expression expected at position %d in '%s'.")
            return Not(self.parse_unary(), token.pos)
        return self.parse_primary()

    def parse_primary(self):
        token = self.token
        if token.kind == "end":
            self.fail("Expression expected at position %d in '%s'.")
        if token.kind == "literal":
            self.advance()
            return token.literal
        if self.is_punct("("):
            self.advance()
            node = self.parse_or()
            self.expect_punct(")", "')' or operator expected at position %d in '%s'.")
            return node
        if token.kind == "ident":
            if token.text.startswith("$"):
                self.fail("Syntax error at position %d in '%s'.")
            if self.tokens[self.index + 1].kind == "punct" and self.tokens[self.index + 1].text == "(":
                return self.parse_call()
            return self.parse_path()
        self.fail("Expression expected at position %d in '%s'.")

    def parse_call(self):
        token = self.advance()
        name = token.text.lower()
        if name not in KNOWN_FUNCTIONS:
            raise _syntax_error(
                "An unknown function with name '%s' was found. This may also be a function import or a key lookup "
                "on a navigation property, which is not allowed." % token.text)
        self.advance()  # (
        args = []
        if self.is_punct(")"):
            self.advance()
            return Call(name, args, token.pos)
        while True:
            args.append(self.parse_or())
            if self.is_punct(","):
                self.advance()
                continue
            self.expect_punct(")", "')' or ',' expected at position %d in '%s'.")
            return Call(name, args, token.pos)

    def parse_path(self):
        first = self.advance()
        segments = [first.text]
        while self.is_punct("/"):
            slash = self.advance()
            token = self.token
            if token.kind != "ident":
                self.fail("Syntax error at position %d in '%s'.")
            word = token.text
            lowered = word.lower()
            if lowered == "$count":
                self.advance()
                return Count(Property(tuple(segments), first.pos), slash.pos)
            if word.startswith("$"):
                self.fail("Syntax error at position %d in '%s'.")
            next_token = self.tokens[self.index + 1]
            if lowered in ("any", "all") and next_token.kind == "punct" and next_token.text == "(":
                return self.parse_lambda(Property(tuple(segments), first.pos), lowered)
            self.advance()
            segments.append(word)
        return Property(tuple(segments), first.pos)

    def parse_lambda(self, collection, kind):
        keyword = self.advance()
        self.advance()  # (
        if self.is_punct(")"):
            if kind == "all":
                self.fail("Expression expected at position %d in '%s'.")
            self.advance()
            return Lambda(collection, kind, None, None, keyword.pos)
        variable = self.token
        if variable.kind != "ident" or variable.text.startswith("$"):
            self.fail("Syntax error at position %d in '%s'.")
        self.advance()
        self.expect_punct(":", "':' expected at position %d in '%s'.")
        body = self.parse_or()
        self.expect_punct(")", "')' or operator expected at position %d in '%s'.")
        return Lambda(collection, kind, variable.text, body, keyword.pos)


def parse_filter(text):
    """Parse a $filter value (already URL-decoded) into a Node; raise ODataError 400 BadRequest on syntax errors."""
    if text is None:
        text = ""
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------------------------------
# Binding against an entity: shared by check_properties and needs_advanced


@dataclass
class _Ref:
    """What a property reference resolves to."""
    prop: str  # canonical top-level property name (the collection for a lambda variable)
    type: str  # Edm type of the referenced value
    spec: dict  # the top-level property's description
    in_lambda: bool  # reached through a lambda variable (an item of the collection)


def _resolve(node, properties, scope, entity, strict):
    """Resolve a Property node to a _Ref. With strict, raise for unknown names; otherwise return None."""
    path = node.path
    resource = resource_name(entity)
    if path[0] in scope:
        ref = scope[path[0]]
        rest = path[1:]
    else:
        if scope and strict:
            # Inside a lambda only the range variable may be used.
            raise _unsupported(UNSUPPORTED_QUERY_MESSAGE)
        key, spec = _lookup(properties, path[0])
        if spec is None:
            if strict:
                raise _unsupported(UNSUPPORTED_PROPERTY_MESSAGE.format(prop=path[0], resource=resource))
            return None
        ref = _Ref(key, spec["type"], spec, False)
        rest = path[1:]
    current = ref
    for segment in rest:
        fields = current.spec.get("fields") or {}
        if _item_type(current.type) or current.type.startswith("Edm."):
            # Cannot walk into a collection without a lambda, nor into a primitive value.
            if strict:
                raise _syntax_error("Could not find a property named '%s' on type '%s'." % (segment, current.type))
            return None
        key, field_type = _lookup(fields, segment)
        if field_type is None:
            if strict:
                raise _syntax_error("Could not find a property named '%s' on type '%s'." % (segment, current.type))
            return None
        current = _Ref(current.prop, field_type, current.spec, current.in_lambda)
    return current


def _incompatible(left_type, right_type, op):
    return _syntax_error("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind '%s'."
                         % (left_type, right_type, OPERATOR_KINDS.get(op, op)))


def _compatible(prop_type, literal):
    if literal.kind == "null":
        return True
    literal_type = literal.edm_type
    if prop_type == literal_type:
        return True
    numeric = (INT32, INT64, DOUBLE)
    return prop_type in numeric and literal_type in numeric


def _reference_and_literal(node):
    """For a comparison, the (reference, literal) pair when one side is a property or $count and the other a literal."""
    left, right = node.left, node.right
    if isinstance(left, (Property, Count)) and isinstance(right, Literal):
        return left, right
    if isinstance(right, (Property, Count)) and isinstance(left, Literal):
        return right, left
    return None, None


# ---------------------------------------------------------------------------------------------------------------
# check_properties


class _Checker:
    def __init__(self, entity):
        self.entity = entity
        self.properties = _entity_properties(entity)
        self.resource = resource_name(entity)

    def unsupported_property(self, prop):
        return _unsupported(UNSUPPORTED_PROPERTY_MESSAGE.format(prop=prop, resource=self.resource))

    def require(self, ref, op):
        if op not in ref.spec["ops"]:
            raise self.unsupported_property(ref.prop)

    def check_boolean(self, node, scope):
        """Check a node that must be a boolean condition (the whole filter, operands of and/or/not, lambda bodies)."""
        if isinstance(node, Property):
            ref = _resolve(node, self.properties, scope, self.entity, True)
            if ref.type == BOOLEAN:
                # A bare boolean property is valid OData, but the directory does not serve it.
                raise self.unsupported_property(ref.prop)
            raise _syntax_error("The $filter expression must evaluate to a single boolean value.")
        if isinstance(node, Literal):
            if node.kind == "bool":
                raise _unsupported(UNSUPPORTED_QUERY_MESSAGE)
            raise _syntax_error("The $filter expression must evaluate to a single boolean value.")
        if isinstance(node, Count):
            raise _syntax_error("The $filter expression must evaluate to a single boolean value.")
        self.check(node, scope)

    def type_of(self, node, scope):
        """Edm type of an operand used in an unusual place (to word the error Graph's binder gives)."""
        if isinstance(node, Literal):
            return node.edm_type or "null"
        if isinstance(node, Property):
            return _resolve(node, self.properties, scope, self.entity, True).type
        if isinstance(node, Count):
            return INT64
        if isinstance(node, Not):
            operand_type = self.type_of(node.operand, scope)
            if operand_type != BOOLEAN:
                raise _syntax_error("A unary operator with an incompatible type was detected. Found operand type '%s' for operator kind 'Not'."
                                    % operand_type)
            return BOOLEAN
        if isinstance(node, Call) and node.name not in ("startswith", "endswith", "contains"):
            return STRING
        return BOOLEAN

    def check(self, node, scope):
        if isinstance(node, Logical):
            for side in (node.left, node.right):
                if isinstance(side, (Literal, Property, Count)) and self.type_of(side, scope) != BOOLEAN:
                    raise _incompatible(self.type_of(node.left, scope), self.type_of(node.right, scope), node.op)
                self.check_boolean(side, scope)
        elif isinstance(node, Not):
            operand_type = self.type_of(node.operand, scope)
            if operand_type != BOOLEAN:
                raise _syntax_error("A unary operator with an incompatible type was detected. Found operand type '%s' for operator kind 'Not'."
                                    % operand_type)
            self.check_boolean(node.operand, scope)
            for ref in self.references(node.operand, scope):
                self.require(ref, "not")
        elif isinstance(node, Compare):
            self.check_compare(node, scope)
        elif isinstance(node, In):
            self.check_in(node, scope)
        elif isinstance(node, Call):
            self.check_call(node, scope)
        elif isinstance(node, Lambda):
            self.check_lambda(node, scope)
        else:
            self.check_boolean(node, scope)

    def check_compare(self, node, scope):
        reference, literal = _reference_and_literal(node)
        if reference is None:
            for side in (node.left, node.right):
                if isinstance(side, Call) and side.name not in ("startswith", "endswith"):
                    raise _unsupported(UNSUPPORTED_FUNCTION_MESSAGE.format(name=KNOWN_FUNCTIONS[side.name]))
            left_type = self.type_of(node.left, scope)
            right_type = self.type_of(node.right, scope)
            if left_type != right_type and "null" not in (left_type, right_type):
                raise _incompatible(left_type, right_type, node.op)
            raise _unsupported(UNSUPPORTED_QUERY_MESSAGE)
        if isinstance(reference, Count):
            ref = _resolve(reference.collection, self.properties, scope, self.entity, True)
            if not _item_type(ref.type) or ref.in_lambda:
                raise self.unsupported_property(ref.prop)
            if literal.kind != "int":
                raise _incompatible(INT64, literal.edm_type or "null", node.op)
            self.require(ref, "count")
            if node.op not in ("eq", "ne"):
                raise self.unsupported_property(ref.prop)
            return
        ref = _resolve(reference, self.properties, scope, self.entity, True)
        if _item_type(ref.type) or not ref.type.startswith("Edm."):
            raise _incompatible(ref.type, literal.edm_type or "null", node.op)
        if not _compatible(ref.type, literal):
            raise _incompatible(ref.type, literal.edm_type, node.op)
        if literal.kind == "null":
            self.require(ref, "null")
            if node.op not in ("eq", "ne"):
                raise self.unsupported_property(ref.prop)
        if node.op in ("eq", "ne"):
            self.require(ref, node.op)
        else:
            self.require(ref, "range")

    def check_in(self, node, scope):
        if not isinstance(node.operand, Property):
            raise _unsupported(UNSUPPORTED_QUERY_MESSAGE)
        ref = _resolve(node.operand, self.properties, scope, self.entity, True)
        for literal in node.values:
            if _item_type(ref.type) or not ref.type.startswith("Edm.") or not _compatible(ref.type, literal):
                # UNCONFIRMED wording (the binder's message for an ill-typed 'in').
                raise _syntax_error("The left and right operands of an 'In' operator must have compatible types; found '%s' and '%s'."
                                    % (ref.type, literal.edm_type or "null"))
        self.require(ref, "in")

    def check_call(self, node, scope):
        if node.name not in ("startswith", "endswith"):
            raise _unsupported(UNSUPPORTED_FUNCTION_MESSAGE.format(name=KNOWN_FUNCTIONS[node.name]))
        no_signature = _syntax_error(
            "No function signature for the function with name '%s' matches the specified arguments. The function signatures "
            "considered are: %s(Edm.String Nullable=true, Edm.String Nullable=true)." % (node.name, node.name))
        if len(node.args) != 2:
            raise no_signature
        target, prefix = node.args
        if not isinstance(target, Property):
            if isinstance(target, Literal) and isinstance(prefix, Property):
                # Arguments swapped, e.g. startswith('a', displayName): valid OData, not served by the directory.
                raise _unsupported(UNSUPPORTED_FUNCTION_MESSAGE.format(name=KNOWN_FUNCTIONS[node.name]))
            raise _unsupported(UNSUPPORTED_QUERY_MESSAGE)
        ref = _resolve(target, self.properties, scope, self.entity, True)
        if ref.type != STRING or not isinstance(prefix, Literal) or prefix.kind not in ("string", "null"):
            raise no_signature
        self.require(ref, node.name)

    def check_lambda(self, node, scope):
        collection = _resolve(node.collection, self.properties, scope, self.entity, True)
        item_type = _item_type(collection.type)
        if not item_type or collection.in_lambda:
            if collection.in_lambda:
                # Nested lambdas are not served by the directory.
                raise _unsupported(UNSUPPORTED_QUERY_MESSAGE)
            # UNCONFIRMED wording.
            raise _syntax_error("The Any/All query expression can only be applied to a collection; '%s' is of type '%s'."
                                % (node.collection.name, collection.type))
        # all() is checked like any(); whether the directory serves all() is UNCONFIRMED.
        self.require(collection, "any")
        if node.body is None:
            return
        inner = dict(scope)
        inner[node.variable] = _Ref(collection.prop, item_type, collection.spec, True)
        self.check_boolean(node.body, inner)

    def references(self, node, scope):
        """Every property a condition refers to (lambda variables count as their collection)."""
        found = []

        def walk(current, names):
            if isinstance(current, Property):
                ref = _resolve(current, self.properties, names, self.entity, False)
                if ref is not None:
                    found.append(ref)
            elif isinstance(current, Count):
                walk(current.collection, names)
            elif isinstance(current, Lambda):
                walk(current.collection, names)
                if current.body is not None:
                    collection = _resolve(current.collection, self.properties, names, self.entity, False)
                    inner = dict(names)
                    if collection is not None:
                        inner[current.variable] = _Ref(collection.prop, _item_type(collection.type) or collection.type, collection.spec, True)
                    walk(current.body, inner)
            elif isinstance(current, (Compare, Logical)):
                walk(current.left, names)
                walk(current.right, names)
            elif isinstance(current, In):
                walk(current.operand, names)
            elif isinstance(current, Not):
                walk(current.operand, names)
            elif isinstance(current, Call):
                for arg in current.args:
                    walk(arg, names)

        walk(node, scope)
        return found


def check_properties(node, entity):
    """Raise ODataError when the filter uses a property, an operator or a type the entity's $filter does not support.

    Advanced-only constructs (ne, not, endsWith, /$count, null comparisons, properties only in the advanced store)
    pass here when the property supports them; needs_advanced reports them.
    """
    _Checker(entity).check_boolean(node, {})


# ---------------------------------------------------------------------------------------------------------------
# needs_advanced


def needs_advanced(node, entity):
    """The message of Graph's 400 when the filter needs advanced query mode, else None.

    Operators only served in advanced mode (ne, not, endsWith) give the "Operator '...' is not supported" message;
    property-level needs (a property or operator only indexed in the advanced store, a null comparison, /$count)
    give the "Unsupported or invalid query filter clause specified for property" message. The first construct met
    from the left decides. Unknown properties are ignored here: check_properties reports them.
    """
    properties = ENTITIES.get(entity, {})
    resource = resource_name(entity)

    def property_message(ref):
        return UNSUPPORTED_PROPERTY_MESSAGE.format(prop=ref.prop, resource=resource)

    def level(ref, op):
        return ref.spec["ops"].get(op) if ref is not None else None

    def resolve(prop, scope):
        try:
            return _resolve(prop, properties, scope, entity, False)
        except ODataError:
            return None

    def walk(current, scope):
        if isinstance(current, Not):
            return ADVANCED_OPERATOR_MESSAGE.format(op="not")
        if isinstance(current, Logical):
            return walk(current.left, scope) or walk(current.right, scope)
        if isinstance(current, Compare):
            if current.op == "ne":
                return ADVANCED_OPERATOR_MESSAGE.format(op="ne")
            reference, literal = _reference_and_literal(current)
            if isinstance(reference, Count):
                ref = resolve(reference.collection, scope)
                # UNCONFIRMED: the wording for /$count in a filter without advanced mode; the property form is the
                # one Graph uses for other property-level advanced needs.
                return property_message(ref) if ref is not None else None
            if isinstance(reference, Property):
                ref = resolve(reference, scope)
                if ref is None:
                    return None
                if literal.kind == "null" and level(ref, "null") == ADVANCED:
                    return property_message(ref)
                op = "eq" if current.op == "eq" else "range"
                if level(ref, op) == ADVANCED:
                    return property_message(ref)
                return None
            return walk(current.left, scope) or walk(current.right, scope)
        if isinstance(current, In):
            if isinstance(current.operand, Property):
                ref = resolve(current.operand, scope)
                if level(ref, "in") == ADVANCED:
                    return property_message(ref)
            return None
        if isinstance(current, Call):
            if current.name == "endswith":
                return ADVANCED_OPERATOR_MESSAGE.format(op="endsWith")
            if current.name == "startswith" and current.args and isinstance(current.args[0], Property):
                ref = resolve(current.args[0], scope)
                if level(ref, "startswith") == ADVANCED:
                    return property_message(ref)
            return None
        if isinstance(current, Lambda):
            collection = resolve(current.collection, scope)
            if collection is None:
                return None
            if level(collection, "any") == ADVANCED:
                return property_message(collection)
            if current.body is None:
                return None
            inner = dict(scope)
            inner[current.variable] = _Ref(collection.prop, _item_type(collection.type) or collection.type, collection.spec, True)
            return walk(current.body, inner)
        return None

    return walk(node, {})


# ---------------------------------------------------------------------------------------------------------------
# or_clause_count


def or_clause_count(node):
    """The most child clauses of one disjunction in the filter: the operands of a chain of ``or`` (an ``in`` among them
    counts its values), or the values of an ``in`` outside any ``or``. Graph refuses more than 15 outside advanced
    queries ("Too many child clauses specified in search filter expression containing 'OR' operators")."""

    def disjuncts(current):
        if isinstance(current, Logical) and current.op == "or":
            return disjuncts(current.left) + disjuncts(current.right)
        return [current]

    def walk(current):
        if isinstance(current, Logical) and current.op == "or":
            parts = disjuncts(current)
            count = sum(len(part.values) if isinstance(part, In) else 1 for part in parts)
            return max([count] + [walk(part) for part in parts if not isinstance(part, In)])
        if isinstance(current, In):
            return len(current.values)
        if isinstance(current, Logical):
            return max(walk(current.left), walk(current.right))
        if isinstance(current, Not):
            return walk(current.operand)
        if isinstance(current, Lambda) and current.body is not None:
            return walk(current.body)
        return 0

    return walk(node)


# ---------------------------------------------------------------------------------------------------------------
# evaluate


def _get(mapping, key):
    if not isinstance(mapping, dict):
        return None
    found, value = _lookup(mapping, key)
    return value if found is not None else None


def _as_datetime(value):
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc)
    if isinstance(value, str):
        return _parse_datetime_text(value)
    return None


def _normalise(left, right):
    """Bring two non-null values to comparable forms (strings case-insensitive, dates as datetimes)."""
    if isinstance(left, (datetime.date, datetime.datetime)) or isinstance(right, (datetime.date, datetime.datetime)):
        return _as_datetime(left), _as_datetime(right)
    if isinstance(left, bool) or isinstance(right, bool):
        return left, right
    if isinstance(left, uuid.UUID):
        left = str(left)
    if isinstance(right, uuid.UUID):
        right = str(right)
    if isinstance(left, str) and isinstance(right, str):
        return left.lower(), right.lower()
    return left, right


def _equal(left, right):
    if left is None or right is None:
        return left is None and right is None
    left, right = _normalise(left, right)
    if left is None or right is None:
        return False
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    return left == right


def _order(op, left, right):
    if left is None or right is None:
        return False
    left, right = _normalise(left, right)
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return left > right
        if op == "ge":
            return left >= right
        if op == "lt":
            return left < right
        return left <= right
    except TypeError:
        return False


def _value(node, obj, scope):
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Property):
        if node.path[0] in scope:
            current = scope[node.path[0]]
        else:
            current = _get(obj, node.path[0])
        for segment in node.path[1:]:
            current = _get(current, segment)
        return current
    if isinstance(node, Count):
        collection = _value(node.collection, obj, scope)
        return len(collection) if isinstance(collection, list) else 0
    return _truth(node, obj, scope)


def _truth(node, obj, scope):
    if isinstance(node, Logical):
        if node.op == "and":
            return _truth(node.left, obj, scope) and _truth(node.right, obj, scope)
        return _truth(node.left, obj, scope) or _truth(node.right, obj, scope)
    if isinstance(node, Not):
        return not _truth(node.operand, obj, scope)
    if isinstance(node, Compare):
        left = _value(node.left, obj, scope)
        right = _value(node.right, obj, scope)
        if node.op == "eq":
            return _equal(left, right)
        if node.op == "ne":
            return not _equal(left, right)
        return _order(node.op, left, right)
    if isinstance(node, In):
        value = _value(node.operand, obj, scope)
        return any(_equal(value, literal.value) for literal in node.values)
    if isinstance(node, Call):
        values = [_value(arg, obj, scope) for arg in node.args]
        if node.name in ("startswith", "endswith", "contains"):
            if len(values) != 2 or not isinstance(values[0], str) or not isinstance(values[1], str):
                return False
            haystack, needle = values[0].lower(), values[1].lower()
            if node.name == "startswith":
                return haystack.startswith(needle)
            if node.name == "endswith":
                return haystack.endswith(needle)
            return needle in haystack
        return False
    if isinstance(node, Lambda):
        collection = _value(node.collection, obj, scope)
        items = collection if isinstance(collection, list) else []
        if node.body is None:
            return bool(items)
        results = (_truth(node.body, obj, dict(scope, **{node.variable: item})) for item in items)
        return any(results) if node.kind == "any" else all(results)
    if isinstance(node, (Property, Literal)):
        return _value(node, obj, scope) is True
    return False


def evaluate(node, obj):
    """True when the stored object (a dict; missing properties are null) matches the filter."""
    return bool(_truth(node, obj or {}, {}))


def compile_filter(text, entity, advanced=False):
    """Parse and check a filter for an entity in one go; raise the ODataError Graph would answer, else return the node.

    ``advanced`` is True when the request has ``ConsistencyLevel: eventual`` and ``$count=true``.
    """
    node = parse_filter(text)
    if not advanced:
        message = needs_advanced(node, entity)
        if message:
            raise _unsupported(message)
    check_properties(node, entity)
    return node
