"""The sandbox started from a doctor snapshot (tests/sandbox/snapshot.py), in process: the Graph and Practice Protect
tenants take the snapshot's shape, reset returns to it, and a file that is not a snapshot is refused."""

import json

import pytest

from tests.sandbox import snapshot as snapshot_module
from tests.sandbox.__main__ import main
from tests.sandbox.pp_state import AAD_UUID, CDS_UUID, PPTenant
from tests.sandbox.state import Tenant

E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
PLAN = {"servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0", "servicePlanName": "EXCHANGE_S_ENTERPRISE"}


def snap(users=None):
    data = {
        "snapshot_version": 1, "taken": "2025-01-01T00:00:00+00:00", "users_included": users is not None,
        "domains": [{"id": "contoso.onmicrosoft.com", "isVerified": True, "isInitial": True, "isDefault": False, "supportedServices": ["Email"]},
                    {"id": "Contoso.com", "isVerified": True, "isInitial": False, "isDefault": True, "supportedServices": ["Email"]},
                    {"id": "old.contoso.com", "isVerified": False, "isInitial": False, "isDefault": False, "supportedServices": []}],
        "skus": [{"skuId": E3, "skuPartNumber": "ENTERPRISEPACK", "capabilityStatus": "Enabled", "prepaidUnits": {"enabled": 5},
                  "consumedUnits": 4, "servicePlans": [PLAN]},
                 {"skuId": "11111111-2222-3333-4444-555555555555", "skuPartNumber": "NEW_THING", "capabilityStatus": "Enabled",
                  "prepaidUnits": {"enabled": 3}, "consumedUnits": 0, "servicePlans": [{"servicePlanId": "x", "servicePlanName": "NEW_PLAN"}]}],
        "directory_roles": ["Global Administrator", "Exchange Administrator", "Some Future Role"],
        "groups": [{"displayName": "All Staff", "description": "Everyone", "mailNickname": "allstaff", "mailEnabled": False, "securityEnabled": True,
                    "groupTypes": [], "members": ["Tax"] + (["jane@contoso.com"] if users else [])},
                   {"displayName": "Tax", "description": None, "mailNickname": "tax", "mailEnabled": False, "securityEnabled": True, "groupTypes": [],
                    "members": []}],
        "practice_protect": {
            "roles": [{"Name": "Office 365", "Description": "Provisioned"}, {"Name": "Partners", "Description": "The partners"},
                      {"Name": "System Administrator", "Description": None}],
            "directories": [{"Service": "CDS", "DisplayName": "Contoso Directory", "Name": "CDS", "Status": "Active"},
                            {"Service": "FDS", "DisplayName": "Federated Directory Service", "Name": "FDS", "Status": "Active"},
                            {"Service": "AAD", "DisplayName": "Azure Active Directory", "Name": "AAD", "Status": "Active"},
                            {"Service": "AdProxy", "DisplayName": "Active Directory: corp.local", "Name": "AdProxy_corp", "Status": "Inactive"}],
            "applications": [{"Name": "Office 365", "ProvCapable": True, "ProvConfigured": True, "ProvSettingEnabled": False}]},
    }
    if users is not None:
        data["users"] = users
        data["practice_protect"]["users"] = [{"Name": "partner@contoso.com", "DisplayName": "A Partner", "Mail": "partner@contoso.com",
                                              "Source": "CDS", "Status": "Active", "Roles": ["Partners", "Office 365"]},
                                             {"Name": "jane@contoso.com", "Source": "AzureAD", "Roles": []}]
    return data


def tenants(data):
    graph = Tenant("snapshot", snapshot=data)
    return graph, PPTenant(graph)


def test_graph_tenant_takes_the_shape_and_keeps_the_free_seats():
    graph = tenants(snap())[0]
    assert sorted((d["id"], d["isVerified"], d["isDefault"]) for d in graph.list_domains()) == [
        ("contoso.com", True, True), ("contoso.onmicrosoft.com", True, False), ("old.contoso.com", False, False)]
    skus = dict((s["skuPartNumber"], s) for s in graph.list_skus())
    assert (skus["ENTERPRISEPACK"]["prepaidUnits"]["enabled"], skus["ENTERPRISEPACK"]["consumedUnits"]) == (5, 4)
    assert graph.free_units(E3) == 1
    assert graph.list_users() == []
    groups = dict((g["displayName"], g) for g in graph.dump()["groups"])
    assert [m["name"] for m in groups["All Staff"]["members"]] == ["Tax"]
    roles = [r["displayName"] for r in graph.list_directory_roles()]
    assert "Exchange Administrator" in roles and "Some Future Role" not in roles


def test_users_with_licences_roles_and_groups_and_reset_returns_to_the_snapshot():
    users = [{"userPrincipalName": "jane@contoso.com", "displayName": "Jane", "usageLocation": "AU", "accountEnabled": True, "licenses": [E3],
              "directoryRoles": ["Exchange Administrator"]}]
    graph, pp = tenants(snap(users))
    jane = graph.get_user("jane@contoso.com")
    assert [lic["skuId"] for lic in jane["assignedLicenses"]] == [E3]
    assert graph.consumed_units(E3) == 4 and graph.consumed_units(E3, reserved=False) == 1
    assert graph.principal_role_ids(jane["id"]) == {"29232cdf-9323-42fd-ade2-1d097af3e4de"}
    assert graph.mailbox_of(jane["id"]) is not None
    graph.update_user("jane@contoso.com", {"displayName": "Changed"})
    graph.reset()
    pp.reset()
    assert graph.get_user("jane@contoso.com")["displayName"] == "Jane"
    assert [u["Name"] for u in pp.dump()["users"] if not u.get("ServiceUser")] == ["partner@contoso.com"]


def test_practice_protect_takes_roles_directories_and_the_apps_state():
    pp = tenants(snap())[1]
    names = sorted(r["Name"] for r in pp.roles.values())
    assert names == ["Everybody", "Office 365", "Partners", "System Administrator"]
    rows = pp.directories()
    assert [(r["Service"], r["directoryServiceUuid"], r["Status"]) for r in rows][:3] == [
        ("CDS", CDS_UUID, "Active"), ("FDS", "c30b30b1-0b46-49ac-8d99-f6279eed7999", "Active"), ("AAD", AAD_UUID, "Active")]
    office = [a for a in pp.apps.values() if a["Name"] == "Office 365"][0]
    assert (office["ProvConfigured"], office["ProvSettingEnabled"]) == (True, False)
    assert office["_prov"]["roles"] == [pp.role_by_name("Office 365")["ID"]]
    assert office["_prov"]["sku"] == "ENTERPRISEPACK"  # the seed's SKU is not this tenant's: one with an Exchange plan
    assert all(not u.get("Roles") or u.get("ServiceUser") for u in pp.dump()["users"])


@pytest.mark.parametrize("content, message", [
    ("not json", "is not JSON"),
    (json.dumps({"snapshot_version": 2}), "not a doctor snapshot of version 1"),
    (json.dumps({"snapshot_version": 1, "domains": []}), "has no domains"),
    (json.dumps({"snapshot_version": 1, "domains": [{"id": "contoso.com"}]}), "no initial"),
])
def test_a_file_that_is_not_a_snapshot_is_refused(tmp_path, capsys, content, message):
    path = tmp_path / "snap.json"
    path.write_text(content)
    with pytest.raises(snapshot_module.SnapshotError, match=message):
        snapshot_module.load(str(path))
    assert main(["serve", "--state-dir", str(tmp_path / "state"), "--snapshot", str(path)]) == 2
    assert message in capsys.readouterr().err
