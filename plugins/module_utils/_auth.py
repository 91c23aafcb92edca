# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft identity platform authentication with msal (client credentials).

A client secret or a certificate (PEM holding the private key and the certificate). The msal
application reuses the module's ``requests.Session`` as its HTTP client, so the private CA, the
timeouts and the retry policy apply to token requests too. The token cache can be persisted to a
file (mode 0600) so that bulk runs and per-host runs do not fetch a token per task.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import os
import tempfile
import threading

try:
    import msal
    HAS_MSAL = True
    MSAL_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_MSAL = False
    MSAL_IMPORT_ERROR = exc

try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover
    from urlparse import urlparse

# Hosts msal knows; any other authority (a national cloud proxy, the sandbox) skips instance discovery.
MICROSOFT_AUTHORITY_HOSTS = frozenset((
    "login.microsoftonline.com",
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
))


class AuthError(Exception):
    """A token could not be obtained. Carries AAD's error code, never a credential."""

    def __init__(self, message, error_code=None, status=None, request_id=None):
        super(AuthError, self).__init__(message)
        self.message = message
        self.error_code = error_code
        self.status = status
        self.request_id = request_id


def certificate_credential(path, thumbprint=None, passphrase=None):
    """msal credential dict from a PEM file holding a private key and its certificate."""
    try:
        with open(path, "rb") as handle:
            pem = handle.read()
    except (IOError, OSError) as exc:
        raise AuthError("Cannot read client_certificate_path %s: %s" % (path, exc.strerror or exc))
    if b"PRIVATE KEY-----" not in pem:
        raise AuthError("client_certificate_path %s holds no PEM private key; it must hold the private key and the certificate." % path)
    credential = {"private_key": pem.decode("ascii")}
    if passphrase:
        credential["passphrase"] = passphrase
    if thumbprint:
        credential["thumbprint"] = thumbprint.replace(":", "").upper()
    else:
        credential["thumbprint"] = thumbprint_of_pem(pem, path)
    return credential


def thumbprint_of_pem(pem, path="certificate"):
    """SHA-1 thumbprint (upper-case hex) of the first certificate in a PEM blob."""
    marker_begin = b"-----BEGIN CERTIFICATE-----"
    marker_end = b"-----END CERTIFICATE-----"
    start = pem.find(marker_begin)
    end = pem.find(marker_end, start)
    if start < 0 or end < 0:
        raise AuthError(
            "client_certificate_path %s holds no certificate; add it to the PEM file or give client_certificate_thumbprint." % path)
    body = pem[start + len(marker_begin):end]
    der = binascii.a2b_base64(b"".join(body.split()))
    return hashlib.sha1(der).hexdigest().upper()  # nosec - the thumbprint format Microsoft defines


class TokenProvider:
    """Gets (and caches) app-only tokens for one or more resources with one msal application."""

    def __init__(self, tenant_id, client_id, authority_url, session, client_secret=None,
                 client_certificate_path=None, client_certificate_thumbprint=None,
                 client_certificate_password=None, token_cache_path=None, timeout=30):
        if not client_secret and not client_certificate_path:
            raise AuthError("Give client_secret or client_certificate_path (or set M365_CLIENT_SECRET / M365_CLIENT_CERTIFICATE_PATH).")
        if client_secret:
            credential = client_secret
        else:
            credential = certificate_credential(client_certificate_path, client_certificate_thumbprint, client_certificate_password)
        authority = "%s/%s" % (authority_url.rstrip("/"), tenant_id)
        host = (urlparse(authority_url).hostname or "").lower()
        self.token_cache_path = token_cache_path
        self.lock = threading.RLock()
        self.cache = msal.SerializableTokenCache()
        if token_cache_path and os.path.exists(token_cache_path):
            try:
                with open(token_cache_path) as handle:
                    self.cache.deserialize(handle.read())
            except (IOError, OSError, ValueError):
                self.cache = msal.SerializableTokenCache()  # a damaged cache is only a cache
        kwargs = {}
        if host not in MICROSOFT_AUTHORITY_HOSTS:
            kwargs["instance_discovery"] = False
        try:
            self.app = msal.ConfidentialClientApplication(
                client_id, client_credential=credential, authority=authority, token_cache=self.cache,
                http_client=session, timeout=timeout, **kwargs)
        except ValueError as exc:
            # Raised for an unreachable or invalid authority; the text carries no credential.
            raise AuthError("Cannot use authority %s: %s" % (authority, exc))
        except Exception as exc:  # msal raises bare exceptions for unreadable keys
            raise AuthError("Cannot load the client credential (%s). Check client_certificate_path and its password." % type(exc).__name__)

    def token(self, resource):
        with self.lock:  # the apply workers of one module run share the application and its cache file
            return self._token(resource)

    def _token(self, resource):
        scope = "%s/.default" % resource.rstrip("/")
        try:
            result = self.app.acquire_token_for_client([scope])
        except ValueError as exc:
            raise AuthError("Cannot get a token for %s: %s" % (resource, exc))
        if "access_token" not in result:
            description = (result.get("error_description") or "").split("\r\n")[0].split("\n")[0]
            raise AuthError(
                "Sign-in as the application failed for %s: %s (%s)" % (resource, description, result.get("error")),
                error_code=result.get("error"), request_id=result.get("correlation_id"))
        self._save()
        return result["access_token"]

    def forget(self):
        """Drop cached app tokens, so the next call fetches a fresh one (after a 401)."""
        with self.lock:
            self.app.remove_tokens_for_client()
            self._save()

    def _save(self):
        if not self.token_cache_path or not self.cache.has_state_changed:
            return
        directory = os.path.dirname(os.path.abspath(self.token_cache_path))
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
        except OSError:
            return  # a cache that cannot be written is only a cache
        fd, tmp = tempfile.mkstemp(prefix=".m365-token-cache", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(self.cache.serialize())
            os.rename(tmp, self.token_cache_path)
            self.cache.has_state_changed = False
        except (IOError, OSError):
            if os.path.exists(tmp):
                os.unlink(tmp)
