"""Which network addresses webhook requests may go to.

A signed webhook (often with a bearer token in its headers) must not be pointed, by a
typo or a hostile config change, at the machine's own services or at the cloud
metadata endpoint (169.254.169.254). The default deny list is loopback, link-local,
unspecified and multicast addresses; private (RFC 1918 / ULA) networks are allowed,
since in-cluster receivers (Argo, Airflow) live there. ``webhooks.allow_networks``
exempts networks from the deny list, e.g. ``[127.0.0.0/8]`` for a local receiver.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The default ``webhooks.deny_networks``.
DEFAULT_DENY_NETWORKS = (
    "127.0.0.0/8",  # loopback
    "::1/128",
    "169.254.0.0/16",  # link-local, cloud metadata (169.254.169.254)
    "fe80::/10",
    "fd00:ec2::254/128",  # AWS metadata over IPv6
    "0.0.0.0/8",  # "this host"
    "::/128",
    "224.0.0.0/4",  # multicast
    "ff00::/8",
    "255.255.255.255/32",
)

#: Host names that always mean this machine (RFC 6761), checked without DNS.
_LOCAL_NAMES = ("localhost", "localhost.", "ip6-localhost", "ip6-loopback")


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    """Deny list with exemptions: an address is refused when it is in a ``deny`` network
    and in no ``allow`` network."""

    deny: tuple[IPNetwork, ...]
    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, deny: Iterable[IPNetwork], allow: Iterable[IPNetwork] = ()) -> TargetPolicy:
        """A policy from network lists (as the config holds them)."""
        return cls(tuple(deny), tuple(allow))

    def denied_by(self, address: IPAddress) -> IPNetwork | None:
        """The deny network ``address`` falls in (None: allowed). IPv4-mapped IPv6
        addresses (``::ffff:127.0.0.1``) are checked as the IPv4 address they are."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in self.allow if net.version == address.version):
            return None
        for net in self.deny:
            if net.version == address.version and address in net:
                return net
        return None

    def literal_host_problem(self, host: str) -> str | None:
        """Why ``host`` (a URL's host, no DNS lookup) is refused, or None. Only IP
        literals and ``localhost`` names can be judged here; other names are checked
        when they are resolved, at send time."""
        name = host.strip("[]").lower()
        if name in _LOCAL_NAMES or name.endswith(".localhost"):
            address: IPAddress = ipaddress.ip_address("127.0.0.1")
        else:
            try:
                address = ipaddress.ip_address(name.split("%", 1)[0])
            except ValueError:
                return None
        net = self.denied_by(address)
        if net is None:
            return None
        return (
            f"{host} is in webhooks.deny_networks ({net}); add it to webhooks.allow_networks "
            "if this receiver is intended"
        )
