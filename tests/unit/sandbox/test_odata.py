"""Unit tests of the sandbox's OData $filter engine (tests/sandbox/odata.py)."""

import datetime

import pytest

from tests.sandbox import odata
from tests.sandbox.odata import ODataError, check_properties, compile_filter, evaluate, needs_advanced, parse_filter

E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
FLOW = "f30db892-07e9-47e9-837c-80727f46fd3d"

SARAH = {
    "id": "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61",
    "userPrincipalName": "sarah.jones@northwindacct.com",
    "displayName": "Sarah Jones",
    "givenName": "Sarah",
    "surname": "Jones",
    "mail": "sarah.jones@northwindacct.com",
    "mailNickname": "sarah.jones",
    "otherMails": ["sarah@example.org"],
    "proxyAddresses": ["SMTP:sarah.jones@northwindacct.com", "smtp:sarah.jones@northwindacct.onmicrosoft.com"],
    "accountEnabled": True,
    "usageLocation": "AU",
    "jobTitle": "Senior Accountant",
    "department": "Audit",
    "companyName": None,
    "userType": "Member",
    "createdDateTime": "2024-03-01T09:30:00Z",
    "assignedLicenses": [{"disabledPlans": [], "skuId": E3}],
    "businessPhones": [],
    "onPremisesExtensionAttributes": {"extensionAttribute1": "PP-1001", "extensionAttribute2": None},
}

NEW_HIRE = {
    "id": "7c1e5a22-0d9b-4f3e-8a61-2b4c6d8e0f13",
    "userPrincipalName": "zoe.o'brien@northwindacct.com",
    "displayName": "Zoë O'Brien",
    "accountEnabled": False,
    "createdDateTime": "2025-01-15T23:59:59.1234567Z",
    "assignedLicenses": [],
    "proxyAddresses": [],
}

ADVANCED_NE = odata.ADVANCED_OPERATOR_MESSAGE.format(op="ne")
ADVANCED_NOT = odata.ADVANCED_OPERATOR_MESSAGE.format(op="not")
ADVANCED_ENDSWITH = (
    "Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query parameter "
    "and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
)


def user_property(name):
    return "Unsupported or invalid query filter clause specified for property '%s' of resource 'User'." % name


# --- parsing --------------------------------------------------------------------------------------------------


def test_parse_builds_the_expected_tree():
    node = parse_filter("startswith(displayName,'S') and (accountEnabled eq true or not(userType eq 'Guest'))")
    assert isinstance(node, odata.Logical) and node.op == "and"
    assert isinstance(node.left, odata.Call) and node.left.name == "startswith"
    assert node.left.args[0].path == ("displayName",)
    assert isinstance(node.right, odata.Logical) and node.right.op == "or"
    assert isinstance(node.right.right, odata.Not)


def test_parse_precedence_and_binds_tighter_than_or():
    node = parse_filter("givenName eq 'a' or givenName eq 'b' and surname eq 'c'")
    assert node.op == "or"
    assert isinstance(node.right, odata.Logical) and node.right.op == "and"


def test_parse_keywords_are_case_insensitive():
    node = parse_filter("NOT StartsWith(displayName,'Conf') OR displayName EQ 'x'")
    assert node.op == "or"
    assert isinstance(node.left, odata.Not)
    assert node.right.op == "eq"


@pytest.mark.parametrize("text,kind,value", [
    ("'it''s'", "string", "it's"),
    ("''", "string", ""),
    ("'Zoë 日本'", "string", "Zoë 日本"),
    ("42", "int", 42),
    ("-7", "int", -7),
    ("1.5", "float", 1.5),
    ("true", "bool", True),
    ("FALSE", "bool", False),
    ("null", "null", None),
    ("6FD2C87F-B296-42F0-B197-1E91E994B900", "guid", E3),
    ("efb87545-963c-4e0d-99df-69c6916d9eb0", "guid", "efb87545-963c-4e0d-99df-69c6916d9eb0"),
    ("2024-03-01T09:30:00Z", "datetime", datetime.datetime(2024, 3, 1, 9, 30, tzinfo=datetime.timezone.utc)),
    ("2024-03-01T19:30:00+10:00", "datetime", datetime.datetime(2024, 3, 1, 9, 30, tzinfo=datetime.timezone.utc)),
    ("2024-03-01", "date", datetime.date(2024, 3, 1)),
])
def test_literals(text, kind, value):
    node = parse_filter("displayName eq " + text)
    assert node.right.kind == kind
    assert node.right.value == value


