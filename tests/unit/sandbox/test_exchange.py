"""The sandbox's Exchange Online: the mailbox model in process (a fake clock), then InvokeCommand over HTTPS."""

import pytest
import requests

from tests.sandbox import exchange
from tests.sandbox.client import start_sandbox
from tests.sandbox.state import Tenant

SARAH = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"
TOM = "c4f7a2d9-5e1b-4c3a-8f6d-9b0e2a7c5d13"
BSTD = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
HASH = "#Exchange.GenericHashTable"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


# ---------------------------------------------------------------------------------------------------------------
# In process


@pytest.fixture
def tenant():
    clock = Clock()
    t = Tenant(clock=clock)
    t.test_clock = clock
    return t


def new_user(tenant, upn="jane.citizen@northwindacct.com"):
    return tenant.create_user({"accountEnabled": True, "displayName": "Jane Citizen", "mailNickname": upn.split("@")[0],
                               "userPrincipalName": upn, "usageLocation": "AU",
                               "passwordProfile": {"password": "Sandbox-Passw0rd!", "forceChangePasswordNextSignIn": True}})["id"]


def test_seeded_licensed_users_have_mailboxes_and_graph_follows(tenant):
    sarah = tenant.mailbox_of(SARAH)
    assert sarah["RecipientTypeDetails"] == "UserMailbox"
    assert sarah["EmailAddresses"] == ["SMTP:sarah.jones@northwindacct.com", "smtp:sarah.jones@northwindacct.onmicrosoft.com"]
    user = tenant.get_user(SARAH)
    assert user["mail"] == "sarah.jones@northwindacct.com" and user["proxyAddresses"] == sarah["EmailAddresses"]
    assert tenant.mailbox_of("2e9a4c61-7b3d-4f8e-a0c5-6d1f3b8e9a20") is None  # the unlicensed admin


def test_mailbox_appears_after_the_provisioning_delay(tenant):
    tenant.config["mailbox_provisioning_delay_s"] = 30
    user_id = new_user(tenant)
    tenant.assign_license(user_id, [{"skuId": BSTD, "disabledPlans": []}], [])
    tenant.settle_mailboxes()
    assert tenant.mailbox_of(user_id) is None and tenant.get_user(user_id)["mail"] is None
    tenant.test_clock.now += 29
    tenant.settle_mailboxes()
    assert tenant.mailbox_of(user_id) is None
    tenant.test_clock.now += 1
    tenant.settle_mailboxes()
    assert tenant.mailbox_of(user_id)["PrimarySmtpAddress"] == "jane.citizen@northwindacct.com"
    assert tenant.get_user(user_id)["proxyAddresses"] == ["SMTP:jane.citizen@northwindacct.com",
                                                          "smtp:jane.citizen@northwindacct.onmicrosoft.com"]


def test_a_held_mailbox_is_released_by_shortening_the_delay(tenant):
    tenant.config["mailbox_provisioning_delay_s"] = 3600
    tenant.config["shared_conversion_delay_s"] = 3600
    user_id = new_user(tenant)
    tenant.assign_license(user_id, [{"skuId": BSTD, "disabledPlans": []}], [])
    tenant.set_mailbox_type(TOM, "SharedMailbox")
    tenant.test_clock.now += 60
    tenant.settle_mailboxes()
    assert tenant.mailbox_of(user_id) is None and tenant.mailbox_of(TOM)["RecipientTypeDetails"] == "UserMailbox"
    tenant.config["mailbox_provisioning_delay_s"] = 0
    tenant.config["shared_conversion_delay_s"] = 0
    tenant.settle_mailboxes()
    assert tenant.mailbox_of(user_id) is not None and tenant.mailbox_of(TOM)["RecipientTypeDetails"] == "SharedMailbox"


def test_no_mailbox_when_the_licence_goes_before_it_is_ready(tenant):
    tenant.config["mailbox_provisioning_delay_s"] = 10
    user_id = new_user(tenant)
    tenant.assign_license(user_id, [{"skuId": BSTD, "disabledPlans": []}], [])
    tenant.assign_license(user_id, [], [BSTD])
    tenant.test_clock.now += 11
    tenant.settle_mailboxes()
    assert tenant.mailbox_of(user_id) is None and user_id not in tenant.mailboxes


