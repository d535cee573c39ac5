"""Where a forwarder may connect. A tenant's compliance officer types the host or URL, and the
portal's workers connect to it: without a check, that would let a tenant reach the platform's own
network (the database, a cloud metadata service). Loopback, private, link-local and other
non-public addresses are refused, by name or by any address the name resolves to, unless the
platform allows them (SIEM_ALLOW_PRIVATE_ADDRESSES, for a collector on the operator's network,
and the tests). The connection goes to the address that was checked."""

from __future__ import annotations

import ipaddress
import re
import socket

from django.conf import settings
from django.utils.translation import gettext_lazy as _

# A host name (RFC 1123 labels) or an IPv4 address; an IPv6 literal is checked by ipaddress.
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$")


class AddressRefused(Exception):
    pass


def host_syntax_error(host: str) -> str | None:
    """Why `host` is not a host name or an IP address, or None."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    if not _HOSTNAME.match(host) or host.replace(".", "").isdigit():
        return _("Not a host name or IP address.")
    return None


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def host_refusal(host: str) -> str | None:
    """Why `host`, as written, may not be a collector (a literal private address, localhost)."""
    if settings.SIEM_ALLOW_PRIVATE_ADDRESSES:
        return None
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return _("The portal's own host cannot be a collector.")
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return None
    if _private(name):
        return _("A private, loopback or link-local address cannot be a collector.")
    return None


def vetted_address(host: str, port: int) -> tuple[int, tuple]:
    """(family, socket address) to connect to for `host`: the first address it resolves to,
    once every address it resolves to has been checked."""
    refusal = host_refusal(host)
    if refusal:
        raise AddressRefused(refusal)
    try:
        resolved = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise AddressRefused(f"cannot resolve {host}: {error}") from error
    if not settings.SIEM_ALLOW_PRIVATE_ADDRESSES:
        for _, _, _, _, sockaddr in resolved:
            if _private(sockaddr[0]):
                raise AddressRefused(
                    f"{host} resolves to a private address ({sockaddr[0]}): refused"
                )
    family, _, _, _, sockaddr = resolved[0]
    return family, sockaddr