def test_parse_in_list_and_lambdas():
    node = parse_filter("userPrincipalName in ('a@x.com', 'b@x.com','c@x.com')")
    assert isinstance(node, odata.In) and [v.value for v in node.values] == ["a@x.com", "b@x.com", "c@x.com"]
    node = parse_filter("assignedLicenses/any(x:x/skuId eq %s)" % E3)
    assert isinstance(node, odata.Lambda) and node.kind == "any" and node.variable == "x"
    assert node.body.left.path == ("x", "skuId")
    node = parse_filter("assignedLicenses/any()")
    assert node.body is None and node.variable is None
    node = parse_filter("assignedLicenses/$count eq 0")
    assert isinstance(node.left, odata.Count) and node.left.collection.path == ("assignedLicenses",)
    node = parse_filter("onPremisesExtensionAttributes/extensionAttribute1 eq 'x'")
    assert node.left.path == ("onPremisesExtensionAttributes", "extensionAttribute1")


@pytest.mark.parametrize("text,message", [
    ("", "Invalid filter clause: Expression expected at position 0 in ''."),
    ("displayName eq", "Invalid filter clause: Expression expected at position 14 in 'displayName eq'."),
    ("displayName eq 'Sarah", "Invalid filter clause: There is an unterminated string literal at position 21 in 'displayName eq 'Sarah'."),
    ("displayName eq 'a' 'b'", "Invalid filter clause: Syntax error at position 19 in 'displayName eq 'a' 'b''."),
    ("displayName == 'a'", "Invalid filter clause: Syntax error: character '=' is not valid at position 12 in 'displayName == 'a''."),
    ("((displayName eq 'a')", "Invalid filter clause: ')' or operator expected at position 21 in '((displayName eq 'a')'."),
    ("startswith(displayName 'S')", "Invalid filter clause: ')' or ',' expected at position 23 in 'startswith(displayName 'S')'."),
    ("displayName in 'a'", "Invalid filter clause: '(' expected at position 15 in 'displayName in 'a''."),
    ("displayName in ('a' 'b')", "Invalid filter clause: ')' or ',' expected at position 20 in 'displayName in ('a' 'b')'."),
    ("proxyAddresses/any(x x eq 'a')", "Invalid filter clause: ':' expected at position 21 in 'proxyAddresses/any(x x eq 'a')'."),
    ("not", "Invalid filter clause: Expression expected at position 3 in 'not'."),
    ("createdDateTime ge 2024-13-01T00:00:00Z",
     "Invalid filter clause: Unrecognized 'Edm.DateTimeOffset' literal '2024-13-01T00:00:00Z' at '19' in 'createdDateTime ge 2024-13-01T00:00:00Z'."),
    ("frobnicate(displayName)",
     "Invalid filter clause: An unknown function with name 'frobnicate' was found. This may also be a function import or a key lookup "
     "on a navigation property, which is not allowed."),
])
def test_syntax_errors(text, message):
    with pytest.raises(ODataError) as caught:
        parse_filter(text)
    assert (caught.value.status, caught.value.code, caught.value.message) == (400, "BadRequest", message)


