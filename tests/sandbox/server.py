"""One uvicorn server, several loopback ports, one service per port; TLS material and the env file.

The ASGI dispatcher picks the service by the local port of the connection. ``/_sandbox/...`` is served on every
port. Realism that acts on the connection (latency, injected faults and connection resets) lives here, in
front of the services; throttling and replication lag act inside them.
"""

import asyncio
import contextlib
import datetime
import ipaddress
import json
import logging
import os
import secrets
import signal
import socket
import struct
import threading
import uuid

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import auth, secret_log
from .control import ControlApp
from .errors import error_body, fault_body
from .exchange import EXCHANGE_ADMIN, ExchangeApp
from .graph import GraphApp
from .login import LoginApp
from .pp import PPApp
from .realism import Realism, fault_retry_after
from .state import CERT_APP_ID, READONLY_APP_ID, READONLY_ROLES, SECRET_APP_ID, WRITE_ROLES, App, Tenant

LOG = logging.getLogger("tests.sandbox.server")

ENV_FILE = "sandbox.env"
JSON_FILE = "sandbox.json"
ENV_KEYS = ("M365_TENANT_ID", "M365_AUTHORITY_URL", "M365_GRAPH_URL", "M365_EXCHANGE_URL", "PP_URL", "M365_CLIENT_ID",
            "M365_CLIENT_SECRET", "M365_CERT_CLIENT_ID", "M365_CERT_CLIENT_CERTIFICATE_PATH", "M365_CERT_CLIENT_CERTIFICATE_THUMBPRINT",
            "M365_CA_PATH", "SANDBOX_CONTROL_URL", "SANDBOX_ADMIN_TOKEN", "M365_READONLY_CLIENT_ID", "M365_READONLY_CLIENT_SECRET")
ENV_KEYS = ENV_KEYS + ("PP_APP_ID", "PP_CLIENT_ID", "PP_CLIENT_SECRET", "PP_CA_PATH", "M365_TOKEN_CACHE_PATH", "PP_TOKEN_CACHE_PATH")


class PlaceholderApp:
    """A service that is not emulated yet: every path answers 404 JSON."""

    def __init__(self, runtime, name):
        self.rt = runtime
        self.name = name

    async def __call__(self, scope, receive, send):
        body = json.dumps({"error": {"code": "NotFound", "message": "The sandbox does not emulate the %s service yet." % self.name}}).encode()
        self.rt.tenant.log_request(self.name, scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"), 404,
                                   app_id=auth.peek_app_id(_header(scope, b"authorization")), write=scope["method"] != "GET")
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 404, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# The services, in port order (PORT, PORT+1, ...). Later emulators replace a placeholder by their app's factory.
SERVICES = {
    "login": LoginApp,
    "graph": GraphApp,
    "exchange": ExchangeApp,
    "pp": PPApp,
}


def _header(scope, name):
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class Runtime:
    """What the apps share: the tenant, token service, realism, service URLs, admin token and state dir."""

    def __init__(self, state_dir, seed="default", snapshot=None):
        self.state_dir = state_dir
        secret_log.configure(state_dir)  # secrets.jsonl and requests.jsonl for the secret scan (secret_log.py)
        self.tenant = Tenant("snapshot" if snapshot is not None else seed, snapshot=snapshot)
        self.tokens = auth.TokenService(self.tenant)
        self.realism = Realism(self.tenant)
        self.admin_token = secrets.token_urlsafe(32)
        self.urls = {}

    def create_app(self, display_name, roles, credential="secret", client_id=None, directory_roles=()):
        """Register an app; returns its credentials (the only time a secret is given out).

        directory_roles: template ids of Entra roles the app's service principal holds (Exchange needs one).
        """
        client_id = client_id or str(uuid.uuid4())
        result = self._create_app(display_name, roles, credential, client_id)
        self.tenant.app(client_id).directory_roles = set(directory_roles or ())
        return result

    def _create_app(self, display_name, roles, credential, client_id):
        if credential == "certificate":
            cert = auth.make_certificate(display_name[:64] or "sandbox app")
            secret_log.record_private_key(cert["key_pem"], "certificate of app %s" % client_id)
            path = os.path.join(self.state_dir, "app-%s.pem" % client_id)
            _write_private(path, cert["key_pem"] + cert["cert_pem"])
            cert["path"] = path
            self.tenant.add_app(App(client_id, display_name, roles, "certificate", certificate=cert))
            return {"client_id": client_id, "certificate_path": path, "thumbprint": cert["thumbprint"]}
        secret = secret_log.record("client_secret", secrets.token_urlsafe(32), "client secret of app %s" % client_id)
        self.tenant.add_app(App(client_id, display_name, roles, "secret", secret=secret))
        return {"client_id": client_id, "client_secret": secret}


