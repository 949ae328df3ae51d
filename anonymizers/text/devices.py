"""Device data made less identifying: truncated IP addresses, generalized user agents."""

from __future__ import annotations

import ipaddress
import re

_IPV4_PREFIX = 24
_IPV6_PREFIX = 48

_BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("Windows", "Windows"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)
_GENERAL = re.compile(r"[A-Za-z ]+ on [A-Za-z ]+")  # fullmatch: `$` passes a final newline


def truncate_ip(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Keep the network, drop the host: IPv4 /24, IPv6 /48."""
    prefix = _IPV4_PREFIX if isinstance(ip, ipaddress.IPv4Address) else _IPV6_PREFIX
    return ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address


def generalize_user_agent(user_agent: str) -> str:
    """'Chrome on Windows': the browser family and the OS, no versions or build ids."""
    if _GENERAL.fullmatch(user_agent):
        return user_agent  # already general: anonymizing twice changes nothing
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "Other browser")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "other OS")
    return f"{browser} on {system}"