def test_staged_addresses_apply_when_the_mailbox_is_provisioned(tenant):
    user_id = new_user(tenant)
    tenant.stage_email_addresses(user_id, ["SMTP:jane@northwindacct.com", "smtp:jc@northwindacct.com", "smtp:x@contoso.com",
                                           "smtp:sarah.jones@northwindacct.com"])
    assert tenant.mailbox_of(user_id) is None
    tenant.assign_license(user_id, [{"skuId": BSTD, "disabledPlans": []}], [])
    mailbox = tenant.mailbox_of(user_id)
    assert mailbox["EmailAddresses"] == ["SMTP:jane@northwindacct.com", "smtp:jc@northwindacct.com",
                                         "smtp:jane.citizen@northwindacct.onmicrosoft.com"]
    errors = [m for m in tenant.dump_mailboxes() if m["user_id"] == user_id][0]["provisioning_errors"]
    assert len(errors) == 2 and "contoso.com" in errors[0] and "Sarah Jones" in errors[1]
    assert tenant.get_user(user_id)["mail"] == "jane@northwindacct.com"


def test_staging_on_an_existing_mailbox_applies_now_and_keeps_the_routing_address(tenant):
    tenant.stage_email_addresses(TOM, ["SMTP:tb@northwindacct.com", "smtp:tom.baker@northwindacct.com"])
    assert tenant.mailbox_of(TOM)["EmailAddresses"] == ["SMTP:tb@northwindacct.com", "smtp:tom.baker@northwindacct.com",
                                                        "smtp:tom.baker@northwindacct.onmicrosoft.com"]
    with pytest.raises(exchange.ExchangeError) as err:
        tenant.stage_email_addresses(TOM, ["SMTP:sarah.jones@northwindacct.com"])
    assert err.value.status == 400 and "Sarah Jones" in err.value.message


def test_conversion_shows_after_its_delay(tenant):
    tenant.config["shared_conversion_delay_s"] = 5
    assert tenant.set_mailbox_type(TOM, "SharedMailbox")
    assert not tenant.set_mailbox_type(TOM, "SharedMailbox")  # already on its way
    assert tenant.mailbox_of(TOM)["RecipientTypeDetails"] == "UserMailbox"
    tenant.test_clock.now += 5
    tenant.settle_mailboxes()
    assert tenant.mailbox_of(TOM)["RecipientTypeDetails"] == "SharedMailbox"


def test_deleted_users_mailbox_is_hidden_and_returns_on_restore(tenant):
    tenant.delete_user(TOM)
    assert tenant.mailbox_of(TOM) is None
    tenant.restore_deleted(TOM)
    assert tenant.mailbox_of(TOM)["UserPrincipalName"] == "tom.baker@northwindacct.com"


def test_reset_clears_mailboxes(tenant):
    tenant.set_mailbox_type(TOM, "SharedMailbox")
    tenant.reset()
    assert tenant.mailbox_of(TOM)["RecipientTypeDetails"] == "UserMailbox"


# ---------------------------------------------------------------------------------------------------------------
# Over HTTPS


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(str(tmp_path_factory.mktemp("exchange")))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def fresh(request):
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset()


class Exo:
    def __init__(self, sandbox, token):
        self.url = "%s/adminapi/beta/%s/InvokeCommand" % (sandbox.env["M365_EXCHANGE_URL"], sandbox.env["M365_TENANT_ID"])
        self.http = requests.Session()
        self.http.verify = sandbox.env["M365_CA_PATH"]
        self.http.trust_env = False
        self.token = token

    def raw(self, name, params=None, url=None, headers=None):
        all_headers = {"Authorization": "Bearer " + self.token}
        all_headers.update(headers or {})
        return self.http.post(url or self.url, json={"CmdletInput": {"CmdletName": name, "Parameters": params or {}}},
                              headers=all_headers, timeout=30)

    def ok(self, name, **params):
        response = self.raw(name, params)
        assert response.status_code == 200, response.text
        return response.json()

    def fails(self, name, status, **params):
        response = self.raw(name, params)
        assert response.status_code == status, response.text
        detail = response.json()["error"]["details"][0]["message"]
        error_id, kind, text = detail.split("|", 2)
        assert error_id.startswith("Ex") and response.json()["error"]["innererror"]["internalException"]["message"] == text
        return kind.rsplit(".", 1)[-1], text


