"""The slow upstream (scalelab.servers.slow_upstream) as a service of the stack."""

from __future__ import annotations

import sys

from scalelab.plumbing import paths
from scalelab.plumbing.http import http_get
from scalelab.servers.base import HOST, Service


class SlowUpstream(Service):
    name = "upstream"
    account = "harness"  # a Python script of the harness, on its interpreter
    component = "upstream"

    @property
    def version(self) -> str:
        return "scalelab"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "scalelab.servers.slow_upstream", "--host", HOST,
                "--port", str(self.port)]

    def cwd(self):
        return paths.PROJECT_ROOT

    def is_ready(self) -> bool:
        return http_get(f"{self.url}/?ms=0")[0] == 200