# --- evaluation -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,obj,expected", [
    ("userPrincipalName eq 'SARAH.JONES@northwindacct.com'", SARAH, True),
    ("userPrincipalName eq 'sarah@northwindacct.com'", SARAH, False),
    ("UserPrincipalName eq 'sarah.jones@northwindacct.com'", SARAH, True),
    ("displayName eq 'zoë o''brien'", NEW_HIRE, True),
    ("displayName ne 'Sarah Jones'", SARAH, False),
    ("displayName ne 'Sarah Jones'", NEW_HIRE, True),
    ("accountEnabled eq true", SARAH, True),
    ("accountEnabled eq true", NEW_HIRE, False),
    ("accountEnabled eq false and displayName eq 'Zoë O''Brien'", NEW_HIRE, True),
    ("givenName eq 'x' or surname eq 'jones'", SARAH, True),
    ("not (givenName eq 'Sarah')", SARAH, False),
    ("NOT startsWith(displayName,'sar')", NEW_HIRE, True),
    ("(((givenName eq 'Sarah') and (surname eq 'Jones')))", SARAH, True),
    ("givenName eq 'Sarah' and (surname eq 'x' or department eq 'audit')", SARAH, True),
    ("givenName eq 'Sarah' and surname eq 'x' or department eq 'audit'", SARAH, True),
    ("givenName eq 'x' and surname eq 'Jones' or department eq 'x'", SARAH, False),
    ("startswith(userPrincipalName,'SARAH.')", SARAH, True),
    ("startswith(jobTitle,'Junior')", SARAH, False),
    ("endswith(mail,'@NORTHWINDACCT.COM')", SARAH, True),
    ("endswith(mail,'@northwindacct.com')", NEW_HIRE, False),
    ("usageLocation in ('NZ', 'au')", SARAH, True),
    ("usageLocation in ('NZ', 'AU')", NEW_HIRE, False),
    ("usageLocation eq null", NEW_HIRE, True),
    ("usageLocation eq null", SARAH, False),
    ("companyName eq null", SARAH, True),
    ("usageLocation ne null", SARAH, True),
    ("mail eq 'x'", NEW_HIRE, False),
    ("assignedLicenses/any(x:x/skuId eq 6FD2C87F-B296-42F0-B197-1E91E994B900)", SARAH, True),
    ("assignedLicenses/any(x:x/skuId eq %s)" % FLOW, SARAH, False),
    ("assignedLicenses/any(x:x/skuId eq %s)" % E3, NEW_HIRE, False),
    ("assignedLicenses/any(x:x/skuId eq %s)" % E3, {}, False),
    ("assignedLicenses/any()", SARAH, True),
    ("assignedLicenses/any()", NEW_HIRE, False),
    ("not(assignedLicenses/any())", NEW_HIRE, True),
    ("assignedLicenses/$count eq 0", NEW_HIRE, True),
    ("assignedLicenses/$count eq 0", SARAH, False),
    ("assignedLicenses/$count ne 0", SARAH, True),
    ("assignedLicenses/$count eq 0", {}, True),
    ("proxyAddresses/any(p:p eq 'smtp:SARAH.JONES@northwindacct.com')", SARAH, True),
    ("proxyAddresses/any(p:startswith(p,'smtp:sarah.jones@northwindacct.onmicrosoft'))", SARAH, True),
    ("proxyAddresses/any(p:endsWith(p, 'OnMicrosoft.com'))", SARAH, True),
    ("proxyAddresses/any(p:startswith(p,'x'))", NEW_HIRE, False),
    ("proxyAddresses/all(p:startswith(p,'smtp:'))", SARAH, True),
    ("proxyAddresses/all(p:startswith(p,'SMTP:sarah.jones@northwindacct.com'))", SARAH, False),
    ("proxyAddresses/all(p:p eq 'x')", NEW_HIRE, True),
    ("otherMails/any(m:m in ('a@b.c', 'Sarah@Example.org'))", SARAH, True),
    ("onPremisesExtensionAttributes/extensionAttribute1 eq 'pp-1001'", SARAH, True),
    ("onPremisesExtensionAttributes/extensionAttribute2 eq null", SARAH, True),
    ("onPremisesExtensionAttributes/extensionAttribute1 eq 'PP-1001'", NEW_HIRE, False),
    ("createdDateTime ge 2024-01-01T00:00:00Z", SARAH, True),
    ("createdDateTime lt 2024-03-01T09:30:00Z", SARAH, False),
    ("createdDateTime le 2024-03-01T19:30:00+10:00", SARAH, True),
    ("createdDateTime gt 2025-01-15T23:59:59Z", NEW_HIRE, True),
    ("createdDateTime gt 2025-01-15T23:59:59Z", SARAH, False),
    ("createdDateTime ge 2024-01-01T00:00:00Z", {}, False),
    ("id eq '0B6D2F1E-4C3A-4B8E-9D7F-1A2B3C4D5E61'", SARAH, True),
    ("id in ('7c1e5a22-0d9b-4f3e-8a61-2b4c6d8e0f13', '0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61')", NEW_HIRE, True),
    ("displayName ge 'T'", SARAH, False),
    ("displayName ge 'S'", SARAH, True),
])
def test_evaluate(text, obj, expected):
    assert evaluate(parse_filter(text), obj) is expected