@pytest.fixture
def exo(sandbox):
    return Exo(sandbox, sandbox.token(resource=sandbox.env["M365_EXCHANGE_URL"]))


def addresses(exo, identity):
    return exo.ok("Get-Mailbox", Identity=identity)["value"][0]["EmailAddresses"]


def test_get_mailbox_by_every_kind_of_identity(exo):
    for identity in (TOM, "tom.baker@northwindacct.com", "tom.baker@northwindacct.onmicrosoft.com", "tom.baker", "Tom Baker"):
        [mailbox] = exo.ok("Get-Mailbox", Identity=identity)["value"]
        assert mailbox["ExternalDirectoryObjectId"] == TOM and mailbox["RecipientTypeDetails"] == "UserMailbox"
    kind, text = exo.fails("Get-Mailbox", 404, Identity="nobody@northwindacct.com")
    assert kind == "ManagementObjectNotFoundException" and text.startswith("The operation couldn't be performed because object "
                                                                           "'nobody@northwindacct.com' couldn't be found on '")


def test_accepted_domains_are_the_verified_domains(exo):
    domains = {d["DomainName"]: d for d in exo.ok("Get-AcceptedDomain")["value"]}
    assert sorted(domains) == ["northwindacct.com", "northwindacct.onmicrosoft.com"]
    assert domains["northwindacct.onmicrosoft.com"]["InitialDomain"] and domains["northwindacct.com"]["Default"]


def test_add_and_remove_with_the_hash_table_and_graph_follows(sandbox, exo):
    exo.ok("Set-Mailbox", Identity=TOM, EmailAddresses={"@odata.type": HASH, "Add": ["smtp:tb@northwindacct.com", "tbaker@northwindacct.com"]})
    assert addresses(exo, TOM)[-2:] == ["smtp:tb@northwindacct.com", "smtp:tbaker@northwindacct.com"]
    exo.ok("Set-Mailbox", Identity=TOM, EmailAddresses={"@odata.type": HASH, "remove": ["smtp:TB@northwindacct.com"], "Add": "SMTP:tbaker@northwindacct.com"})
    assert addresses(exo, TOM) == ["SMTP:tbaker@northwindacct.com", "smtp:tom.baker@northwindacct.com",
                                   "smtp:tom.baker@northwindacct.onmicrosoft.com"]
    graph = sandbox.graph_session()
    user = graph.get(sandbox.graph_url + "/users/%s?$select=mail,proxyAddresses" % TOM, timeout=30).json()
    assert user["mail"] == "tbaker@northwindacct.com" and user["proxyAddresses"] == addresses(exo, TOM)


def test_full_list_replaces_and_the_first_smtp_is_primary_without_a_marker(exo):
    exo.ok("Set-Mailbox", Identity=TOM, EmailAddresses=["tom@northwindacct.com", "smtp:tom.baker@northwindacct.onmicrosoft.com"])
    assert addresses(exo, TOM) == ["SMTP:tom@northwindacct.com", "smtp:tom.baker@northwindacct.onmicrosoft.com"]


