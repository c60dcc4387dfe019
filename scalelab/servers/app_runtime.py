"""What the lab's user runs the Python servers from: a copy of the interpreter, the app's
packages and the app's code, in the state folder, where that user can read them.

The lab's interpreter may sit where no other user can read it (pyenv's, under /root, mode
0700), and so may the checkout (a clone in ``mktemp -d``). As root, gunicorn, uvicorn and the
slow upstream run as the lab's user from this copy: the same interpreter build and the same
package versions as the checkout's, so a request costs what it costs there. The interpreter
and packages are copied once per interpreter and set of packages (a folder named by their
digest); the app's code afresh at each start, so an edit to the app shows at the next start.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psutil

from scalelab.plumbing import paths

# what the app servers import, with what those need (found from the packages' metadata)
RUNTIME_DISTS = ("django", "gunicorn", "uvicorn", "psycopg", "psycopg-binary", "psycopg-pool",
                 "jinja2", "whitenoise", "redis", "pymemcache", "brotli")
# parts of the standard library no server of the lab imports
STDLIB_SKIP = ("site-packages", "dist-packages", "test", "idlelib", "tkinter", "turtledemo",
               "ensurepip", "lib2to3", "config-*")
LAYOUT = 2  # what a runtime holds; 2: its packages byte-compiled. Part of its folder's name
UPSTREAM = paths.PROJECT_ROOT / "scalelab" / "servers" / "slow_upstream.py"


@dataclass(frozen=True)
class Runtime:
    """A copied interpreter (``python/``) with the app's packages (``site-packages/``)."""

    root: Path
    version: str  # "3.11"

    @property
    def python(self) -> Path:
        return self.root / "python" / "bin" / f"python{self.version}"

    @property
    def site_packages(self) -> Path:
        return self.root / "site-packages"

    def env(self) -> dict[str, str]:
        """The copy's packages, and its libpython before the one its build points at."""
        return {"PYTHONPATH": str(self.site_packages), "PYTHONNOUSERSITE": "1",
                "LD_LIBRARY_PATH": str(self.root / "python" / "lib")}


def _describe(python: str) -> dict:
    code = ("import json, sys, sysconfig; p = sysconfig.get_paths(); print(json.dumps("
            "{'base': sys.base_prefix, 'version': '%d.%d' % sys.version_info[:2], "
            "'build': sys.version, 'site': sorted({p['purelib'], p['platlib']})}))")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{python} could not describe itself: {done.stderr[-500:]}")
    return json.loads(done.stdout)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(site_dirs: list[str], names=RUNTIME_DISTS) -> list[metadata.Distribution]:
    """The installed distributions ``names`` and every one they require, as far as they are
    installed in ``site_dirs`` (requirements of extras left out)."""
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions(path=site_dirs):
        found.setdefault(_norm(dist.metadata["Name"]), dist)
    todo, seen = [_norm(n) for n in names], {}
    while todo:
        name = todo.pop()
        if name in seen or name not in found:
            continue
        seen[name] = found[name]
        for req in found[name].requires or []:
            if "extra" in req.partition(";")[2]:
                continue
            todo.append(_norm(re.match(r"\s*([A-Za-z0-9._-]+)", req).group(1)))
    return [seen[n] for n in sorted(seen)]


_KNOWN: dict[tuple[str, Path], Runtime] = {}  # (interpreter, state folder) -> its runtime


def for_interpreter(python: str) -> Runtime:
    """The runtime of the interpreter (or venv) ``python``, built if missing. Found once per
    process (describing the interpreter and its packages takes a quarter of a second, once
    per server start otherwise) and looked up again if its copy was removed."""
    key = (python, paths.state_dir())
    known = _KNOWN.get(key)
    if known is not None and (known.root / ".complete").exists():
        return known
    _KNOWN[key] = runtime = _build(python)
    return runtime


def _remove_orphaned(base: Path, rebuilding_for: str) -> None:
    """Remove the runtimes of interpreters that are gone (a deleted clone's venv), and the
    older runtime of the one being built again: each is a copy of a whole site-packages, and
    a folder of clones would otherwise pile them up."""
    for root in base.glob("python*-*"):
        try:
            made_for = json.loads((root / ".complete").read_text())["python"]
        except (OSError, ValueError, KeyError):
            continue  # being built, or not one of ours: left alone
        gone = Path(made_for).is_absolute() and not Path(made_for).exists()
        if (gone or made_for == os.path.abspath(rebuilding_for)) and not _in_use(root):
            shutil.rmtree(root, ignore_errors=True)


def _in_use(root: Path) -> bool:
    """A live process runs the runtime's interpreter."""
    for proc in psutil.process_iter(["exe"]):
        exe = proc.info.get("exe") or ""
        if exe.startswith(str(root) + os.sep):
            return True
    return False


def _build(python: str) -> Runtime:
    info = _describe(python)
    dists = closure(info["site"])
    key = hashlib.sha256(json.dumps(
        [LAYOUT, info["base"], info["build"], info["site"],
         [(d.metadata["Name"], d.version) for d in dists]]).encode()).hexdigest()[:16]
    base = paths.state_dir() / "runtime"
    runtime = Runtime(base / f"python{info['version']}-{key}", info["version"])
    if (runtime.root / ".complete").exists():
        return runtime
    _readable_folder(base)
    _remove_orphaned(base, python)
    for old in base.glob(".building-*"):  # what a build that was killed left
        pid = old.name.rpartition("-")[2]
        if not pid.isdigit() or not psutil.pid_exists(int(pid)) or int(pid) == os.getpid():
            shutil.rmtree(old, ignore_errors=True)
    tmp = base / f".building-{os.getpid()}"
    _copy_interpreter(Path(info["base"]), info["version"], tmp / "python")
    for dist in dists:
        _copy_distribution(dist, info["site"], tmp / "site-packages", info["version"])
    _compile(python, tmp / "site-packages")
    (tmp / ".complete").write_text(json.dumps({"python": os.path.abspath(python), **info},
                                              indent=1) + "\n")
    if runtime.root.exists() and not (runtime.root / ".complete").exists():
        shutil.rmtree(runtime.root, ignore_errors=True)  # not one this code made whole
    try:
        os.rename(tmp, runtime.root)
    except OSError:  # another harness built it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return runtime


