"""Other Python interpreters the app can run on (notebook 08): found on this machine, each
given a venv of its own with the app's packages at the lab's own versions.

Debian's registry here offers no other CPython, and PyPy only for Python 3.9, which Django
5.2 does not support; PyPI ships no interpreters. What this finds is what the machine already
has: pyenv's versions, and ``python3.X`` on the usual paths. ``python -m scalelab.plumbing.interpreters
--build`` (run by ``make setup``) builds the venv of the newest one; it never fails setup.
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from scalelab.plumbing import paths

MIN_VERSION = (3, 10)  # Django 5.2's oldest Python
# what the app server imports, installed at the versions the lab runs
APP_PACKAGES = ("django", "psycopg", "psycopg-binary", "gunicorn", "jinja2", "whitenoise",
                "asgiref", "sqlparse")
SEARCH = ("{pyenv}/versions/*/bin/python3", "/usr/bin/python3.*", "/usr/local/bin/python3.*",
          "/opt/python*/bin/python3")


@dataclass(frozen=True)
class Interpreter:
    implementation: str  # CPython, PyPy
    version: str         # 3.13.0
    path: str

    @property
    def name(self) -> str:
        return f"{self.implementation} {self.version}"

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", self.version)[:3])

    @property
    def venv(self) -> Path:
        return paths.state_dir() / "venvs" / f"{self.implementation.lower()}-{self.version}"

    @property
    def app_python(self) -> Path:
        return self.venv / "bin" / "python"


def own() -> Interpreter:
    return Interpreter(platform.python_implementation(), platform.python_version(),
                       sys.executable)


def _probe(path: str) -> Interpreter | None:
    try:
        out = subprocess.run([path, "-c", "import platform; print(platform."
                              "python_implementation(), platform.python_version())"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = out.stdout.split()
    if out.returncode != 0 or len(parts) != 2:
        return None
    return Interpreter(parts[0], parts[1], path)


APP_IMPORTS = ("django", "gunicorn", "psycopg")  # what serving the app imports first


def check_app_python(path: str) -> None:
    """Raise a ValueError naming ``python`` unless ``path`` is a Python that imports the app's
    packages (it then serves the app under gunicorn): checked in seconds, before any server
    waits for it."""
    probe = f"import {', '.join(APP_IMPORTS)}; print('scalelab-app-python')"
    try:
        out = subprocess.run([path, "-c", probe], capture_output=True, text=True, timeout=30)
        ok, why = "scalelab-app-python" in out.stdout, (out.stderr or out.stdout).strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        ok, why = False, str(exc)
    if not ok:
        raise ValueError(f"python must be '' (the lab's own) or a Python interpreter that "
                         f"imports {', '.join(APP_IMPORTS)} (`make setup` builds one per "
                         f"interpreter found), not {path!r}"
                         + (f": {why.splitlines()[-1]}" if why else ": it printed nothing"))


def candidates() -> list[Interpreter]:
    """Interpreters on this machine that Django 5.2 supports, other than the lab's own
    version, newest first (one per implementation and version)."""
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found: dict[tuple, Interpreter] = {}
    me = own()
    for pattern in SEARCH:
        for path in sorted(glob.glob(pattern.format(pyenv=pyenv))):
            if not re.search(r"python3(\.\d+)?$", path) or not os.access(path, os.X_OK):
                continue
            it = _probe(path)
            if it is None or it.version_tuple[:2] < MIN_VERSION:
                continue
            if (it.implementation, it.version_tuple[:2]) == (me.implementation,
                                                             own().version_tuple[:2]):
                continue
            found.setdefault((it.implementation, it.version), it)
    return sorted(found.values(), key=lambda i: i.version_tuple, reverse=True)


def _requirements() -> list[str]:
    out = []
    for name in APP_PACKAGES:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out


def built(it: Interpreter) -> bool:
    stamp = it.venv / ".scalelab-app"
    return stamp.exists() and stamp.read_text().split() == _requirements()


def build(it: Interpreter, timeout: int = 900) -> Path:
    """The venv of ``it`` with the app's packages (built once; again when the lab's versions
    change). Returns its python. Raises RuntimeError with pip's last lines if it fails."""
    if built(it):
        return it.app_python
    it.venv.parent.mkdir(parents=True, exist_ok=True)
    log = it.venv.parent / f"{it.venv.name}.log"
    reqs = _requirements()
    with open(log, "w") as out:
        for command in ([it.path, "-m", "venv", "--clear", str(it.venv)],
                        [str(it.app_python), "-m", "pip", "install", "--quiet", *reqs]):
            try:
                done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                      timeout=timeout)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"building {it.venv} took over {timeout} s; see {log}")
            if done.returncode != 0:
                tail = "\n".join(log.read_text().splitlines()[-15:])
                raise RuntimeError(f"building the app's venv for {it.name} failed; {log} "
                                   f"ends:\n{tail}")
    (it.venv / ".scalelab-app").write_text("\n".join(reqs))
    return it.app_python


def ready() -> list[Interpreter]:
    """The other interpreters whose app venv is built, newest first."""
    return [it for it in candidates() if built(it)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scalelab.plumbing.interpreters")
    parser.add_argument("--build", action="store_true",
                        help="build the app's venv for the newest other interpreter found")
    args = parser.parse_args(argv)
    found = candidates()
    if not found:
        print("interpreters: no other Python that Django supports on this machine "
              f"(the lab runs {own().name})")
        return 0
    print("interpreters: " + ", ".join(f"{it.name} ({it.path})" for it in found))
    if args.build:
        newest = found[0]
        try:
            build(newest)
            print(f"interpreters: the app's venv for {newest.name} is ready in {newest.venv}")
        except RuntimeError as exc:  # optional: notebook 08 says it has none
            print(f"interpreters: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