@pytest.mark.parametrize("params, kind, text", [
    ({"EmailAddresses": {"Add": ["smtp:sarah.jones@northwindacct.com"]}}, "ProxyAddressExistsException",
     'The proxy address "smtp:sarah.jones@northwindacct.com" is already being used by the proxy addresses or LegacyExchangeDN of '
     '"Sarah Jones". Please choose another proxy address.'),
    ({"EmailAddresses": {"Add": ["smtp:tom@contoso.com"]}}, "DataValidationException",
     "You can't use the domain contoso.com because it's not an accepted domain for your organization."),
    ({"EmailAddresses": {"Add": ["smtp:tom@northwind-legacy.com"]}}, "DataValidationException",
     "You can't use the domain northwind-legacy.com because it's not an accepted domain for your organization."),
    ({"EmailAddresses": {"Add": ["smtp:not an address"]}}, "DataValidationException", 'The e-mail address "not an address" isn\'t correct.'),
    ({"EmailAddresses": {"Remove": ["smtp:tom.baker@northwindacct.onmicrosoft.com"]}}, "TaskInvalidOperationException",
     "You can't remove the e-mail address \"smtp:tom.baker@northwindacct.onmicrosoft.com\""),
    ({"EmailAddresses": {"Remove": ["tom.baker@northwindacct.com"]}}, "TaskInvalidOperationException",
     "You can't remove the primary SMTP address \"tom.baker@northwindacct.com\"."),
    ({"EmailAddresses": ["SMTP:tom.baker@northwindacct.com"]}, "TaskInvalidOperationException", "You can't remove the e-mail address"),
    ({"EmailAddresses": ["SMTP:a@northwindacct.com", "SMTP:tom.baker@northwindacct.com", "smtp:tom.baker@northwindacct.onmicrosoft.com"]},
     "DataValidationException", "The EmailAddresses list can contain only one primary SMTP address"),
    ({"EmailAddresses": {"Add": ["foo:bar"]}}, "DataValidationException", 'The proxy address "foo:bar" has a prefix'),
    ({"Colour": "blue"}, "ParameterBindingException", "A parameter cannot be found that matches parameter name 'Colour'."),
    ({"HiddenFromAddressListsEnabled": "yes"}, "ParameterBindingException", "Cannot process argument transformation on parameter "
                                                                            "'HiddenFromAddressListsEnabled'."),
    ({"Type": "Room"}, "ParameterBindingException", "Cannot process argument transformation on parameter 'Type'."),
])
def test_refused_changes_change_nothing(exo, params, kind, text):
    before = exo.ok("Get-Mailbox", Identity=TOM)["value"][0]
    params = dict(params, Identity=TOM, HiddenFromAddressListsEnabled=params.get("HiddenFromAddressListsEnabled", True))
    got_kind, got_text = exo.fails("Set-Mailbox", 400, **params)
    assert got_kind == kind and got_text.startswith(text)
    after = exo.ok("Get-Mailbox", Identity=TOM)["value"][0]
    assert after == before  # nothing applied, not even the valid HiddenFromAddressListsEnabled


def test_settings_forwarding_hidden_and_the_not_modified_warning(exo):
    body = exo.ok("Set-Mailbox", Identity=TOM, ForwardingSmtpAddress="boss@example.org", DeliverToMailboxAndForward=True,
                  HiddenFromAddressListsEnabled=True)
    assert body["value"] == [] and body["@adminapi.warnings"] == []
    mailbox = exo.ok("Get-Mailbox", Identity=TOM)["value"][0]
    assert mailbox["ForwardingSmtpAddress"] == "smtp:boss@example.org" and mailbox["DeliverToMailboxAndForward"]
    assert mailbox["HiddenFromAddressListsEnabled"]
    again = exo.ok("Set-Mailbox", Identity=TOM, HiddenFromAddressListsEnabled=True)
    assert again["@adminapi.warnings"] == ["The command completed successfully but no settings of 'Tom Baker' have been modified."]
    exo.ok("Set-Mailbox", Identity=TOM, ForwardingSmtpAddress=None)
    assert exo.ok("Get-Mailbox", Identity=TOM)["value"][0]["ForwardingSmtpAddress"] is None


def test_conversion_with_a_delay(sandbox, exo):
    sandbox.configure(shared_conversion_delay_s=1.5)
    exo.ok("Set-Mailbox", Identity=TOM, Type="Shared")
    assert exo.ok("Get-Mailbox", Identity=TOM)["value"][0]["RecipientTypeDetails"] == "UserMailbox"
    import time
    time.sleep(1.6)
    assert exo.ok("Get-Mailbox", Identity=TOM)["value"][0]["RecipientTypeDetails"] == "SharedMailbox"
    shared = exo.ok("Get-Mailbox", RecipientTypeDetails="SharedMailbox")["value"]
    assert [m["ExternalDirectoryObjectId"] for m in shared] == [TOM]


