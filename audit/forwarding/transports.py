"""Sending one batch of events to a collector. A batch is accepted when the syslog collector's
TCP (or TLS) connection took every frame and closed cleanly, or when the HTTPS endpoint answered
2xx; anything else is DeliveryFailed, and the cursor stays where it was. Every socket has a
timeout (SIEM_FORWARD_TIMEOUT_SECONDS)."""

from __future__ import annotations

import http.client
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings

from .addresses import AddressRefused, vetted_address
from .document import document_bytes, event_document, octet_counted, syslog_message
from .secrets import SecretUnreadable, secret_open

USER_AGENT = "Custodia-SIEM-forwarder/1"
# An endpoint's answer is read up to this many bytes, for the error message.
_ANSWER_BYTES = 300


class DeliveryFailed(Exception):
    pass


def tls_context(ca_certificate: str) -> ssl.SSLContext:
    """The system's trusted authorities, or only the forwarder's own CA when it gives one; the
    collector's host name is checked either way."""
    context = ssl.create_default_context(cadata=ca_certificate or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _timeout() -> float:
    return float(settings.SIEM_FORWARD_TIMEOUT_SECONDS)


def _connect(host: str, port: int, *, tls: bool, ca_certificate: str) -> socket.socket:
    family, address = vetted_address(host, port)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(_timeout())
    try:
        sock.connect(address)
        if tls:
            sock = tls_context(ca_certificate).wrap_socket(sock, server_hostname=host.strip("[]"))
    except BaseException:
        sock.close()
        raise
    return sock


def _syslog_send(forwarder, events) -> None:
    payload = b"".join(octet_counted(syslog_message(e, forwarder.tenant)) for e in events)
    sock = _connect(
        forwarder.host,
        forwarder.port,
        tls=forwarder.use_tls,
        ca_certificate=forwarder.ca_certificate,
    )
    try:
        sock.sendall(payload)
        if not forwarder.use_tls:
            # A clean half-close: the collector has read up to here when it closes its side.
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(4096):
                pass
    finally:
        sock.close()


class _VettedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the checked address of the URL's host, verifying the certificate for the
    host name (http.client would resolve the name again)."""

    def __init__(self, host, port, *, ca_certificate: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=tls_context(ca_certificate))
        self._ca_certificate = ca_certificate

    def connect(self):
        self.sock = _connect(self.host, self.port, tls=True, ca_certificate=self._ca_certificate)


def _https_send(forwarder, events) -> None:
    url = urlsplit(forwarder.url)
    body = b"[" + b",".join(document_bytes(event_document(e, forwarder.tenant)) for e in events)
    body += b"]"
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Custodia-Last-Sequence": str(events[-1].sequence),
    }
    secret = secret_open(forwarder.bearer_secret_sealed)
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    path = url.path or "/"
    if url.query:
        path += f"?{url.query}"
    connection = _VettedHTTPSConnection(
        url.hostname, url.port or 443, ca_certificate=forwarder.ca_certificate, timeout=_timeout()
    )
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read(_ANSWER_BYTES)
    finally:
        connection.close()
    if not 200 <= response.status < 300:
        text = answer.decode("utf-8", "replace").strip().replace("\n", " ")
        raise DeliveryFailed(f"the endpoint answered HTTP {response.status} {text}".strip())


def batch_send(forwarder, events) -> None:
    """Deliver `events` (in sequence order) to the forwarder's collector, or DeliveryFailed."""
    try:
        if forwarder.kind == "syslog":
            _syslog_send(forwarder, events)
        else:
            _https_send(forwarder, events)
    except DeliveryFailed:
        raise
    except (AddressRefused, SecretUnreadable) as error:
        raise DeliveryFailed(str(error)) from error
    except ssl.SSLError as error:
        raise DeliveryFailed(f"TLS: {error.reason or error}") from error
    except (OSError, http.client.HTTPException) as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
