"""The slow upstream (scalelab.servers.slow_upstream) as a service of the stack."""

from __future__ import annotations

import sys

from scalelab.plumbing.http import http_get
from scalelab.servers import app_runtime
from scalelab.servers.base import HOST, Service


class SlowUpstream(app_runtime.RunsFromCopy, Service):
    name = "upstream"
    component = "upstream"

    @property
    def version(self) -> str:
        return "scalelab"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.python = sys.executable  # as root, run from its copy (app_runtime.RunsFromCopy)

    def prepare(self) -> None:
        self.make_copy()

    def env(self) -> dict[str, str]:
        return self.copy_env()

    def command(self) -> list[str]:
        """The script (standard library only) by path: the copy's, or the checkout's."""
        script = self.app_dir() / "slow_upstream.py" if self._app_dir else app_runtime.UPSTREAM
        return [self.interpreter(), str(script), "--host", HOST, "--port", str(self.port)]

    def cwd(self):
        return self.app_dir()

    def stop(self) -> None:
        super().stop()
        self.remove_copy()

    def is_ready(self) -> bool:
        return http_get(f"{self.url}/?ms=0")[0] == 200
