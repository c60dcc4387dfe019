"""A real JupyterLab on 127.0.0.1 and a real headless browser driving it, for the tests of
how a student uses the notebooks (tests/lab/test_jupyterlab.py).

The browser is Debian's ``chromium`` (setup installs it as root on Debian), driven by
Playwright from PyPI pointed at that executable: no browser is downloaded.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from scalelab.plumbing.processes import spawn, stop_group
from scalelab.publishing import browser, execution, lab

chromium = browser.chromium  # the tests' name for it


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """``jupyter lab`` in its own process group on a free loopback port, serving ``root``,
    with a token; stopped with its whole group (kernels included)."""

    def __init__(self, root: Path, log: Path):
        self.root, self.log = root, log
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> "Lab":
        # the command `make lab` runs (scalelab.publishing.lab), on this test's folder
        # with tabs of its own, not the user's or another lab's (JupyterLab restores the
        # tabs of its workspace, kept in the user's home unless told otherwise)
        workspaces = self.root / ".workspaces"
        command = lab.command(self.root, port=self.port, token=self.token, first_page=None,
                              browser=False) + ["--LabApp.expose_app_in_browser=True",
                                                f"--LabApp.workspaces_dir={workspaces}"]
        # the kernels it starts run quick mode with the suite's shorter windows
        # a live lab: not the headless runs' setting, which this process took from papermill's
        # runs earlier in the session (``execution.execute`` sets it in os.environ)
        env = {k: v for k, v in os.environ.items() if k != execution.HEADLESS}
        self.proc = spawn(command, self.log, env={**env, "SCALELAB_PROGRESS": "1",
                                                  "SCALELAB_SUITE": "1"})
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({self.proc.returncode}):\n"
                                   + self.log.read_text()[-2000:])
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return self
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"jupyter lab not ready within {timeout:.0f} s:\n"
                           + self.log.read_text()[-2000:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_group(self.proc)

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# JavaScript run in the page: JupyterLab's own command registry (exposed with
# --LabApp.expose_app_in_browser), so the test does what the menus do.
RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
SAVE = "() => window.jupyterapp.commands.execute('docmanager:save')"
CLOSE_ALL = "() => window.jupyterapp.commands.execute('application:close-all')"
KERNEL_STATE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.sessionContext || !w.sessionContext.session) return 'no session';
  return w.sessionContext.session.kernel ? w.sessionContext.session.kernel.status : 'no kernel';
}"""
KERNEL_NAME = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  return w && w.sessionContext ? w.sessionContext.kernelPreference.name ||
         (w.sessionContext.session && w.sessionContext.session.kernel.name) : null;
}"""
PENDING_CELLS = """() => Array.from(document.querySelectorAll('.jp-InputPrompt'))
  .filter(e => e.textContent.includes('*')).length"""
# code cells not yet run to the end: pending ("[*]:") or never run ("[ ]:")
UNFINISHED_CELLS = """() => Array.from(document.querySelectorAll('.jp-CodeCell .jp-InputPrompt'))
  .filter(e => e.textContent.includes('*') || e.textContent.includes('[ ]')).length"""
RENDERED_OUTPUTS = """() => document.querySelectorAll('.jp-OutputArea-output').length"""
EXECUTE = """(code) => new Promise((resolve, reject) => {
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code});
  let failed = null;
  future.onIOPub = (msg) => { if (msg.header.msg_type === 'error') failed = msg.content.ename +
                               ': ' + msg.content.evalue; };
  future.done.then(() => failed ? reject(new Error(failed)) : resolve(true), reject);
})"""
RESTART = """() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()"""
