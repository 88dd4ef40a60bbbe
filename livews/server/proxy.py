"""Clients behind a reverse proxy: their address and scheme from ``Forwarded`` / ``X-Forwarded-*`` headers.

Those headers are believed only when the immediate peer (the TCP connection's other end) is one of the
configured trusted proxies; from anyone else they are ignored, since any client can send them. ``hops`` is the
number of trusted proxies in front of the server: each appends the address it received from, so the client
is the ``hops``-th entry from the end of the list, and entries further left (which the client itself may have
written) are never used. ``Forwarded`` (RFC 7239) wins over the ``X-Forwarded-For`` / ``X-Forwarded-Proto``
pair when both are present. A value that is not an IP address (``unknown``, an obfuscated name) leaves the
peer's own address in place.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from ..engine.handshake import Headers

__all__ = ["TrustedProxies"]

_SCHEMES = {"http": "ws", "ws": "ws", "https": "wss", "wss": "wss"}


class TrustedProxies:
    """Which peers may speak for a client, and through how many proxies (``Server(trusted_proxies=...)``).

    trusted: addresses or networks (``"10.0.0.0/8"``, ``"127.0.0.1"``, ``"::1"``), or ``"*"`` for any peer.
    hops: trusted proxies between the client and the server (1: one proxy in front).
    """

    def __init__(self, trusted: Iterable[str] | str, hops: int = 1) -> None:
        if isinstance(trusted, str):
            trusted = [part.strip() for part in trusted.split(",") if part.strip()]
        if hops < 1:
            raise ValueError(f"hops must be 1 or more, not {hops!r}")
        self.hops = hops
        self._any = False
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for item in trusted:
            if item == "*":
                self._any = True
            else:
                self._networks.append(ipaddress.ip_network(item, strict=False))

    def trusts(self, peer: str) -> bool:
        if self._any:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self._networks)

    def client_of(self, peer: str, headers: Headers) -> tuple[str, str | None] | None:
        """(client address, ``"ws"``/``"wss"`` or ``None``) from the headers; ``None``: keep the peer's."""
        if not self.trusts(peer):
            return None
        forwarded = headers.get_all("forwarded")
        if forwarded:
            entries = _parse_forwarded(forwarded)
            if not entries:
                return None
            entry = entries[max(len(entries) - self.hops, 0)]
            address, proto = entry.get("for"), entry.get("proto")
        else:
            chain = _list(headers, "x-forwarded-for")
            if not chain:
                return None
            address = chain[max(len(chain) - self.hops, 0)]
            protos = _list(headers, "x-forwarded-proto")
            proto = protos[max(len(protos) - self.hops, 0)] if protos else None
        host = _address(address)
        if host is None:
            return None
        return host, _SCHEMES.get((proto or "").lower())


def _list(headers: Headers, name: str) -> list[str]:
    """The non-empty elements of a comma-separated header, over all its lines, in order."""
    return [item.strip() for value in headers.get_all(name) for item in value.split(",") if item.strip()]


def _parse_forwarded(values: list[str]) -> list[dict[str, str]]:
    """RFC 7239 §4: comma-separated elements of semicolon-separated ``name=value`` pairs (quotes removed)."""
    entries = []
    for value in values:
        for element in value.split(","):
            pairs: dict[str, str] = {}
            for pair in element.split(";"):
                name, sep, item = pair.strip().partition("=")
                if sep:
                    item = item.strip()
                    if len(item) >= 2 and item[0] == item[-1] == '"':
                        item = item[1:-1]
                    pairs.setdefault(name.strip().lower(), item)
            entries.append(pairs)
    return entries


def _address(value: str | None) -> str | None:
    """The IP address in a ``for`` value (``"[2001:db8::1]:4711"``, ``192.0.2.60:80``, ``192.0.2.60``)."""
    if not value:
        return None
    if value.startswith("["):
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