def _compile(python: str, folder: Path) -> None:
    """Byte-compile the copied packages once, as root: the lab's user cannot write them, so
    without this every worker of every start would compile Django from source (0.6 s of
    imports instead of 0.2 s here)."""
    done = subprocess.run([python, "-m", "compileall", "-q", "-j", "0", str(folder)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"compiling the runtime's packages in {folder} failed: "
                           f"{(done.stdout + done.stderr)[-500:]}")


def _copy_interpreter(base: Path, version: str, dest: Path) -> None:
    (dest / "bin").mkdir(parents=True)
    _place(base / "bin" / f"python{version}", dest / "bin" / f"python{version}")
    (dest / "lib").mkdir()
    for lib in base.glob("lib/libpython*.so*"):
        shutil.copy2(lib, dest / "lib" / lib.name, follow_symlinks=False)
    shutil.copytree(base / "lib" / f"python{version}", dest / "lib" / f"python{version}",
                    ignore=shutil.ignore_patterns(*STDLIB_SKIP), symlinks=True,
                    copy_function=_place)


def _place(src: Path | str, dest: Path | str) -> None:
    """``src`` at ``dest``: a hard link where it can be (the same file system: a copy of
    thousands of files took seconds of a fresh clone's first start), else a copy. Either way
    the file as it is now, whoever can read ``dest``'s folder can read it, and later changes
    to the source (an install writes new files) leave it as it was."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _copy_distribution(dist: metadata.Distribution, site_dirs: list[str], dest: Path,
                       version: str) -> None:
    """Every file of ``dist`` that lies in its site-packages (not its scripts elsewhere),
    with the bytecode the installer compiled for Python ``version``, where there is some."""
    made: set[Path] = set()
    tag = f"cpython-{version.replace('.', '')}"
    for entry in dist.files or []:
        src = Path(dist.locate_file(entry)).resolve()
        for site in site_dirs:
            try:
                rel = src.relative_to(Path(site).resolve())
            except ValueError:
                continue
            files = [(src, dest / rel)]
            if src.suffix == ".py":
                pyc = Path("__pycache__") / f"{src.stem}.{tag}.pyc"
                files.append((src.parent / pyc, dest / rel.parent / pyc))
            for one, to in files:
                if one.is_file() and not to.exists():
                    if to.parent not in made:
                        to.parent.mkdir(parents=True, exist_ok=True)
                        made.add(to.parent)
                    _place(one, to)
            break


def _readable_folder(folder: Path) -> None:
    """Make ``folder`` (inside the state folder) and the folders between them readable and
    traversable by everyone; the state folder's own parents must be so already."""
    state = paths.state_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for f in (folder, *folder.parents):
        if f == state.parent:
            break
        f.chmod(f.stat().st_mode | 0o755)
    for f in state.parents:
        if f.stat().st_mode & 0o001 == 0:
            raise PermissionError(
                f"the lab's user cannot reach the state folder {state}: {f} is closed to "
                "other users; set SCALELAB_STATE_DIR to a folder under one they can traverse "
                "(the default is /var/tmp/scalelab)")


def app_copy(run_id: str, service: str) -> Path:
    """A fresh copy of the app (and the slow upstream's script) for one server of one run."""
    folder = apps_folder(run_id) / service
    shutil.rmtree(folder, ignore_errors=True)
    _readable_folder(folder.parent)
    shutil.copytree(paths.APP_DIR, folder,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3"))
    shutil.copy2(UPSTREAM, folder / UPSTREAM.name)
    return folder


def remove_app_copy(folder: Path) -> None:
    """Remove one server's app copy, and its run's folder once it holds no other."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()
    except OSError:
        pass  # another server of the run still has its copy there


def apps_folder(run_id: str) -> Path:
    return paths.state_dir() / "runtime" / "apps" / run_id


class RunsFromCopy:
    """For a Python server (a :class:`~scalelab.servers.base.Service`): as root, it runs as
    the lab's user from the runtime copy of its interpreter (``python``) and a fresh copy of
    the app; otherwise from the checkout. Call :meth:`make_copy` before a start and
    :meth:`remove_copy` after a stop."""

    python: str
    _runtime: Runtime | None = None
    _app_dir: Path | None = None

    def make_copy(self) -> None:
        if self.user is not None:
            self._runtime = for_interpreter(self.python)
            self._app_dir = app_copy(self.run.id, self.log_path.stem)

    def remove_copy(self) -> None:
        if self._app_dir is not None:
            remove_app_copy(self._app_dir)
            self._app_dir = None

    def interpreter(self) -> str:
        """The Python that runs the server: the runtime copy's when there is one."""
        return str(self._runtime.python) if self._runtime else self.python

    def copy_env(self) -> dict[str, str]:
        return self._runtime.env() if self._runtime else {}

    def app_dir(self) -> Path:
        """Where the app is: its copy, or the checkout's ``benchmark_app``."""
        return self._app_dir or paths.APP_DIR