class Dispatcher:
    """ASGI entry point: control API on every port, else the service of the local port, behind latency and faults."""

    def __init__(self, runtime, port_services):
        self.rt = runtime
        self.port_services = port_services  # port -> (name, app)
        self.control = ControlApp(runtime)

    async def __call__(self, scope, receive, send):
        token = secret_log.begin_request()  # the request's log entries go to requests.jsonl once it is answered
        try:
            await self._dispatch(scope, receive, send)
        finally:
            secret_log.end_request(token)

    async def _dispatch(self, scope, receive, send):
        if scope["type"] != "http":
            return
        path = scope["path"]
        self.rt.tenant.settle_mailboxes()  # Exchange work that has come due (provisioning, conversions)
        if path == "/_sandbox" or path.startswith("/_sandbox/"):
            await self.control(scope, receive, send)
            return
        port = scope["server"][1] if scope.get("server") else None
        name, app = self.port_services.get(port, (None, None))
        if app is None:
            await _plain(send, 404, b"unknown port")
            return
        admit = getattr(app, "admit", None)  # a service that limits the requests it has in flight (exchange.py)
        if admit is None:
            await self._serve(name, app, scope, receive, send)
            return
        async with admit(scope, receive, send) as admitted:
            if admitted:  # counted as in flight while the latency and the service run
                await self._serve(name, app, scope, receive, send)

    async def _serve(self, name, app, scope, receive, send):
        """A service's answer behind the latency and fault knobs."""
        path = scope["path"]
        await self.rt.realism.delay()
        rule = self.rt.realism.pick_fault(name, scope["method"], path)
        if rule is None:
            await app(scope, receive, send)
            return
        kind = rule["kind"]
        query = scope.get("query_string", b"").decode("latin-1")
        app_id = auth.peek_app_id(_header(scope, b"authorization"))
        write = name != "login" and scope["method"] not in ("GET", "HEAD", "OPTIONS")
        if kind == "reset_before":
            self.rt.tenant.log_request(name, scope["method"], path, query, None, app_id=app_id, write=write, fault=kind)
            await _abort(send)
            return
        if kind == "reset_after":
            before = self.rt.tenant.log_seq

            async def swallow(message):
                return None

            await app(scope, receive, swallow)
            for entry in self.rt.tenant.log:
                if entry["seq"] > before and entry["batch"] is None:
                    entry["fault"] = kind
            await _abort(send)
            return
        status = rule["status"]
        headers = {}
        if rule.get("retry_after") is not None:  # scaled by throttle.time_scale, like the throttling windows
            headers["Retry-After"] = str(fault_retry_after(rule, self.rt.tenant.config))
        elif status == 429:
            headers["Retry-After"] = "1"
        request_id = str(uuid.uuid4())
        client_request_id = _header(scope, b"client-request-id") or request_id
        if name == "login":
            body = {"error": "temporarily_unavailable", "error_description": "AADSTS50196: The server is temporarily unavailable.",
                    "error_codes": [50196], "trace_id": request_id, "correlation_id": client_request_id}
        elif name == "graph":
            body = fault_body(status, request_id, client_request_id)
            headers.update({"request-id": request_id, "client-request-id": client_request_id})
        else:
            body = error_body("ServiceUnavailable", "Injected fault.", request_id, client_request_id)
        self.rt.tenant.log_request(name, scope["method"], path, query, status, app_id=app_id, write=write, fault=kind)
        payload = json.dumps(body).encode()
        raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        raw_headers += [(key.encode(), value.encode()) for key, value in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload})


async def _plain(send, status, body):
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


async def _abort(send):
    """Drop the connection without an answer: the client sees a reset.

    With uvicorn, the ASGI send callable is a bound method of the request-response cycle, which holds the
    transport. SO_LINGER 0 makes the close a TCP RST rather than a FIN.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        LOG.warning("cannot reach the transport to drop the connection; answering nothing instead")
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let the protocol notice the lost connection before the app returns, so that uvicorn does not try to
    # send its own 500 on a dead transport.
    for _ in range(3):
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)


# ------------------------------------------------------------------------------------------------------------------
# TLS and files


def _write_private(path, data):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def make_tls(state_dir):
    """A CA and a server certificate for 127.0.0.1 and localhost signed by it. Writes ca.pem, server.pem, server-key.pem."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "M365 sandbox"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "M365 sandbox CA %s" % now.strftime("%Y%m%d%H%M%S"))])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(ca_ski, critical=False)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=True, key_cert_sign=False, crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {name: os.path.join(state_dir, name) for name in ("ca.pem", "server.pem", "server-key.pem")}
    with open(paths["ca.pem"], "wb") as handle:
        handle.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(paths["server.pem"], "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write_private(paths["server-key.pem"], key_pem)
    return paths


def bind_sockets(host, port, count):
    """`count` listening-ready TCP sockets: free ports when port is 0, else port, port+1, ..."""
    sockets = []
    try:
        for index in range(count):
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, 0 if port == 0 else port + index))
            sock.set_inheritable(True)
            sockets.append(sock)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def write_env(state_dir, values):
    """sandbox.env (KEY=value lines) and sandbox.json (same keys + pid), each written to a temporary file and renamed."""
    lines = "".join("%s=%s\n" % (key, values[key]) for key in ENV_KEYS)
    document = dict((key, values[key]) for key in ENV_KEYS)
    document["pid"] = os.getpid()
    # The JSON first: a reader that sees the env file can rely on both.
    _write_private(os.path.join(state_dir, JSON_FILE), (json.dumps(document, indent=2) + "\n").encode())
    env_path = os.path.join(state_dir, ENV_FILE)
    _write_private(env_path, lines.encode())
    return env_path


