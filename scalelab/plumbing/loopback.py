"""The loopback rule: load tests and the lab's own requests go only to this machine
(127.0.0.0/8, ::1, localhost) unless ``SCALELAB_ALLOW_REMOTE_TARGET=1`` names a deployment
the user owns."""

from __future__ import annotations

import ipaddress
import os
import urllib.parse


def check_url(url: str) -> str:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(f"target must be a Stack or an http(s) URL, not {url!r}")
    host = parsed.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and os.environ.get("SCALELAB_ALLOW_REMOTE_TARGET") != "1":
        raise ValueError(
            f"target {url!r} is not on this machine; load tests target loopback unless you set "
            "SCALELAB_ALLOW_REMOTE_TARGET=1 for a deployment you own (see README, 'Load from "
            "several machines')")
    return url.rstrip("/")