def test_mailbox_permissions(exo):
    added = exo.ok("Add-MailboxPermission", Identity=TOM, User="sarah.jones@northwindacct.com", AccessRights=["FullAccess"],
                   InheritanceType="All", AutoMapping=False)["value"]
    assert added[0]["User"] == "sarah.jones@northwindacct.com" and added[0]["AccessRights"] == ["FullAccess"]
    users = [(p["User"], p["IsInherited"]) for p in exo.ok("Get-MailboxPermission", Identity=TOM)["value"]]
    assert users == [("NT AUTHORITY\\SELF", False), ("sarah.jones@northwindacct.com", False)]
    exo.ok("Remove-MailboxPermission", Identity=TOM, User="sarah.jones@northwindacct.com", AccessRights="FullAccess", Confirm=False)
    assert len(exo.ok("Get-MailboxPermission", Identity=TOM)["value"]) == 1
    gone = exo.ok("Remove-MailboxPermission", Identity=TOM, User="sarah.jones@northwindacct.com", AccessRights="FullAccess")
    assert gone["@adminapi.warnings"][0].startswith("Can't remove the access control entry on the object \"Tom Baker\"")
    assert exo.fails("Add-MailboxPermission", 400, Identity=TOM, User="sarah.jones@northwindacct.com", AccessRights="SendAs")[0] == \
        "ParameterBindingException"
    assert exo.fails("Add-MailboxPermission", 404, Identity=TOM, User="nobody@northwindacct.com", AccessRights="FullAccess")[0] == \
        "ManagementObjectNotFoundException"


def test_paging_follows_next_link_with_the_same_body(sandbox, exo):
    sandbox.seed([{"userPrincipalName": "bulk%02d@northwindacct.com" % i, "usageLocation": "AU", "licenses": ["FLOW_FREE"]} for i in range(3)]
                 + [{"userPrincipalName": "mbx%02d@northwindacct.com" % i, "usageLocation": "AU", "licenses": ["EXCHANGESTANDARD"]}
                    for i in range(3)])
    first = exo.raw("Get-Mailbox", {"ResultSize": "Unlimited"}, headers={"Prefer": "odata.maxpagesize=2"}).json()
    assert len(first["value"]) == 2 and "$skiptoken=" in first["@odata.nextLink"]
    seen = [m["UserPrincipalName"] for m in first["value"]]
    link = first["@odata.nextLink"]
    while link:
        page = exo.raw("Get-Mailbox", {"ResultSize": "Unlimited"}, url=link, headers={"Prefer": "odata.maxpagesize=2"}).json()
        seen += [m["UserPrincipalName"] for m in page["value"]]
        link = page.get("@odata.nextLink")
    seeded = ["sarah.jones@northwindacct.com", "tom.baker@northwindacct.com", "it.admin@northwindacct.onmicrosoft.com", "boardroom@northwindacct.com"]
    assert seen == seeded + ["mbx%02d@northwindacct.com" % i for i in range(3)]
    capped = exo.ok("Get-Mailbox", ResultSize=1)
    assert len(capped["value"]) == 1 and capped["@adminapi.warnings"][0].startswith("There are more results available")


def test_select_limits_properties(exo):
    body = exo.raw("Get-Mailbox", {"Identity": TOM}, url=exo.url + "?$select=Alias,EmailAddresses").json()
    assert body["value"] == [{"Alias": "tom.baker", "EmailAddresses@odata.type": "#Collection(String)",
                              "EmailAddresses": ["SMTP:tom.baker@northwindacct.com", "smtp:tom.baker@northwindacct.onmicrosoft.com"]}]