def test_evaluate_accepts_datetime_objects_and_keeps_the_object_untouched():
    obj = {"createdDateTime": datetime.datetime(2024, 3, 1, 9, 30, tzinfo=datetime.timezone.utc), "assignedLicenses": []}
    snapshot = dict(obj)
    assert evaluate(parse_filter("createdDateTime eq 2024-03-01T09:30:00Z"), obj)
    assert obj == snapshot


# --- advanced query detection -------------------------------------------------------------------------------


@pytest.mark.parametrize("text,entity,expected", [
    ("userPrincipalName eq 'a@b.c'", "user", None),
    ("startswith(displayName,'S')", "user", None),
    ("accountEnabled eq false", "user", None),
    ("assignedLicenses/any(x:x/skuId eq %s)" % E3, "user", None),
    ("proxyAddresses/any(p:startswith(p,'smtp:a'))", "user", None),
    ("userPrincipalName in ('a@b.c','d@e.f')", "user", None),
    ("createdDateTime ge 2024-01-01T00:00:00Z", "user", None),
    ("displayName ne 'x'", "user", ADVANCED_NE),
    ("accountEnabled ne true", "user", ADVANCED_NE),
    ("not(displayName eq 'x')", "user", ADVANCED_NOT),
    ("NOT startsWith(displayName, 'Conf')", "user", ADVANCED_NOT),
    ("endswith(userPrincipalName,'@northwindacct.com')", "user", ADVANCED_ENDSWITH),
    ("givenName eq 'a' and endsWith(mail,'@x.com')", "user", ADVANCED_ENDSWITH),
    ("proxyAddresses/any(p:endswith(p,'.onmicrosoft.com'))", "user", ADVANCED_ENDSWITH),
    ("assignedLicenses/$count eq 0", "user", user_property("assignedLicenses")),
    ("companyName eq 'Northwind'", "user", user_property("companyName")),
    ("startswith(mobilePhone,'+61')", "user", user_property("mobilePhone")),
    ("displayName eq null", "user", user_property("displayName")),
    ("createdDateTime in (2024-01-01T00:00:00Z)", "user", user_property("createdDateTime")),
    ("onPremisesExtensionAttributes/extensionAttribute1 eq 'x'", "user", user_property("onPremisesExtensionAttributes")),
    ("userType eq 'Member' or (givenName eq 'a' and surname ne 'b')", "user", ADVANCED_NE),
    ("mailEnabled eq true", "group", None),
    ("groupTypes/any(c:c eq 'Unified')", "group", None),
    ("principalId eq '0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61'", "roleAssignment", None),
    ("nosuchProperty eq 'x'", "user", None),
])
def test_needs_advanced(text, entity, expected):
    assert needs_advanced(parse_filter(text), entity) == expected


# --- property and operator checks ---------------------------------------------------------------------------


@pytest.mark.parametrize("text,entity", [
    ("userPrincipalName eq 'a@b.c'", "user"),
    ("endswith(userPrincipalName,'@b.c')", "user"),
    ("endswith(mail,'@b.c') or endswith(userPrincipalName,'@b.c')", "user"),
    ("startswith(jobTitle,'Senior') and startswith(department,'A') and startswith(employeeId,'1')", "user"),
    ("startswith(usageLocation,'A') or startswith(mailNickname,'s') or startswith(companyName,'N')", "user"),
    ("otherMails/any(m:endswith(m,'@x.com'))", "user"),
    ("proxyAddresses/any(p:startswith(p,'smtp:'))", "user"),
    ("assignedLicenses/any(x:x/skuId eq %s) and accountEnabled eq true" % E3, "user"),
    ("not(assignedLicenses/any(x:x/skuId eq %s))" % E3, "user"),
    ("assignedLicenses/$count ne 0", "user"),
    ("createdDateTime ge 2024-01-01T00:00:00Z and createdDateTime lt 2025-01-01T00:00:00Z", "user"),
    ("deletedDateTime le 2025-01-01T00:00:00Z", "user"),
    ("businessPhones/any(p:p eq '+61 2 5550 1234')", "user"),
    ("onPremisesImmutableId eq 'abc' and userType eq 'Member'", "user"),
    ("onPremisesExtensionAttributes/extensionAttribute15 eq 'x'", "user"),
    ("displayName ne null and not(displayName eq 'x')", "user"),
    ("mail eq null", "user"),
    ("groupTypes/any(c:c eq 'Unified') and securityEnabled eq false", "group"),
    ("startswith(displayName,'Sales') and mailEnabled eq true", "group"),
    ("principalId eq 'abc' and roleDefinitionId eq '62e90394-69f5-4237-9190-012177145e10'", "roleAssignment"),
])
def test_check_properties_accepts(text, entity):
    check_properties(parse_filter(text), entity)


