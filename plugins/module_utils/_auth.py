# -*- coding: utf-8 -*-
# Copyright (c) practiceprotect.m365 contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Microsoft identity platform authentication with msal (client credentials).

A client secret or a certificate (PEM holding the private key and the certificate). The msal
application reuses the module's ``requests.Session`` as its HTTP client, so the private CA, the
timeouts and the retry policy apply to token requests too.

The token cache can be persisted to a file (``CacheFile``, mode 0600) so that bulk runs and per-host
runs, where every task is a new process, do not fetch a token per task. In that file each credential
has its own tokens, under a fingerprint of the credential (``credential_fingerprint``: a slow salted
hash of the authority, tenant, client id and the secret or certificate thumbprint; never the secret):
a mistyped or rotated secret finds no token and is refused by the service before any write. The file
also keeps the OpenID discovery answers (public metadata) for a day, so that a run discovers once.
msal's own ``http_cache`` would do that too, but its documented persistence is pickle and it also
keeps refused token requests under a hash of their form, secret included; this file keeps only the
discovery GETs, as JSON.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import json
import os
import tempfile
import threading
import time

from ansible_collections.practiceprotect.m365.plugins.module_utils import _http

# (duplicates: the import guard ansible-test asks around each optional library; the module then names the missing one)
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


CACHE_FORMAT = "practiceprotect.m365 token cache 2"
DISCOVERY_SECONDS = 24 * 3600  # how long a discovery answer is reused (msal's own http cache keeps them as long)
DISCOVERY_MARKERS = ("/.well-known/openid-configuration", "/common/discovery/instance")
FINGERPRINT_ROUNDS = 20000


def credential_fingerprint(secret, *public):
    """A fingerprint of a credential: PBKDF2-SHA256 of the secret (or certificate thumbprint), salted with its public parts
    (authority, tenant, client id ...). Slow and salted, so a cache file never lets anyone test guesses of a password fast."""
    salt = "\x1f".join(str(part or "").lower() for part in public).encode("utf-8")
    return hashlib.pbkdf2_hmac("sha256", (secret or "").encode("utf-8"), salt, FINGERPRINT_ROUNDS).hex()[:32]


