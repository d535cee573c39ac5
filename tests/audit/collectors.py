"""Real collectors for the forwarding tests, on 127.0.0.1 in threads of the test process: a
syslog server reading octet-counted frames (RFC 6587) over TCP or TLS, and an HTTPS server
receiving POSTed JSON. Each has a timeout on every socket and stops when its `with` ends. The
TLS certificate is self-signed, made for the test with `cryptography`."""

from __future__ import annotations

import http.server
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TIMEOUT = 5.0


@dataclass(frozen=True)
class Certificate:
    pem: str  # the certificate (also the CA a forwarder trusts: it is self-signed)
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def self_signed_certificate(folder: Path, host: str = "127.0.0.1") -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "custodia test collector")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    cert_file, key_file = folder / "collector.pem", folder / "collector.key"
    cert_file.write_text(pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(pem=pem, cert_file=cert_file, key_file=key_file)


@contextmanager
def collector_down() -> Iterator[int]:
    """A port nothing listens on (a collector that is down): held, bound but not listening, so
    that connections to it are refused and no other process (a parallel test run's) takes it
    meanwhile; a collector may listen on it once the block has ended."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


def octet_counted_frames(data: bytes) -> list[bytes]:
    """Split a stream of RFC 6587 octet-counted frames; a torn last frame is an error."""
    frames = []
    position = 0
    while position < len(data):
        space = data.index(b" ", position)
        length = int(data[position:space])
        frame = data[space + 1 : space + 1 + length]
        if len(frame) != length:
            raise AssertionError(f"torn frame at byte {position}")
        frames.append(frame)
        position = space + 1 + length
    return frames


@dataclass
class SyslogCollector:
    """A TCP (or TLS) syslog server: every connection's frames, in arrival order."""

    port: int = 0
    tls: Certificate | None = None
    messages: list[bytes] = field(default_factory=list)

    def __enter__(self) -> SyslogCollector:
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(TIMEOUT)
            data = b""
            try:
                if self.tls is not None:
                    connection = self.tls.server_context().wrap_socket(connection, server_side=True)
                while chunk := connection.recv(65536):
                    data += chunk
            except (OSError, ssl.SSLError):
                pass  # a refused handshake or a reset: what arrived is kept
            finally:
                connection.close()
            with self._lock:
                self.messages.extend(octet_counted_frames(data))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(TIMEOUT)

    def documents(self) -> list[dict]:
        with self._lock:
            return [json.loads(message.split(b"] ", 1)[1]) for message in self.messages]


@dataclass
class HttpsCollector:
    """An HTTPS endpoint: every POST's headers and JSON body; answers `status`."""

    certificate: Certificate
    status: int = 200
    requests: list[tuple[dict, list]] = field(default_factory=list)

    def __enter__(self) -> HttpsCollector:
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = TIMEOUT

            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if collector.status == 200:
                    collector.requests.append((dict(self.headers), json.loads(body)))
                self.send_response(collector.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.socket = self.certificate.server_context().wrap_socket(
            self._server.socket, server_side=True
        )
        self._server.timeout = TIMEOUT
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}/ingest"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(TIMEOUT)

    def documents(self) -> list[dict]:
        return [document for _, batch in self.requests for document in batch]
