# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the Practice Protect proxy-address attribute, ``SMTP:primary@d;smtp:alias@d``.

The documentation of each filter is in the YAML file of the same name next to this one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.practiceprotect.m365.plugins.module_utils import _addresses
from ansible_collections.practiceprotect.m365.plugins.module_utils._validation import ValidationError


def _needs_validator():
    if not _addresses.HAS_EMAIL_VALIDATOR:
        raise AnsibleFilterError("The proxy address filters need the Python package email-validator on the controller "
                                 "(pip install email-validator).")


def proxy_addresses(primary, aliases=None):
    """``SMTP:primary;smtp:alias...`` from a primary address and a list of aliases (or a dict with both)."""
    _needs_validator()
    if isinstance(primary, dict):
        if aliases is not None:
            raise AnsibleFilterError("proxy_addresses: give either a dict {primary, aliases} or a primary address and a list of aliases.")
        aliases = primary.get("aliases")
        primary = primary.get("primary")
    try:
        return _addresses.format_proxy_addresses(primary, aliases)
    except ValidationError as exc:
        raise AnsibleFilterError(exc.message)


def parse_proxy_addresses(value):
    """``{"primary": ..., "aliases": [...]}`` from ``SMTP:primary;smtp:alias...``."""
    _needs_validator()
    try:
        return _addresses.parse_proxy_addresses(value)
    except ValidationError as exc:
        raise AnsibleFilterError(exc.message)


class FilterModule(object):

    def filters(self):
        return {
            "proxy_addresses": proxy_addresses,
            "parse_proxy_addresses": parse_proxy_addresses,
        }
