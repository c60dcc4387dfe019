"""The loopback rule: load tests and the lab's own requests go only to this machine
(127.0.0.0/8, ::1, localhost) unless ``SCALELAB_ALLOW_REMOTE_TARGET=1`` names a deployment
the user owns.

``check_url`` is the one check: every generator (Locust's sweep and compare, wrk, the open
load) and the lab's own HTTP client call it before they send anything."""

from __future__ import annotations

import ipaddress
import os
import urllib.parse


def check_url(url: str, name: str = "target") -> str:
    """``url`` without a trailing slash, if it is an http(s) URL on this machine; else a
    ValueError naming the parameter ``name``. The host is the URL's real host (what follows
    any ``user@``), as a client would connect to it."""
    parsed = urllib.parse.urlparse(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        what = "a Stack or an http(s) URL" if name == "target" else "an http(s) URL"
        raise ValueError(f"{name} must be {what}, not {url!r}")
    host = parsed.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback and os.environ.get("SCALELAB_ALLOW_REMOTE_TARGET") != "1":
        raise ValueError(
            f"{name} {url!r} is not on this machine; load tests target loopback unless you set "
            "SCALELAB_ALLOW_REMOTE_TARGET=1 for a deployment you own (see README, 'Load from "
            "several machines')")
    return url.rstrip("/")
