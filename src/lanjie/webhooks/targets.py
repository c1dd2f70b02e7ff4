"""Where a webhook may be sent: the SSRF guard, at registration and before every request.

http(s) only; https unless private targets are allowed; no credentials in the URL; and, unless
private targets are allowed, every address the host resolves to must be a public one (not loopback,
RFC 1918, link-local, unique-local, multicast, unspecified, reserved or shared). The host is resolved
once per check; the request itself resolves again, so a DNS answer that changes in between
(rebinding) is only stopped by an egress proxy that pins the address (docs/webhooks.md).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

__all__ = ["MAX_URL_LENGTH", "Resolver", "TargetRefused", "is_public", "system_resolver", "vet"]

MAX_URL_LENGTH = 2000
#: host, port → the addresses it resolves to (strings); raises OSError when it does not resolve.
Resolver = Callable[[str, int], Iterable[str]]


class TargetRefused(ValueError):
    """The URL may not receive webhooks; the message says why, for the merchant."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``."""
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


def is_public(address: str) -> bool:
    """Whether an address is on the public internet (and not multicast)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and not ip.is_unspecified


def vet(url: str, *, allow_private: bool, resolve: Resolver = system_resolver) -> str:
    """Check ``url`` as a webhook target and return it; raise TargetRefused saying what is wrong."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("the URL must start with https://")
    if parts.scheme != "https" and not allow_private:
        raise TargetRefused("webhooks are sent over https only")
    host = parts.hostname
    if not host:
        raise TargetRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL may not carry a user name or password")
    if parts.fragment:
        raise TargetRefused("the URL may not have a #fragment")
    if allow_private:
        return url
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = list(resolve(host, port or (443 if parts.scheme == "https" else 80)))
        except (OSError, UnicodeError) as exc:
            raise TargetRefused(f"the host {host!r} does not resolve ({exc})") from None
    if not addresses:
        raise TargetRefused(f"the host {host!r} does not resolve")
    private = sorted(a for a in addresses if not is_public(a))
    if private:
        raise TargetRefused(f"the host {host!r} resolves to a private, loopback or reserved address "
                            f"({', '.join(private)})")
    return url
