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
