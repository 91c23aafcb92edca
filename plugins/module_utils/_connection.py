# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options of the collection's modules, documented by the doc fragments ``m365_auth`` and
``practice_protect_auth``: one spec per service, and the combined one of a module that talks to both."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import env_fallback

from ansible_collections.practiceprotect.m365.plugins.module_utils import _http


def transport_spec(*services):
    """``ca_path``, ``validate_certs``, ``request_timeout`` and ``retry_deadline``, each falling back to the environment variables of
    ``services`` (``m365``: ``M365_*``, ``practice_protect``: ``PP_*``; see ``_http.SERVICE_ENV_PREFIX``) in that order. A module
    that talks to one service reads that service's variables only; one that talks to both names both, Microsoft 365's first."""
    def env(name):
        return (env_fallback, [_http.SERVICE_ENV_PREFIX[service] + name for service in services])
    return dict(
        ca_path=dict(type="path", fallback=env("CA_PATH")),
        validate_certs=dict(type="bool", default=True, fallback=env("VALIDATE_CERTS")),
        request_timeout=dict(type="int", default=30, fallback=env("REQUEST_TIMEOUT")),
        retry_deadline=dict(type="int", default=300, fallback=env("RETRY_DEADLINE")),
    )


M365_CONNECTION_SPEC = dict(
    tenant_id=dict(type="str", fallback=(env_fallback, ["M365_TENANT_ID"])),
    client_id=dict(type="str", fallback=(env_fallback, ["M365_CLIENT_ID"])),
    client_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["M365_CLIENT_SECRET"])),
    client_certificate_path=dict(type="path", fallback=(env_fallback, ["M365_CLIENT_CERTIFICATE_PATH"])),
    client_certificate_thumbprint=dict(type="str", fallback=(env_fallback, ["M365_CLIENT_CERTIFICATE_THUMBPRINT"])),
    client_certificate_password=dict(type="str", no_log=True, fallback=(env_fallback, ["M365_CLIENT_CERTIFICATE_PASSWORD"])),
    authority_url=dict(type="str", default="https://login.microsoftonline.com", fallback=(env_fallback, ["M365_AUTHORITY_URL"])),
    graph_url=dict(type="str", default="https://graph.microsoft.com", fallback=(env_fallback, ["M365_GRAPH_URL"])),
    exchange_url=dict(type="str", default="https://outlook.office365.com", fallback=(env_fallback, ["M365_EXCHANGE_URL"])),
    token_cache_path=dict(type="path", no_log=False, fallback=(env_fallback, ["M365_TOKEN_CACHE_PATH"])),
)
M365_AUTH_SPEC = dict(M365_CONNECTION_SPEC, **transport_spec("m365"))

PP_CONNECTION_SPEC = dict(
    pp_url=dict(type="str", fallback=(env_fallback, ["PP_URL"])),
    pp_app_id=dict(type="str", fallback=(env_fallback, ["PP_APP_ID"])),
    pp_client_id=dict(type="str", fallback=(env_fallback, ["PP_CLIENT_ID"])),
    pp_client_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["PP_CLIENT_SECRET"])),
    pp_scope=dict(type="str", default="all", fallback=(env_fallback, ["PP_SCOPE"])),
)
# Not part of the credential (the AWX credential type feeds PP_CONNECTION_SPEC), as token_cache_path for Microsoft 365.
PP_CACHE_SPEC = dict(pp_token_cache_path=dict(type="path", no_log=False, fallback=(env_fallback, ["PP_TOKEN_CACHE_PATH"])))
PP_AUTH_SPEC = dict(PP_CONNECTION_SPEC, **PP_CACHE_SPEC)
PP_AUTH_SPEC.update(transport_spec("practice_protect"))
# A module that talks to both services: both connections, and one set of transport options for both, which falls back to
# Microsoft 365's environment variables first, then Practice Protect's (doc fragment practice_protect_auth.CONNECTION).
BOTH_AUTH_SPEC = dict(M365_CONNECTION_SPEC, **PP_CONNECTION_SPEC)
BOTH_AUTH_SPEC.update(PP_CACHE_SPEC)
BOTH_AUTH_SPEC.update(transport_spec("m365", "practice_protect"))
PP_REQUIRED = ("pp_url", "pp_app_id", "pp_client_id", "pp_client_secret")