def test_request_log_names_cmdlets_and_only_writes_are_writes(sandbox, exo):
    mark = sandbox.log()[-1]["seq"] if sandbox.log() else 0
    exo.ok("Get-Mailbox", Identity=TOM)
    exo.ok("Get-MailboxPermission", Identity=TOM)
    exo.ok("Set-Mailbox", Identity=TOM, HiddenFromAddressListsEnabled=True)
    entries = [e for e in sandbox.log(since=mark) if e["service"] == "exchange"]
    assert [(e["cmdlet"], e["write"], e["status"]) for e in entries] == [
        ("Get-Mailbox", False, 200), ("Get-MailboxPermission", False, 200), ("Set-Mailbox", True, 200)]
    assert [e["cmdlet"] for e in sandbox.writes(since=mark)] == ["Set-Mailbox"]
    assert entries[-1]["body_keys"] == ["HiddenFromAddressListsEnabled", "Identity"]


def test_unknown_cmdlet_and_bad_body(exo):
    assert exo.fails("Get-Recipient", 400)[0] == "CommandNotFoundException"
    response = exo.http.post(exo.url, data="not json", headers={"Authorization": "Bearer " + exo.token}, timeout=30)
    assert response.status_code == 400 and response.json()["error"]["code"] == "BadRequest"


def test_mailbox_provisioning_delay_through_graph(sandbox, exo):
    sandbox.configure(mailbox_provisioning_delay_s=1)
    graph = sandbox.graph_session()
    created = graph.post(sandbox.graph_url + "/users", json={
        "accountEnabled": True, "displayName": "Jane", "mailNickname": "jane", "userPrincipalName": "jane@northwindacct.com",
        "usageLocation": "AU", "passwordProfile": {"password": "Sandbox-Passw0rd!"}}, timeout=30).json()
    licence = {"addLicenses": [{"skuId": BSTD, "disabledPlans": []}], "removeLicenses": []}
    graph.post(sandbox.graph_url + "/users/%s/assignLicense" % created["id"], json=licence, timeout=30)
    assert exo.fails("Get-Mailbox", 404, Identity=created["id"])[0] == "ManagementObjectNotFoundException"
    import time
    time.sleep(1.1)
    assert exo.ok("Get-Mailbox", Identity=created["id"])["value"][0]["PrimarySmtpAddress"] == "jane@northwindacct.com"
    user = graph.get(sandbox.graph_url + "/users/%s?$select=mail,proxyAddresses" % created["id"], timeout=30).json()
    assert user["mail"] == "jane@northwindacct.com" and "smtp:jane@northwindacct.onmicrosoft.com" in user["proxyAddresses"]
    assert [m for m in sandbox.state()["mailboxes"] if m["user_id"] == created["id"]][0]["state"] == "active"


def test_token_audience_role_and_directory_role_are_checked(sandbox, exo):
    graph_token = sandbox.token()  # audience Graph, not Exchange
    response = Exo(sandbox, graph_token).raw("Get-Mailbox")
    assert response.status_code == 401 and response.json()["error"]["code"] == "Unauthorized"
    assert "audience" in response.json()["error"]["message"]

    no_role = sandbox.add_app("no Exchange permission", ["User.Read.All"], directory_roles=[exchange.EXCHANGE_ADMIN])
    token = sandbox.token(no_role["client_id"], no_role["client_secret"], resource=sandbox.env["M365_EXCHANGE_URL"])
    response = Exo(sandbox, token).raw("Get-Mailbox")
    assert response.status_code == 401 and response.json()["error"]["message"] == "User is not allowed to call Get-Mailbox"

    no_admin = sandbox.add_app("no Exchange admin role", ["User.Read.All", "Exchange.ManageAsApp"])
    token = sandbox.token(no_admin["client_id"], no_admin["client_secret"], resource=sandbox.env["M365_EXCHANGE_URL"])
    response = Exo(sandbox, token).raw("Set-Mailbox", {"Identity": TOM, "HiddenFromAddressListsEnabled": True})
    assert response.status_code == 401
    assert response.json()["error"]["message"] == (
        "The role assigned to application %s isn't supported in this scenario. Please check online documentation for assigning "
        "correct Directory Roles to Azure AD Application for EXO App-Only Authentication." % no_admin["client_id"])
    assert exo.ok("Get-Mailbox", Identity=TOM)["value"][0]["HiddenFromAddressListsEnabled"] is False

    admin = sandbox.add_app("Exchange admin", ["Exchange.ManageAsApp"], directory_roles=[exchange.EXCHANGE_ADMIN])
    token = sandbox.token(admin["client_id"], admin["client_secret"], resource=sandbox.env["M365_EXCHANGE_URL"])
    assert Exo(sandbox, token).raw("Get-Mailbox").status_code == 200