@pytest.mark.parametrize("text,entity,code,message", [
    ("contains(displayName,'ar')", "user", "Request_UnsupportedQuery", "Unsupported property filter clause operator 'Contains'."),
    ("tolower(displayName) eq 'sarah'", "user", "Request_UnsupportedQuery", "Unsupported property filter clause operator 'ToLower'."),
    ("endswith(displayName,'Jones')", "user", "Request_UnsupportedQuery", user_property("displayName")),
    ("startswith(accountEnabled,'t')", "user", "BadRequest",
     "Invalid filter clause: No function signature for the function with name 'startswith' matches the specified arguments. "
     "The function signatures considered are: startswith(Edm.String Nullable=true, Edm.String Nullable=true)."),
    ("startswith(createdDateTime,'2024')", "user", "BadRequest", None),
    ("startswith(displayName)", "user", "BadRequest", None),
    ("passwordProfile eq 'x'", "user", "Request_UnsupportedQuery", user_property("passwordProfile")),
    ("preferredLanguage eq 'en-AU'", "user", "Request_UnsupportedQuery", user_property("preferredLanguage")),
    ("givenName eq 'a' and nosuch eq 'b'", "user", "Request_UnsupportedQuery", user_property("nosuch")),
    ("displayName in ('a','b') and endswith(jobTitle,'x')", "user", "Request_UnsupportedQuery", user_property("jobTitle")),
    ("proxyAddresses/any(p:p in ('a','b'))", "user", "Request_UnsupportedQuery", user_property("proxyAddresses")),
    ("proxyAddresses/any(p:p ne 'a')", "user", "Request_UnsupportedQuery", user_property("proxyAddresses")),
    ("accountEnabled ge true", "user", "Request_UnsupportedQuery", user_property("accountEnabled")),
    ("userPrincipalName eq null", "user", "Request_UnsupportedQuery", user_property("userPrincipalName")),
    ("assignedLicenses/$count gt 1", "user", "Request_UnsupportedQuery", user_property("assignedLicenses")),
    ("accountEnabled", "user", "Request_UnsupportedQuery", user_property("accountEnabled")),
    ("accountEnabled eq 'true'", "user", "BadRequest",
     "Invalid filter clause: A binary operator with incompatible types was detected. Found operand types 'Edm.Boolean' and 'Edm.String' "
     "for operator kind 'Equal'."),
    ("assignedLicenses/any(x:x/skuId eq '%s')" % E3, "user", "BadRequest",
     "Invalid filter clause: A binary operator with incompatible types was detected. Found operand types 'Edm.Guid' and 'Edm.String' "
     "for operator kind 'Equal'."),
    ("createdDateTime ge '2024-01-01'", "user", "BadRequest", None),
    ("id eq %s" % E3, "user", "BadRequest", None),
    ("proxyAddresses eq 'smtp:a@b.c'", "user", "BadRequest",
     "Invalid filter clause: A binary operator with incompatible types was detected. Found operand types 'Collection(Edm.String)' and "
     "'Edm.String' for operator kind 'Equal'."),
    ("not displayName eq 'x'", "user", "BadRequest",
     "Invalid filter clause: A unary operator with an incompatible type was detected. Found operand type 'Edm.String' for operator kind 'Not'."),
    ("displayName/any(x:x eq 'a')", "user", "BadRequest", None),
    ("assignedLicenses/any(x:x/nosuch eq 1)", "user", "BadRequest",
     "Invalid filter clause: Could not find a property named 'nosuch' on type 'microsoft.graph.assignedLicense'."),
    ("onPremisesExtensionAttributes/extensionAttribute16 eq 'x'", "user", "BadRequest", None),
    ("assignedLicenses/any(x:displayName eq 'a')", "user", "Request_UnsupportedQuery", "Unsupported Query."),
    ("'a' eq 'a'", "user", "Request_UnsupportedQuery", "Unsupported Query."),
    ("displayName", "user", "BadRequest", "Invalid filter clause: The $filter expression must evaluate to a single boolean value."),
    ("isDefault eq true", "domain", "Request_UnsupportedQuery",
     "Unsupported or invalid query filter clause specified for property 'isDefault' of resource 'Domain'."),
    ("id eq 'northwindacct.com'", "domain", "Request_UnsupportedQuery", None),
    ("not(principalId eq 'a')", "roleAssignment", "Request_UnsupportedQuery",
     "Unsupported or invalid query filter clause specified for property 'principalId' of resource 'UnifiedRoleAssignment'."),
    ("displayName eq 'x'", "roleAssignment", "Request_UnsupportedQuery", None),
    ("accountEnabled eq true", "group", "Request_UnsupportedQuery",
     "Unsupported or invalid query filter clause specified for property 'accountEnabled' of resource 'Group'."),
])
def test_check_properties_rejects(text, entity, code, message):
    with pytest.raises(ODataError) as caught:
        check_properties(parse_filter(text), entity)
    assert caught.value.status == 400
    assert caught.value.code == code
    if message is not None:
        assert caught.value.message == message