def remove_env(state_dir):
    for name in (ENV_FILE, JSON_FILE):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(state_dir, name))


class _Server(uvicorn.Server):
    """uvicorn's server with plain signal handling: SIGINT/SIGTERM ask for a graceful stop, nothing is re-raised."""

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum, frame):
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    async def shutdown(self, sockets=None):
        # Idle keep-alive connections: a TLS close waits for the client's close_notify, which a pooled client
        # connection never sends, so uvicorn would wait for its graceful timeout. Drop them at once instead;
        # connections with a request in progress still finish it.
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            transport = getattr(connection, "transport", None)
            if transport is not None and (cycle is None or cycle.response_complete):
                transport.abort()
        await asyncio.sleep(0)
        await super().shutdown(sockets=sockets)


def build(state_dir, host="127.0.0.1", port=0, seed="default", snapshot=None):
    """Everything but the event loop: (runtime, dispatcher, sockets, tls paths, env values)."""
    state_dir = os.path.abspath(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    remove_env(state_dir)
    tls = make_tls(state_dir)
    sockets = bind_sockets(host, port, len(SERVICES))
    runtime = Runtime(state_dir, seed, snapshot=snapshot)
    url_host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    port_services = {}
    for (name, factory), sock in zip(SERVICES.items(), sockets):
        bound_port = sock.getsockname()[1]
        runtime.urls[name] = "https://%s:%d" % (url_host, bound_port)
    for (name, factory), sock in zip(SERVICES.items(), sockets):
        port_services[sock.getsockname()[1]] = (name, factory(runtime))
    secret_app = runtime.create_app("Ansible automation", WRITE_ROLES, "secret", client_id=SECRET_APP_ID, directory_roles=[EXCHANGE_ADMIN])
    cert_app = runtime.create_app("Ansible automation (certificate)", WRITE_ROLES, "certificate", client_id=CERT_APP_ID,
                                  directory_roles=[EXCHANGE_ADMIN])
    readonly_app = runtime.create_app("Read-only reporting", READONLY_ROLES, "secret", client_id=READONLY_APP_ID)
    values = {
        "M365_TENANT_ID": runtime.tenant.tenant_id,
        "M365_AUTHORITY_URL": runtime.urls["login"],
        "M365_GRAPH_URL": runtime.urls["graph"],
        "M365_EXCHANGE_URL": runtime.urls["exchange"],
        "PP_URL": runtime.urls["pp"],
        "M365_CLIENT_ID": secret_app["client_id"],
        "M365_CLIENT_SECRET": secret_app["client_secret"],
        "M365_CERT_CLIENT_ID": cert_app["client_id"],
        "M365_CERT_CLIENT_CERTIFICATE_PATH": cert_app["certificate_path"],
        "M365_CERT_CLIENT_CERTIFICATE_THUMBPRINT": cert_app["thumbprint"],
        "M365_CA_PATH": tls["ca.pem"],
        "SANDBOX_CONTROL_URL": runtime.urls["graph"],
        "SANDBOX_ADMIN_TOKEN": runtime.admin_token,
        "M365_READONLY_CLIENT_ID": readonly_app["client_id"],
        "M365_READONLY_CLIENT_SECRET": readonly_app["client_secret"],
        # Tokens of this sandbox only: a cache shared with an earlier sandbox would hold tokens its keys did not sign.
        "M365_TOKEN_CACHE_PATH": os.path.join(os.path.abspath(state_dir), "token-cache.json"),
        "PP_TOKEN_CACHE_PATH": os.path.join(os.path.abspath(state_dir), "pp-token-cache.json"),
    }
    # Practice Protect: the OAuth2 client app id, the confidential client (service user) and its secret, the same CA.
    values.update(runtime.pp.env_values(), PP_CA_PATH=tls["ca.pem"])
    return runtime, Dispatcher(runtime, port_services), sockets, tls, values


def serve(state_dir, host="127.0.0.1", port=0, seed="default", on_ready=None, snapshot=None):
    """Run the sandbox until SIGINT/SIGTERM. on_ready(env_path) is called once every port is listening."""
    runtime, dispatcher, sockets, tls, values = build(state_dir, host, port, seed, snapshot=snapshot)
    config = uvicorn.Config(dispatcher, ssl_certfile=tls["server.pem"], ssl_keyfile=tls["server-key.pem"], lifespan="off",
                            log_level="warning", access_log=False, server_header=False, date_header=True,
                            timeout_graceful_shutdown=3, ws="none")
    server = _Server(config)

    async def main():
        task = asyncio.ensure_future(server.serve(sockets=sockets))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started:
            env_path = write_env(runtime.state_dir, values)
            if on_ready is not None:
                on_ready(env_path)
        await task

    try:
        asyncio.run(main())
    finally:
        remove_env(runtime.state_dir)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()
    return 0