class CacheFile:
    """A JSON cache file of mode 0600 shared by the processes of a run (each task is one). Writes replace the file atomically
    and start from what is in it then, so entries other processes wrote meanwhile are kept. A file that cannot be read or
    written, or holds something else, is only a cache: it is then treated as empty."""

    def __init__(self, path):
        self.path = os.path.expanduser(path)

    def load(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (IOError, OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and data.get("format") == CACHE_FORMAT else {}

    def update(self, change):
        """``change(data)`` edits the file's current content in place; then the file is written."""
        data = self.load()
        change(data)
        data["format"] = CACHE_FORMAT
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
            fd, tmp = tempfile.mkstemp(prefix=".token-cache", dir=directory)
        except (IOError, OSError):
            return  # a cache that cannot be written is only a cache
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle)
            os.rename(tmp, self.path)
        except (IOError, OSError):
            if os.path.exists(tmp):
                os.unlink(tmp)


class _StoredResponse:
    """A discovery answer read back from the cache file, shaped as msal reads a response."""

    def __init__(self, entry):
        self.status_code = entry["status_code"]
        self.text = entry["text"]
        self.headers = entry.get("headers") or {}

    def raise_for_status(self):
        return None


class DiscoveryReuse:
    """The HTTP client handed to msal: the module's session, with OpenID discovery answers served from the cache file while
    they are fresh, so that the tasks of a run discover once instead of once each."""

    def __init__(self, session, cache_file):
        self.session = session
        self.cache_file = cache_file
        self.fetched = 0

    def post(self, url, **kwargs):
        return self.session.post(url, **kwargs)

    def get(self, url, params=None, **kwargs):
        key = url + ("?" + "&".join("%s=%s" % item for item in sorted((params or {}).items())) if params else "")
        if not any(marker in url for marker in DISCOVERY_MARKERS) or self.cache_file is None:
            return self.session.get(url, params=params, **kwargs)
        entry = (self.cache_file.load().get("discovery") or {}).get(key)
        if isinstance(entry, dict) and entry.get("expires_at", 0) > time.time():
            return _StoredResponse(entry)
        response = self.session.get(url, params=params, **kwargs)
        self.fetched += 1
        if response.status_code == 200:
            stored = {"status_code": 200, "text": response.text, "headers": {"content-type": response.headers.get("Content-Type", "")},
                      "expires_at": time.time() + DISCOVERY_SECONDS}

            def keep(data):
                found = data.setdefault("discovery", {})
                for old in [k for k, v in found.items() if not isinstance(v, dict) or v.get("expires_at", 0) <= time.time()]:
                    del found[old]
                found[key] = stored
            self.cache_file.update(keep)
        return response

    def close(self):
        return None


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
    """Gets (and caches) app-only tokens for one or more resources with one msal application.

    With ``token_cache_path`` the tokens live in that file under the credential's fingerprint, next to the discovery
    answers (see the module's docstring)."""

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
        self.fingerprint = credential_fingerprint(
            client_secret or credential["thumbprint"], authority_url.rstrip("/"), tenant_id, client_id, "secret" if client_secret else "certificate")
        self.cache_file = CacheFile(token_cache_path) if token_cache_path else None
        self.lock = threading.RLock()
        self.cache = msal.SerializableTokenCache()
        if self.cache_file is not None:
            stored = (self.cache_file.load().get("msal") or {}).get(self.fingerprint)
            if stored:
                try:
                    self.cache.deserialize(stored)
                except ValueError:
                    self.cache = msal.SerializableTokenCache()  # a damaged cache is only a cache
        kwargs = {}
        if host not in MICROSOFT_AUTHORITY_HOSTS:
            kwargs["instance_discovery"] = False
        self.http = DiscoveryReuse(session, self.cache_file)
        try:
            self.app = msal.ConfidentialClientApplication(
                client_id, client_credential=credential, authority=authority, token_cache=self.cache,
                http_client=self.http, timeout=timeout, **kwargs)
        except ValueError as exc:
            # Raised for an unreachable or invalid authority; the text carries no credential.
            raise AuthError("Cannot use authority %s: %s" % (authority, exc))
        except Exception as exc:
            if _http.HAS_REQUESTS and (isinstance(exc, _http.requests.RequestException) or _http.failure_kind(exc)):
                raise _http.unreachable(exc, url=authority, service="the sign-in service at %s" % authority)
            if client_secret:
                raise AuthError("Cannot start the sign-in at %s (%s)." % (authority, type(exc).__name__))
            # msal raises bare exceptions for unreadable keys
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
        except _http.requests.RequestException as exc:
            raise _http.unreachable(exc, service="the sign-in service")
        if "access_token" not in result:
            description = (result.get("error_description") or "").split("\r\n")[0].split("\n")[0]
            raise AuthError(
                "Sign-in as the application failed for %s: %s (%s)" % (resource, description, result.get("error")),
                error_code=result.get("error"), request_id=result.get("correlation_id"))
        self._save()
        return result["access_token"]

    def forget(self, resource=None):
        """Drop cached app tokens (only ``resource``'s when given), so the next call fetches a fresh one (after a 401): a
        token one service refused says nothing of the other service's."""
        with self.lock:
            if resource is None:
                self.app.remove_tokens_for_client()
            else:
                scope = "%s/.default" % resource.rstrip("/")
                for token in list(self.cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN, target=[scope],
                                                    query={"client_id": self.app.client_id, "home_account_id": None})):
                    self.cache.remove_at(token)
            self._save()

    def _save(self):
        if self.cache_file is None or not self.cache.has_state_changed:
            return
        serialized = self.cache.serialize()

        def keep(data):
            data.setdefault("msal", {})[self.fingerprint] = serialized
        self.cache_file.update(keep)
        self.cache.has_state_changed = False