def test_unknown_entity_is_a_programming_error():
    with pytest.raises(ValueError):
        check_properties(parse_filter("id eq 'a'"), "spaceship")


def test_entities_is_a_plain_extensible_dict():
    assert isinstance(odata.ENTITIES, dict)
    assert "userPrincipalName" in odata.ENTITIES["user"]
    assert odata.ENTITIES["domain"] == {}
    for name in ("id", "userPrincipalName", "displayName", "givenName", "surname", "mail", "mailNickname", "otherMails", "proxyAddresses",
                 "accountEnabled", "usageLocation", "jobTitle", "department", "companyName", "officeLocation", "employeeId", "userType",
                 "createdDateTime", "assignedLicenses", "mobilePhone", "businessPhones", "onPremisesImmutableId", "deletedDateTime"):
        assert name in odata.ENTITIES["user"], name
    odata.ENTITIES["widget"] = {"colour": {"type": odata.STRING, "ops": {"eq": odata.DEFAULT}}}
    try:
        check_properties(parse_filter("colour eq 'red'"), "widget")
        assert needs_advanced(parse_filter("colour eq 'red'"), "widget") is None
        with pytest.raises(ODataError) as caught:
            check_properties(parse_filter("startswith(colour,'r')"), "widget")
        assert caught.value.message == "Unsupported or invalid query filter clause specified for property 'colour' of resource 'Widget'."
    finally:
        del odata.ENTITIES["widget"]


# --- compile_filter -------------------------------------------------------------------------------------------


def test_compile_filter_requires_advanced_mode_for_endswith():
    text = "endswith(userPrincipalName,'@northwindacct.com')"
    with pytest.raises(ODataError) as caught:
        compile_filter(text, "user")
    assert (caught.value.status, caught.value.code, caught.value.message) == (400, "Request_UnsupportedQuery", ADVANCED_ENDSWITH)
    node = compile_filter(text, "user", advanced=True)
    assert evaluate(node, SARAH)


def test_compile_filter_still_rejects_unsupported_properties_in_advanced_mode():
    with pytest.raises(ODataError) as caught:
        compile_filter("endswith(displayName,'s')", "user", advanced=True)
    assert caught.value.message == user_property("displayName")


def test_odata_error_attributes():
    error = ODataError(400, "BadRequest", "Invalid filter clause: x")
    assert (error.status, error.code, error.message, str(error)) == (400, "BadRequest", "Invalid filter clause: x", "Invalid filter clause: x")
