"""tests/bench/inventory.py: the hosts-as-people inventory of the benchmark, as Ansible reads it."""

import json
import os
import subprocess
import sys

import pytest

from tests.bench import inventory


def test_joiners_leavers_and_the_survey_joiner():
    inv = inventory.build(12)
    intake = inventory.members(inv, "intake")
    leavers = inventory.members(inv, "leavers")
    survey = inventory.members(inv, "survey")
    assert len(intake) == 12 and len(leavers) == 2 and len(survey) == 1
    assert leavers == intake[:2]
    upns = [p["upn"] for p in intake + survey]
    aliases = [a for p in intake + survey for a in p["aliases"]]
    assert len(set(upns)) == 13 and len(set(aliases)) == 26      # every address once
    assert not set(upns) & set(aliases)
    for person in intake + survey:
        assert person["upn"].endswith("@" + inventory.DOMAIN)
        assert len(person["aliases"]) == 2 and person["pp_roles"] == [inventory.ROLE]
    assert survey[0]["upn"] not in [p["upn"] for p in intake]
    tenant = inv["all"]["vars"]
    assert tenant["onboard_deployment"] == "entra_source" and tenant["onboard_default_licenses"] == [inventory.LICENCE]
    assert tenant["onboard_password_delivery"] == "none" and tenant["ansible_connection"] == "local"


def test_a_fifth_leave_and_host_names_widen_past_9999():
    assert inventory.leaver_count(1000) == 200 and inventory.leaver_count(3) == 1
    assert len(inventory.members(inventory.build(1000), "leavers")) == 200
    assert inventory.host_name(7) == "joiner0007" and inventory.host_name(7, 5) == "joiner00007"
    inv = inventory.build(10000, leavers=0)
    names = list(inv["all"]["children"]["people"]["children"]["intake"]["hosts"])
    assert names[0] == "joiner00001" and names[-1] == "joiner10000"
    assert inventory.members(inv, "leavers") == []


def test_bad_counts_are_refused():
    with pytest.raises(ValueError):
        inventory.build(0)
    with pytest.raises(ValueError):
        inventory.build(3, leavers=4)


def test_ansible_reads_the_groups(tmp_path):
    path, _ = inventory.write(str(tmp_path), 6)
    assert os.path.basename(path) == "hosts.yml"
    with open(path) as handle:
        json.load(handle)  # JSON, which is YAML
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")
    out = subprocess.run([binary, "-i", path, "--list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                         check=True)
    seen = json.loads(out.stdout)
    assert seen["intake"]["hosts"] == ["joiner%04d" % i for i in range(1, 7)]
    assert seen["leavers"]["hosts"] == ["joiner0001"]
    assert seen["survey"]["hosts"] == [inventory.SURVEY_HOST]
    assert sorted(seen["people"]["children"]) == ["intake", "survey"]
    hostvars = seen["_meta"]["hostvars"]
    assert hostvars["joiner0003"]["person"]["upn"] == "bench.joiner0003@northwindacct.com"
    assert hostvars["joiner0001"]["person"]["upn"] == "bench.joiner0001@northwindacct.com"  # a leaver keeps its person
