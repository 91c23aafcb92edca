# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # (duplicates: the transport options read like practice_protect_auth's, each with its own service's environment variables)
    DOCUMENTATION = r"""
options:
  tenant_id:
    description:
      - Directory (tenant) ID of the Microsoft 365 tenant.
      - Falls back to the E(M365_TENANT_ID) environment variable.
    type: str
  client_id:
    description:
      - Application (client) ID of the app registration the modules sign in as.
      - Falls back to E(M365_CLIENT_ID).
    type: str
  client_secret:
    description:
      - Client secret of the app registration. Mutually exclusive with O(client_certificate_path).
      - Falls back to E(M365_CLIENT_SECRET). Never logged or returned.
    type: str
  client_certificate_path:
    description:
      - PEM file holding the private key and the certificate registered on the app.
      - Falls back to E(M365_CLIENT_CERTIFICATE_PATH).
    type: path
  client_certificate_thumbprint:
    description:
      - SHA-1 thumbprint of the certificate. Computed from the PEM file when left out.
      - Falls back to E(M365_CLIENT_CERTIFICATE_THUMBPRINT).
    type: str
  client_certificate_password:
    description:
      - Passphrase of an encrypted private key. Falls back to E(M365_CLIENT_CERTIFICATE_PASSWORD).
    type: str
  authority_url:
    description:
      - Base URL of the Microsoft identity platform; the tenant is appended.
      - Set it for national clouds or the sandbox. Falls back to E(M365_AUTHORITY_URL).
    type: str
    default: https://login.microsoftonline.com
  graph_url:
    description:
      - Base URL of Microsoft Graph, without C(/v1.0). Falls back to E(M365_GRAPH_URL).
    type: str
    default: https://graph.microsoft.com
  exchange_url:
    description:
      - Base URL of Exchange Online. Falls back to E(M365_EXCHANGE_URL).
    type: str
    default: https://outlook.office365.com
  ca_path:
    description:
      - PEM bundle of certificate authorities to trust instead of the system's. Falls back to E(M365_CA_PATH).
      - A file that is missing, unreadable or holds no certificate is refused before any request; a server whose
        certificate it does not trust is reported at once as a TLS verification failure, without retrying.
    type: path
  validate_certs:
    description:
      - Verify TLS certificates. Only turn off against a disposable test service.
      - Falls back to E(M365_VALIDATE_CERTS).
    type: bool
    default: true
  token_cache_path:
    description:
      - File in which to keep the msal token cache between tasks (written with mode 0600), so a
        bulk or per-host run does not ask for a token per task. Falls back to E(M365_TOKEN_CACHE_PATH).
      - Tokens are kept under a fingerprint of the credential (a slow salted hash of the client id and the secret or
        certificate thumbprint; the secret is never written), so a mistyped or rotated secret finds no token and is
        refused by the sign-in service (AADSTS7000215) before any write. The file also keeps the public OpenID
        discovery answers for a day, so a run discovers the authority once.
      - The file holds access tokens; keep it on the controller, in a private directory.
    type: path
  request_timeout:
    description:
      - Seconds to wait for each HTTP response. Falls back to E(M365_REQUEST_TIMEOUT).
    type: int
    default: 30
  retry_deadline:
    description:
      - Seconds within which throttled (429), unavailable (503, 504) or reset requests are retried,
        honouring C(Retry-After). Falls back to E(M365_RETRY_DEADLINE).
      - An untrusted certificate, a host name DNS does not know and a refused connection are not retried; the task fails
        at once and names which of them it met.
    type: int
    default: 300
notes:
  - The connection options can be set once per play with C(module_defaults) and the action group
    C(group/practiceprotect.m365.m365).
  - The modules need the Python packages C(msal), C(requests), C(phonenumbers) and C(email-validator)
    where they run (see the collection's C(requirements.txt)).
requirements:
  - msal
  - requests
  - phonenumbers
  - email-validator
"""
