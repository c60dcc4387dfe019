"""JupyterLab as the lab runs it (``make lab``, and the browser tests): served from the project
root so that a notebook's links to ``../docs/`` open, on the first notebook; idle kernels culled
(a closed tab's kernel stops, and its stacks with it); no news pop-up over the first screen."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from scalelab.plumbing import paths

CULL_IDLE_S = 3600   # a kernel idle this long (no cell running, no tab open) is stopped
CULL_INTERVAL_S = 300
FIRST_PAGE = "notebooks/00-start-here.ipynb"
# JupyterLab's default settings for this environment (``overrides.json``): no Jupyter news
# asked for over the first screen, no update check (no internet here but package registries);
# widgets' state saved with the notebook, so a reopened notebook whose kernel is gone shows
# its sliders as they were, not "model not found"
SETTINGS = {"@jupyterlab/apputils-extension:notification": {
    "fetchNews": "false", "checkForUpdates": False},
    "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True}}


def command(root: Path | None = None, port: int | None = None, token: str | None = None,
            first_page: str | None = FIRST_PAGE, browser: bool = True) -> list[str]:
    """The ``jupyter lab`` command line: loopback only, ``root`` (the project) as its folder,
    ``first_page`` (relative to it) opened first, idle kernels culled after ``CULL_IDLE_S``."""
    root = Path(root or paths.PROJECT_ROOT)
    jupyter = Path(sys.executable).with_name("jupyter")
    out = [str(jupyter), "lab", "--ip", "127.0.0.1", f"--notebook-dir={root}",
           f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_S}",
           f"--MappingKernelManager.cull_interval={CULL_INTERVAL_S}",
           "--MappingKernelManager.cull_connected=False",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if first_page:
        out.append(f"--LabApp.default_url=/lab/tree/{first_page}")
    if port is not None:
        out += [f"--port={port}", "--ServerApp.port_retries=0"]
    if token is not None:
        out.append(f"--ServerApp.token={token}")
    if not browser:
        out.append("--no-browser")
    if os.geteuid() == 0:
        out.append("--allow-root")
    return out


def settings_file(prefix: str | Path = sys.prefix) -> Path:
    """Where JupyterLab reads this environment's default settings."""
    return Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"


def write_settings(prefix: str | Path = sys.prefix) -> Path:
    """Merge ``SETTINGS`` into the environment's ``overrides.json`` (other keys kept)."""
    path = settings_file(prefix)
    try:
        current = json.loads(path.read_text())
    except (OSError, ValueError):
        current = {}
    for plugin, values in SETTINGS.items():
        current.setdefault(plugin, {}).update(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=2) + "\n")
    tmp.replace(path)
    return path


def banner() -> str:
    """What ``make lab`` says before JupyterLab starts."""
    return (f"scalelab: JupyterLab on 127.0.0.1, serving {paths.PROJECT_ROOT} and opening "
            f"{FIRST_PAGE}. A kernel idle for {CULL_IDLE_S // 60} minutes with no tab open is "
            "stopped, and every stack it started stops with it (its results are on disk). "
            "Ctrl-C twice here stops JupyterLab and every kernel.")