def test_tenant_path_and_method(sandbox, exo):
    other = exo.url.replace(sandbox.env["M365_TENANT_ID"], "contoso.onmicrosoft.com")
    assert exo.raw("Get-Mailbox", url=other).status_code == 404
    by_domain = exo.url.replace(sandbox.env["M365_TENANT_ID"], "northwindacct.onmicrosoft.com")
    assert exo.raw("Get-Mailbox", url=by_domain).status_code == 200
    assert exo.http.get(exo.url, headers={"Authorization": "Bearer " + exo.token}, timeout=30).status_code == 405


TAX_ANNOUNCEMENTS = "2b7e4c9a-5d1f-4a3b-8e6c-0f2a4b6d8e37"
CLIENT_SERVICES = "8a1d3f5b-7c9e-4b2d-a6f8-1e3c5a7b9d26"
SARAH_ID = "0b6d2f1e-4c3a-4b8e-9d7f-1a2b3c4d5e61"


def test_distribution_groups_and_their_members(sandbox, exo):
    lists = dict((g["DisplayName"], g) for g in exo.ok("Get-DistributionGroup")["value"])
    assert sorted(lists) == ["File Share Access", "Tax Announcements"]  # not the Microsoft 365 group, not the security groups
    assert lists["File Share Access"]["RecipientTypeDetails"] == "MailUniversalSecurityGroup"
    assert lists["Tax Announcements"]["ExternalDirectoryObjectId"] == TAX_ANNOUNCEMENTS
    for identity in (TAX_ANNOUNCEMENTS, "Tax Announcements", "taxannouncements@northwindacct.com", "taxannouncements"):
        [member] = exo.ok("Get-DistributionGroupMember", Identity=identity)["value"]
        assert member["ExternalDirectoryObjectId"] == TOM
    kind, _text = exo.fails("Get-DistributionGroupMember", 404, Identity=CLIENT_SERVICES)  # a Microsoft 365 group is not one
    assert kind == "ManagementObjectNotFoundException"
    kind, _text = exo.fails("Add-DistributionGroupMember", 403, Identity=TAX_ANNOUNCEMENTS, Member="sarah.jones@northwindacct.com")
    assert kind == "OperationRequiresGroupManagerException"
    exo.ok("Add-DistributionGroupMember", Identity=TAX_ANNOUNCEMENTS, Member="sarah.jones@northwindacct.com", BypassSecurityGroupManagerCheck=True)
    kind, text = exo.fails("Add-DistributionGroupMember", 400, Identity=TAX_ANNOUNCEMENTS, Member="sarah.jones@northwindacct.com",
                           BypassSecurityGroupManagerCheck=True)
    assert kind == "MemberAlreadyExistsException" and text == ('The recipient "sarah.jones@northwindacct.com" is already a member of the '
                                                               'group "Tax Announcements".')
    graph = sandbox.graph_session()
    member_of = graph.get(sandbox.graph_url + "/users/%s/memberOf/microsoft.graph.group" % SARAH_ID, params={"$select": "displayName"}, timeout=30)
    assert [g["displayName"] for g in member_of.json()["value"]] == ["All Staff", "Tax Announcements"]  # Graph shows Exchange's change
    exo.ok("Remove-DistributionGroupMember", Identity=TAX_ANNOUNCEMENTS, Member=SARAH_ID, BypassSecurityGroupManagerCheck=True, Confirm=False)
    kind, _text = exo.fails("Remove-DistributionGroupMember", 400, Identity=TAX_ANNOUNCEMENTS, Member=SARAH_ID, BypassSecurityGroupManagerCheck=True)
    assert kind == "MemberNotFoundException"
