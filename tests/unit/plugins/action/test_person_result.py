# -*- coding: utf-8 -*-
"""The person_result action: one host's part of an onboard or offboard run, as that host's own result.

Run the way ansible-core's own action plugin unit tests run theirs: the ActionModule built on a mocked task and
connection, ``run`` called with the host's task variables.
"""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.practiceprotect.m365.plugins.action import person_result
from ansible_collections.practiceprotect.m365.plugins.action.person_result import ActionModule

HOST = "jane.citizen"
PASSWORD = "Vq4!tR8#pZ2m-FirstDay"
FACT = {"upn": "jane.citizen@northwindacct.com", "account_created": True, "deployment": "entra"}
DIFF = [{"before": {}, "after": {"userPrincipalName": "jane.citizen@northwindacct.com"}, "before_header": "m365_user",
         "after_header": "m365_user"}]


def entry(**changes):
    """One person's entry of the onboard run's ``people`` (what _batch_action returns per host)."""
    out = {"host": HOST, "upn": "jane.citizen@northwindacct.com", "deployment": "entra", "changed": True, "failed": False, "failed_step": None,
           "outcome": "jane.citizen@northwindacct.com onboarded", "steps": ["Account: created", "Licences: O365_BUSINESS_PREMIUM"],
           "fact": FACT, "diff": DIFF}
    out.update(changes)
    return out


def onboard_run(**changes):
    run = {"changed": False, "people": {HOST: entry()}, "summary": {"people": 1, "changed": 1, "unchanged": 0, "failed": 0},
           "result_fact": "onboard_result", "password_fact": "onboard_password", "modules_run": 7}
    run.update(changes)
    return run


def action(args, diff=False, check_mode=False):
    task = MagicMock(Task)
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = diff
    task.action = "practiceprotect.m365.person_result"
    connection = MagicMock()
    connection._shell.tmpdir = None
    return ActionModule(task, connection, MagicMock(), loader=None, templar=MagicMock(), shared_loader_obj=None)


def run(task_vars, args=None, diff=False):
    return action({"run": "onboard_user_run"} if args is None else args, diff=diff).run(task_vars=dict(task_vars, inventory_hostname=HOST))


def test_the_hosts_entry_becomes_its_result_and_fact():
    result = run({"onboard_user_run": onboard_run()})

    assert result["changed"] is True and "failed" not in result
    assert result["msg"] == "jane.citizen@northwindacct.com onboarded" and result["upn"] == "jane.citizen@northwindacct.com"
    assert result["steps"] == ["Account: created", "Licences: O365_BUSINESS_PREMIUM"]
    assert result["ansible_facts"] == {"onboard_result": FACT}
    assert "diff" not in result and "_ansible_no_log" not in result


def test_diff_is_returned_only_when_the_task_asks():
    assert run({"onboard_user_run": onboard_run()}, diff=True)["diff"] == DIFF


def test_a_password_is_handed_on_as_a_fact_under_no_log(monkeypatch):
    shown = []
    monkeypatch.setattr(person_result.display, "display", lambda text, *args, **kwargs: shown.append(text))

    result = run({"onboard_user_run": onboard_run(passwords={HOST: PASSWORD})})

    assert result["_ansible_no_log"] is True
    assert result["ansible_facts"] == {"onboard_result": FACT, "onboard_password": PASSWORD}
    assert shown == ["jane.citizen: jane.citizen@northwindacct.com onboarded (the password is in onboard_password)"]


def test_an_offboard_run_without_a_password_fact_never_hands_one_on():
    run_var = onboard_run(result_fact="offboard_result", password_fact=None, passwords={HOST: PASSWORD})

    result = run({"onboard_user_run": run_var})

    assert result["ansible_facts"] == {"offboard_result": FACT} and "_ansible_no_log" not in result


def test_a_failed_person_fails_the_host_with_its_sentence_and_no_fact():
    failed = entry(changed=False, failed=True, failed_step="Licences", outcome="jane.citizen@northwindacct.com not onboarded: no free seat")
    result = run({"onboard_user_run": onboard_run(people={HOST: failed})})

    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "jane.citizen@northwindacct.com not onboarded: no free seat"
    assert "ansible_facts" not in result


def test_a_host_the_run_did_not_reach_is_told_why():
    result = run({"onboard_user_run": onboard_run(people={})})
    assert result["failed"] is True
    assert result["msg"] == "jane.citizen: the run did not reach this person: jane.citizen was not part of that run's play batch"

    result = run({"onboard_user_run": onboard_run(people={}, failed=True, msg="onboard_deployment must be entra or federated")})
    assert result["msg"] == "jane.citizen: the run did not reach this person: onboard_deployment must be entra or federated"


def test_missing_run_and_unregistered_run_are_named():
    result = run({}, args={})
    assert result["failed"] is True
    assert result["msg"] == "run is required: the name of the variable the onboard or offboard task registered."

    result = run({})
    assert result["failed"] is True
    assert result["msg"] == "onboard_user_run is not set: the onboard or offboard task must run (and register it) before this one."


def test_unknown_options_are_refused():
    with pytest.raises(AnsibleActionFail) as caught:
        run({"onboard_user_run": onboard_run()}, args={"run": "onboard_user_run", "host": HOST})
    assert "Invalid options for practiceprotect.m365.person_result: host" in str(caught.value)
