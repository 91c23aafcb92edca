# -*- coding: utf-8 -*-
"""The Ansible side of the engines: connection options handed to each module, readable argument errors, the role specs."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.practiceprotect.m365.plugins.plugin_utils import _batch_action as b


def test_each_module_gets_the_connection_options_of_its_services():
    args = {"tenant_id": "t", "client_secret": "s", "pp_url": "https://pp", "pp_client_secret": "p", "ca_path": "/ca.pem", "token_cache_path": None}
    assert b.connection_args("practiceprotect.m365.m365_user", args) == {"tenant_id": "t", "client_secret": "s", "ca_path": "/ca.pem"}
    assert b.connection_args("practiceprotect.m365.pp_user", args) == {"pp_url": "https://pp", "pp_client_secret": "p", "ca_path": "/ca.pem"}
    assert b.connection_args("practiceprotect.m365.outbound_sync", args) == {"tenant_id": "t", "client_secret": "s", "pp_url": "https://pp",
                                                                             "pp_client_secret": "p", "ca_path": "/ca.pem"}


def test_argument_errors_in_the_roles_own_words():
    validator = ArgumentSpecValidator(b._strip_docs(b.role_spec("onboard_user")))
    checked = validator.validate({"onboard_person": {"upn": "a@b.com", "aliases": {"a": 1}}, "onboard_verify": "maybe"})
    messages = [b.readable(m) for m in checked.error_messages]
    assert "person.aliases must be a list, not a dict" in messages
    assert any(m.startswith("argument 'onboard_verify' is of type") or "onboard_verify" in m for m in messages)
    assert b.readable("something else") == "something else"


def test_the_role_specs_are_the_roles_own():
    assert "onboard_person" in b.role_spec("onboard_user") and "offboard_upn" in b.role_spec("offboard_user")
    assert "description" not in b._strip_docs(b.role_spec("onboard_user"))["onboard_person"]


def test_form_answers_take_the_types_the_role_declares():
    person = b._strip_docs(b.role_spec("onboard_user"))["onboard_person"]
    answers = {"upn": " jane@northwindacct.com ", "job_title": "", "surname": None, "licenses": "SPB\r\nO365_BUSINESS_PREMIUM\n",
               "aliases": "jane@northwindacct.com, j.c@northwindacct.com;", "pp_roles": ["Tax Team"], "given_name": "Jane"}
    assert b.answers(answers, person) == {"upn": "jane@northwindacct.com", "licenses": ["SPB", "O365_BUSINESS_PREMIUM"],
                                          "aliases": ["jane@northwindacct.com", "j.c@northwindacct.com"], "pp_roles": ["Tax Team"],
                                          "given_name": "Jane"}
    leaver = b._strip_docs(b.role_spec("offboard_user"))
    assert b.answers("a@x.com,b@x.com", leaver["offboard_full_access_to"]) == ["a@x.com", "b@x.com"]
    assert b.answers("  ", leaver["offboard_forward_to"]) is None
    # A key the role does not know is kept as it is, for the unknown-key check to name it.
    assert b.answers({"upn": "a@x.com", "job_titel": "Partner"}, person) == {"upn": "a@x.com", "job_titel": "Partner"}


class _Action:
    """What Runner uses of the action plugin: _execute_module, answering as Ansible does when it cannot run the module."""
    _forced = None

    def __init__(self, result):
        self.result = result

    def _execute_module(self, module_name, module_args, task_vars):
        return dict(self.result)


def test_a_module_the_interpreter_could_not_run_says_so_and_what_to_set():
    broken = {"failed": True, "rc": 127, "module_stdout": "", "msg": "Module result deserialization failed: No start of json char found",
              "module_stderr": "pyenv: python3.13: command not found\n\nThe `python3.13' command exists in these Python versions:\n",
              "ansible_facts": {"discovered_interpreter_python": "/root/.pyenv/shims/python3.13"}}
    result = b.Runner(_Action(broken), {}, {}).module("practiceprotect.m365.m365_user_info", {"users": ["a@b.c"]})
    assert result["msg"] == ("practiceprotect.m365.m365_user_info could not run with the Python interpreter /root/.pyenv/shims/python3.13 "
                             "(pyenv: python3.13: command not found); set ansible_python_interpreter to the Python that has the collection's "
                             "requirements, as inventory/example/group_vars/all.yml does")
    # A module that ran and failed keeps its own message.
    own = {"failed": True, "msg": "user x is not a user in this tenant"}
    assert b.Runner(_Action(own), {}, {}).module("practiceprotect.m365.m365_user", {})["msg"] == own["msg"]
