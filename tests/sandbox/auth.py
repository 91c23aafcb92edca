"""Access tokens, client credentials and permission checks.

The login service issues RS256 JWTs signed by a key generated at start; every API service validates the
bearer token (signature, expiry, audience = the service's own base URL, tenant) and then checks that the
app's roles include one of the roles the endpoint accepts.
"""

import base64
import datetime
import hashlib
import math
import secrets
import time

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from . import realism
from .errors import unauthorized

EXPIRED = "Access token has expired or is not yet valid."
LIFETIME_EXPIRED = "Lifetime validation failed, the token is expired."  # Graph's answer to a token past its validity
EMPTY = "Access token is empty."
INVALID = "Access token validation failure."
INVALID_AUDIENCE = "Access token validation failure. Invalid audience."
NOT_WELL_FORMED = ("IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or JWE Compact Serialization "
                   "Format. (JWS): 'EncodedHeader.EncodedPayload.EncodedSignature'. (JWE): 'EncodedProtectedHeader.EncodedEncryptedKey."
                   "EncodedInitializationVector.EncodedCiphertext.EncodedAuthenticationTag'.")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_int(number):
    return b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))


def make_certificate(common_name, days=365):
    """A self-signed RSA 2048 certificate for an app credential: PEMs, DER, public key and SHA-1 thumbprint (hex, upper case)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "key_pem": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        "cert_pem": cert.public_bytes(serialization.Encoding.PEM),
        "der": der,
        "public_key": cert.public_key(),
        "thumbprint": hashlib.sha1(der).hexdigest().upper(),  # nosec - the thumbprint format Microsoft defines
        "x5t": b64url(hashlib.sha1(der).digest()),  # nosec - as above
        "x5t#S256": b64url(hashlib.sha256(der).digest()),
    }


def bearer_token(authorization):
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def peek_app_id(authorization):
    """The appid claim of a bearer token without verifying it (for logging requests that never reach a handler)."""
    token = bearer_token(authorization)
    if not token:
        return None
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("appid")
    except jwt.PyJWTError:
        return None


def has_any_role(claims, roles):
    granted = set(claims.get("roles") or [])
    return any(role in granted for role in roles)


class TokenService:
    """Issues and validates the sandbox's access tokens."""

    def __init__(self, tenant):
        self.tenant = tenant
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_der = self.key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = b64url(hashlib.sha1(public_der).digest())  # nosec - a key id, not a security function
        self.public_key = self.key.public_key()
        self.issued_at = {}  # uti -> issue time to the sub-second, for the token_valid_s knob

    @property
    def issuer(self):
        return "https://sts.windows.net/%s/" % self.tenant.tenant_id

    def jwks(self):
        numbers = self.public_key.public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "n": _b64url_int(numbers.n),
                          "e": _b64url_int(numbers.e), "issuer": self.issuer}]}

    def issue(self, app, audience, lifetime):
        moment = time.time()
        now = int(moment)
        claims = {
            "aud": audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": int(math.ceil(moment + lifetime)),  # never shorter than the lifetime
            "aio": b64url(secrets.token_bytes(24)),
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": "2" if app.credential == "certificate" else "1",
            "idp": self.issuer,
            "idtyp": "app",
            "oid": app.object_id,
            "rh": "0.sandbox.",
            "roles": list(app.roles),
            "sub": app.object_id,
            "tenant_region_scope": "OC",
            "tid": self.tenant.tenant_id,
            "uti": b64url(secrets.token_bytes(16)),
            "ver": "1.0",
        }
        if len(self.issued_at) > 20000:
            self.issued_at.clear()
        self.issued_at[claims["uti"]] = moment
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"typ": "JWT", "kid": self.kid, "x5t": self.kid})

    def validate(self, authorization, audience):
        """The claims of a valid bearer token for `audience`, else GraphError 401 InvalidAuthenticationToken."""
        token = bearer_token(authorization)
        if not token:
            raise unauthorized(EMPTY)
        if "." not in token:
            raise unauthorized(NOT_WELL_FORMED)
        try:
            claims = jwt.decode(token, self.public_key, algorithms=["RS256"], audience=audience, issuer=self.issuer,
                                options={"require": ["exp", "nbf", "aud", "iss", "tid"]})
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
            raise unauthorized(EXPIRED)
        except jwt.InvalidAudienceError:
            raise unauthorized(INVALID_AUDIENCE)
        except jwt.PyJWTError:
            raise unauthorized(INVALID)
        if claims.get("tid") != self.tenant.tenant_id:
            raise unauthorized(INVALID)
        issued = self.issued_at.get(claims.get("uti"), claims.get("iat") or 0)
        if realism.token_refused(issued, time.time(), self.tenant.config):  # the token_valid_s knob
            raise unauthorized(LIFETIME_EXPIRED)
        return claims


class AssertionRejected(Exception):
    """A rejected client assertion: AADSTS number and description."""

    def __init__(self, number, description):
        super().__init__(description)
        self.number = number
        self.description = description


def verify_client_assertion(assertion, app, audiences):
    """Check a private_key_jwt client assertion against the app's certificate. Raises AssertionRejected when refused."""
    certificate = app.certificate
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise AssertionRejected(50027, "JWT token is invalid or malformed.")
    if not certificate:
        raise AssertionRejected(700027, "Client assertion contains an invalid signature. [Reason - The key was not found.]")
    # msal keeps the base64url padding of x5t; compare without it.
    if (str(header.get("x5t") or "").rstrip("=") != certificate["x5t"]
            and str(header.get("x5t#S256") or "").rstrip("=") != certificate["x5t#S256"]):
        used = header.get("x5t") or header.get("x5t#S256") or ""
        try:
            used = base64.urlsafe_b64decode(used + "=" * (-len(used) % 4)).hex().upper()
        except (ValueError, TypeError):
            pass
        raise AssertionRejected(700027, (
            "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key "
            "was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS "
            "Graph to see configured keys for app Id '%s'. Review the documentation at "
            "https://docs.microsoft.com/en-us/graph/api/application-get to learn more.]") % (used, app.client_id))
    try:
        claims = jwt.decode(assertion, certificate["public_key"], algorithms=["RS256", "PS256"], audience=audiences,
                            options={"require": ["exp", "aud", "iss", "sub"]}, leeway=60)
    except jwt.InvalidSignatureError:
        raise AssertionRejected(700027, "Client assertion failed signature validation.")
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
        raise AssertionRejected(700024, "Client assertion is not within its valid time range.")
    except jwt.InvalidAudienceError:
        # UNCONFIRMED: the AADSTS number Entra gives for a wrong audience.
        raise AssertionRejected(50027, "JWT token is invalid or malformed. The audience of the client assertion is not the token endpoint.")
    except jwt.PyJWTError:
        raise AssertionRejected(50027, "JWT token is invalid or malformed.")
    if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
        raise AssertionRejected(700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the "
                                        "documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/"
                                        "active-directory-certificate-credentials .")
    return claims
