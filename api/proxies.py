"""Forwarded headers, believed only from the proxies an operator names (PROMO_TRUSTED_PROXIES).

The client's address matters (the per-IP daily cap of friend assists reads it): a header any
client can send must not decide it. uvicorn believes X-Forwarded-For from 127.0.0.1 by default;
`promo serve` turns that off and this is the one place the rule lives. When the connection comes
from a trusted proxy, the client is the right-most address of X-Forwarded-For that is not itself
a trusted proxy, and X-Forwarded-Proto (http or https) is the scheme; otherwise both headers
are ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Parse PROMO_TRUSTED_PROXIES entries (IPs or CIDRs); a bad one stops the start-up."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(f"PROMO_TRUSTED_PROXIES: {entry!r} is not an IP address or a CIDR") from exc
    return tuple(networks)


class Proxies:
    def __init__(self, networks: tuple[Network, ...]) -> None:
        self.networks = networks

    def trusts(self, address: str | None) -> bool:
        if not address or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def apply(self, scope: dict[str, Any]) -> None:
        """Rewrite the ASGI scope's client and scheme from the forwarded headers, if the peer
        is a trusted proxy."""
        client = scope.get("client")
        if not client or not self.trusts(client[0]):
            return
        forwarded_for = forwarded_proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for = value if forwarded_for is None else forwarded_for + b"," + value
            elif name == b"x-forwarded-proto":
                forwarded_proto = value
        if forwarded_for is not None:
            hops = [hop.strip() for hop in forwarded_for.decode("latin-1").split(",")]
            for hop in reversed(hops):
                try:
                    address = str(ipaddress.ip_address(hop))
                except ValueError:
                    break  # a malformed hop: believe nothing further left
                if not self.trusts(address):
                    scope["client"] = (address, 0)
                    break
        if forwarded_proto is not None:
            proto = forwarded_proto.decode("latin-1").strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
