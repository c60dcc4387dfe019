"""``scalelab doctor``: what the lab found on this machine, and the fix for what is missing."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from scalelab.plumbing import binaries, cpus, paths


@dataclass
class Check:
    name: str
    ok: bool
    version: str
    where: str
    source: str
    required: bool
    fix: str = ""


def checks() -> list[Check]:
    out = []
    for name, found in binaries.find_all().items():
        fix = "" if found.ok else binaries.missing_message([found]).split("\n", 1)[1].strip()
        out.append(Check(name, found.ok, found.version if found.ok else "missing",
                         str(found.path().parent) if found.ok else "-", found.source or "-",
                         found.server.required, fix))
    for tool, why in (("setpriv", "ties servers to their owner (parent-death signal)"),
                      ("taskset", "pins servers and the generator to their CPUs")):
        path = shutil.which(tool)
        out.append(Check(tool, bool(path), "present" if path else "missing",
                         os.path.dirname(path) if path else "-", "PATH" if path else "-", True,
                         "" if path else f"install util-linux ({why})"))
    return out


def recorded_report() -> tuple[str, int]:
    """In reference mode: the machine the reference run was recorded on (nothing here is
    checked, since nothing here is started)."""
    from scalelab.results import reference

    m = reference.machine()
    env = m.get("environment", {})
    lines = [f"Reference run, {m.get('mode', 'full')} mode, recorded {m.get('recorded', '?')} "
             f"(commit {env.get('git_commit', '?')}):",
             f"  machine: {env.get('cores', '?')} cores ({env.get('cpu_model', '?')}), "
             f"{env.get('memory_gib', '?')} GiB, Linux {env.get('kernel', '?')}",
             f"  layout: {reference.layout().describe()}"]
    lines += [f"  {name:<10} {env.get(name, '?')}" for name in
              ("python", "django", "gunicorn", "uvicorn", "locust", "postgresql", "redis",
               "nginx", "memcached")]
    return "\n".join(lines), 0


def report() -> tuple[str, int]:
    """The doctor's text and its exit code (1 when something required is missing); in
    reference mode, the reference machine's."""
    from scalelab.publishing import reference_mode

    if reference_mode.active():
        return recorded_report()
    rows = checks()
    lines = [f"{'server':<10} {'status':<8} {'version':<9} {'from':<22} where"]
    for c in rows:
        status = "ok" if c.ok else ("MISSING" if c.required else "missing")
        lines.append(f"{c.name:<10} {status:<8} {c.version:<9} {c.source:<22} {c.where}")
    layout = cpus.default_layout()
    lines += ["", f"CPUs: {os.cpu_count()} ({layout.describe()})"]
    try:
        from scalelab.plumbing.processes import database_user, lab_user
        lines.append(f"PostgreSQL runs as: {database_user() or 'the current user'}; every "
                     f"other server as: {lab_user() or 'the current user'}")
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        lines.append(f"servers' users: {exc}")
    from scalelab.plumbing import hosts

    can, why = hosts.support()
    lines.append(f"scale model hosts (CPU quotas): {'yes' if can else 'no'}, {why}"
                 + ("" if can else "; notebooks that need them show the reference run"))
    lines.append(f"state (database clusters): {paths.state_dir()}")
    lines.append(f"server logs: {paths.relative(paths.runs_dir())}/<run>/logs/")
    lines.append(f"results: {paths.relative(paths.results_dir())}/<notebook>/")
    bad = [c for c in rows if not c.ok and c.required]
    optional = [c for c in rows if not c.ok and not c.required]
    for c in optional:
        lines.append(f"note: {c.name} is missing; experiments that need it are skipped. {c.fix}")
    if bad:
        lines.append("")
        lines.append("Missing and required:")
        lines += [f"  {c.name}: {c.fix}" for c in bad]
        lines.append("Or run `make setup` (Debian as root installs them with apt), or use conda: "
                     "conda env create -f environment.yml")
    return "\n".join(lines), (1 if bad else 0)
