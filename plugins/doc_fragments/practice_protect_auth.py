# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The Practice Protect connection on its own (pp_user, pp_role_member).
    DOCUMENTATION = r"""
options:
  pp_url:
    description:
      - Base URL of the Practice Protect tenant (its Centrify / CyberArk Identity pod), for example
        C(https://northwind.my.practiceprotect.com).
      - Falls back to E(PP_URL).
    type: str
  pp_app_id:
    description:
      - Application ID of the OAuth2 Client web app in Practice Protect; tokens come from C(/oauth2/token/<pp_app_id>).
      - Falls back to E(PP_APP_ID).
    type: str
  pp_client_id:
    description:
      - Login name of the confidential-client service user ("Is OAuth confidential client" ticked).
      - Falls back to E(PP_CLIENT_ID).
    type: str
  pp_client_secret:
    description:
      - Password of the confidential-client service user. Falls back to E(PP_CLIENT_SECRET). Never logged or returned.
    type: str
  pp_scope:
    description:
      - OAuth2 scope defined on the client app. Falls back to E(PP_SCOPE).
    type: str
    default: all
  pp_token_cache_path:
    description:
      - File that keeps the Practice Protect access token between the tasks of a run (mode 0600), so that a bulk or per-host
        run fetches one token instead of one per task. The token is kept under a fingerprint of the credential (a slow salted
        hash; the secret is never written), so a different or mistyped secret never uses another credential's token.
        Falls back to E(PP_TOKEN_CACHE_PATH).
    type: path
  ca_path:
    description:
      - PEM bundle of certificate authorities to trust instead of the system's. Falls back to E(PP_CA_PATH).
      - A file that is missing, unreadable or holds no certificate is refused before any request.
    type: path
  validate_certs:
    description:
      - Verify TLS certificates. Only turn off against a disposable test service. Falls back to E(PP_VALIDATE_CERTS).
    type: bool
    default: true
  request_timeout:
    description:
      - Seconds to wait for each HTTP response. Falls back to E(PP_REQUEST_TIMEOUT).
    type: int
    default: 30
  retry_deadline:
    description:
      - Seconds within which throttled (429), unavailable (503, 504) or reset requests are retried,
        honouring C(Retry-After). Falls back to E(PP_RETRY_DEADLINE). An untrusted certificate, an unknown host name and a
        refused connection are not retried.
    type: int
    default: 300
notes:
  - The connection options can be set once per play with C(module_defaults) and the action group
    C(group/practiceprotect.m365.practice_protect).
  - The client needs a role with the admin rights docs/permissions.md lists for the module.
requirements:
  - requests
  - phonenumbers
  - email-validator
"""

    # The Practice Protect connection next to the Microsoft 365 one (outbound_sync): ca_path, validate_certs,
    # request_timeout and retry_deadline then come from practiceprotect.m365.m365_auth and serve both services.
    # (duplicates: the pp_* options repeat those of DOCUMENTATION above; Ansible reads each fragment as one YAML text)
    # (duplicates: the Practice Protect options again, without the transport options m365_auth gives a module of both services)
    CONNECTION = r"""
options:
  pp_url:
    description:
      - Base URL of the Practice Protect tenant. Falls back to E(PP_URL).
    type: str
  pp_app_id:
    description:
      - Application ID of the OAuth2 Client web app in Practice Protect. Falls back to E(PP_APP_ID).
    type: str
  pp_client_id:
    description:
      - Login name of the confidential-client service user. Falls back to E(PP_CLIENT_ID).
    type: str
  pp_client_secret:
    description:
      - Password of the confidential-client service user. Falls back to E(PP_CLIENT_SECRET). Never logged or returned.
    type: str
  pp_scope:
    description:
      - OAuth2 scope defined on the client app. Falls back to E(PP_SCOPE).
    type: str
    default: all
  pp_token_cache_path:
    description:
      - File that keeps the Practice Protect access token between the tasks of a run (mode 0600), so that a bulk or per-host
        run fetches one token instead of one per task. The token is kept under a fingerprint of the credential (a slow salted
        hash; the secret is never written), so a different or mistyped secret never uses another credential's token.
        Falls back to E(PP_TOKEN_CACHE_PATH).
    type: path
notes:
  - O(ca_path), O(validate_certs), O(request_timeout) and O(retry_deadline) apply to Practice Protect and Microsoft 365 alike.
    Each falls back to its Microsoft 365 environment variable first (E(M365_CA_PATH), E(M365_VALIDATE_CERTS), ...), then to
    its Practice Protect one (E(PP_CA_PATH), E(PP_VALIDATE_CERTS), ...).
"""
