"""Licence seats per SKU through the control API (PATCH /_sandbox/skus), for bulk rehearsals such as tests/bench."""

import pytest

from tests.sandbox.client import SandboxError, start_sandbox
from tests.sandbox.errors import GraphError
from tests.sandbox.state import Tenant

STANDARD = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"


def test_set_seats_by_part_number_or_sku_id():
    tenant = Tenant()
    assert tenant.set_seats("o365_business_premium", 1200) == STANDARD
    sku = [s for s in tenant.list_skus() if s["skuId"] == STANDARD][0]
    assert sku["prepaidUnits"]["enabled"] == 1200 and tenant.free_units(STANDARD) == 1200 - sku["consumedUnits"]
    tenant.set_seats(STANDARD, 30)
    assert tenant.skus[STANDARD]["seats"] == 30
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(GraphError):
            tenant.set_seats(STANDARD, bad)
    with pytest.raises(GraphError):
        tenant.set_seats("NO_SUCH_SKU", 5)
    tenant.reset()
    assert tenant.skus[STANDARD]["seats"] == 25  # back to the catalogue


def test_control_api_sets_seats_until_the_next_reset(tmp_path):
    sandbox = start_sandbox(str(tmp_path / "sandbox"))
    try:
        answer = sandbox.control("PATCH", "skus", json={"O365_BUSINESS_PREMIUM": 1050, "SPB": 3})
        seats = dict((s["skuPartNumber"], s["prepaidUnits"]["enabled"]) for s in answer["skus"])
        assert seats["O365_BUSINESS_PREMIUM"] == 1050 and seats["SPB"] == 3
        with sandbox.graph_session() as graph:
            listed = graph.get(sandbox.graph_url + "/subscribedSkus").json()["value"]
        assert [s["prepaidUnits"]["enabled"] for s in listed if s["skuId"] == STANDARD] == [1050]
        with pytest.raises(SandboxError, match="does not correspond to a valid company License"):
            sandbox.control("PATCH", "skus", json={"NOPE": 1})
        with pytest.raises(SandboxError, match="seats must be a whole number"):
            sandbox.control("PATCH", "skus", json={"SPB": -2})
        with pytest.raises(SandboxError, match="must map SKU part numbers"):
            sandbox.control("PATCH", "skus", json=[1])
        assert sandbox.writes() == []  # the control API is not logged
        sandbox.reset()
        assert [s["prepaidUnits"]["enabled"] for s in sandbox.state()["skus"] if s["skuId"] == STANDARD] == [25]
    finally:
        sandbox.stop()
