"""The slow upstream (scalelab.servers.slow_upstream) as a service of the stack."""

from __future__ import annotations

import sys
from pathlib import Path

from scalelab.plumbing import paths
from scalelab.plumbing.http import http_get
from scalelab.servers import app_runtime
from scalelab.servers.base import HOST, Service


class SlowUpstream(Service):
    name = "upstream"
    component = "upstream"

    @property
    def version(self) -> str:
        return "scalelab"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    _runtime: app_runtime.Runtime | None = None
    _app_dir: Path | None = None

    def prepare(self) -> None:
        """As root: the lab's user runs the script (standard library only) from the runtime
        copy of the interpreter."""
        if self.user is not None:
            self._runtime = app_runtime.for_interpreter(sys.executable)
            self._app_dir = app_runtime.app_copy(self.run.id, self.log_path.stem)

    def env(self) -> dict[str, str]:
        return self._runtime.env() if self._runtime else {}

    def command(self) -> list[str]:
        if self._runtime is not None:
            return [str(self._runtime.python), str(self._app_dir / "slow_upstream.py"),
                    "--host", HOST, "--port", str(self.port)]
        return [sys.executable, "-m", "scalelab.servers.slow_upstream", "--host", HOST,
                "--port", str(self.port)]

    def cwd(self):
        return self._app_dir or paths.PROJECT_ROOT

    def stop(self) -> None:
        super().stop()
        if self._app_dir is not None:
            app_runtime.remove_app_copy(self._app_dir)
            self._app_dir = None

    def is_ready(self) -> bool:
        return http_get(f"{self.url}/?ms=0")[0] == 200
