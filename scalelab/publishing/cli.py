"""The ``scalelab`` command.

    scalelab doctor                 what was found, versions, where from; exit 1 if something is missing
    scalelab up [--workers 2 ...]   start a stack, print its URL, keep it up until `scalelab down`
    scalelab down                   stop the stack that `scalelab up` started
    scalelab reap                   kill servers left behind by a run whose owner died
    scalelab notebook 01 --mode quick [--slides]
    scalelab reproduce [--mode quick]
    scalelab export                 the static site in build/site/ from data/reference/
    scalelab reference [02 ...]     record the reference run (full mode) into data/reference/
    scalelab results [notebook]
    scalelab ledger [--write-readme]
    scalelab columns | architecture   the pages docs/columns.md and docs/architecture.md
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time

import psutil

from scalelab.plumbing import paths


def _up_file():
    return paths.state_dir() / "up.json"


def cmd_doctor(args) -> int:
    from scalelab.publishing.doctor import report

    text, code = report()
    print(text)
    return code


def cmd_up(args) -> int:
    from scalelab.plumbing.runs import _owner_alive, _write_json, owner_token, reap_stale
    from scalelab.servers.stack import Stack

    reap_stale()
    up = _up_file()
    if up.exists():
        try:
            info = json.loads(up.read_text())
            if _owner_alive(info.get("owner", "")):
                print(f"a stack is already up at {info['url']} (pid {info['pid']}); "
                      "`scalelab down` first", file=sys.stderr)
                return 1
        except (ValueError, KeyError, AttributeError):
            pass  # unreadable or stale (its owner is gone, or the pid was reused): replaced
    stack = Stack(workers=args.workers, worker_class=args.worker_class, threads=args.threads,
                  server=args.server, cache=args.cache, session=args.session,
                  questions=args.questions, seed=args.seed,
                  proxy="nginx" if args.nginx or args.microcache else None,
                  microcache_ttl=args.microcache, label="up")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with stack:
        up.parent.mkdir(parents=True, exist_ok=True)
        _write_json(up, {"pid": os.getpid(), "owner": owner_token(), "url": stack.base_url})
        print(stack.base_url, flush=True)
        print(f"logs: {paths.relative(stack.run.logs)}; stop with `scalelab down` or Ctrl-C",
              file=sys.stderr, flush=True)
        try:
            while not stop.wait(1.0):
                if not all(s.running for s in stack.services.values()):
                    print("a server of the stack exited; stopping", file=sys.stderr)
                    return 1
        finally:
            up.unlink(missing_ok=True)
    return 0


def cmd_down(args) -> int:
    up = _up_file()
    try:
        info = json.loads(up.read_text())
    except (FileNotFoundError, ValueError):
        print("no stack is up")
        return 0
    if not isinstance(info, dict) or not isinstance(info.get("owner"), str):
        up.unlink(missing_ok=True)
        print(f"no stack is up ({paths.relative(up)} did not hold a stack's state); removed it")
        return 0
    # the pid inside the owner token, which _owner_alive checks, is the one signalled
    pid = int(info["owner"].split(":", 1)[0]) if info["owner"].split(":", 1)[0].isdigit() else None
    from scalelab.plumbing.runs import _owner_alive

    # The state file survives a reboot and the lab may run as root: signal the pid only if
    # it is still the process that wrote the file (same start time), never a reused pid.
    if not _owner_alive(str(info.get("owner", ""))):
        up.unlink(missing_ok=True)
        print(f"no stack is up (the state file named pid {pid}, which is no longer the "
              "stack's owner); removed the stale file")
        return 0
    try:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    except psutil.NoSuchProcess:
        pass
    except psutil.TimeoutExpired:
        print(f"the stack (pid {pid}) did not stop within 30 s; killing it", file=sys.stderr)
        proc.kill()
    up.unlink(missing_ok=True)
    from scalelab.plumbing.runs import reap_stale

    reap_stale()
    print(f"stopped the stack at {info.get('url')}")
    return 0


def cmd_reap(args) -> int:
    from scalelab.plumbing.runs import reap_stale

    reap_stale(verbose=True)
    return 0


def cmd_notebook(args) -> int:
    from scalelab.publishing.execution import execute

    res = execute(args.name, mode=args.mode, slides=args.slides)
    print(f"{res['notebook']}: executed in {res['seconds']:.0f} s ({args.mode} mode) -> "
          f"{paths.relative(res['executed'])}, {paths.relative(res['html'])}"
          + (f", {paths.relative(res['slides'])}" if "slides" in res else ""))
    return 0


def cmd_reproduce(args) -> int:
    from scalelab.publishing.execution import available, execute, resolve

    names = args.notebooks or available()
    for name in names:  # every name before any notebook runs
        resolve(name)
    t0 = time.perf_counter()
    for name in names:
        print(f"running {name} ({args.mode} mode) ...", flush=True)
        res = execute(name, mode=args.mode, slides=args.slides)
        print(f"  done in {res['seconds']:.0f} s -> {paths.relative(res['html'])}", flush=True)
    print(f"reproduced {len(names)} notebook(s) in {time.perf_counter() - t0:.0f} s; "
          f"results in {paths.relative(paths.results_dir())}/, HTML in build/html/")
    return 0


def cmd_export(args) -> int:
    from scalelab.publishing.site import build

    t0 = time.perf_counter()
    print("exporting the site from the notebooks and data/reference/ (reference mode: no "
          "server) ...", flush=True)
    index = build(progress=lambda msg: print(msg, flush=True))
    print(f"site built in {time.perf_counter() - t0:.0f} s: {paths.relative(index)}")
    return 0


def cmd_reference(args) -> int:
    from scalelab.publishing.execution import available, record_reference, resolve

    names = args.notebooks or available()
    for name in names:
        resolve(name)
    for name in names:
        print(f"recording the reference of {name} (full mode, then quick mode for its run "
              "time) ...", flush=True)
        res = record_reference(name, quick_timing=not args.no_quick_timing)
        print(f"  full mode took {res['seconds']:.0f} s -> {paths.relative(res['reference'])}/",
              flush=True)
    return 0


def cmd_ledger(args) -> int:
    from scalelab.publishing import ledger

    if args.write_readme:
        changed = ledger.write_readme()
        print("README.md ledger " + ("updated" if changed else "already up to date"))
    else:
        print(ledger.table())
    return 0


def cmd_results(args) -> int:
    from scalelab.results import list_results

    df = list_results(args.notebook)
    print(df.to_string(index=False) if len(df) else "no results yet")
    return 0


def cmd_architecture(args) -> int:
    from scalelab.publishing.architecture import page

    print(page(), end="")
    return 0


def cmd_columns(args) -> int:
    from scalelab.load import describe_columns

    print(describe_columns(), end="")
    return 0


def cmd_lab(args) -> int:
    import os
    import sys

    from scalelab.publishing import lab

    lab.write_settings()
    print(lab.banner(), file=sys.stderr, flush=True)
    command = lab.command()
    os.execv(command[0], command)  # JupyterLab in this process: Ctrl-C reaches it directly
    return 0  # not reached


def build_parser() -> argparse.ArgumentParser:
    from scalelab.servers.appserver import CACHES, SESSIONS, WORKER_CLASSES

    p = argparse.ArgumentParser(prog="scalelab", description="The 'Does Django scale?' lab.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="servers found, versions and where from").set_defaults(
        fn=cmd_doctor)
    up = sub.add_parser("up", help="start a stack and keep it up until `scalelab down`")
    up.add_argument("--workers", type=int, default=2)
    up.add_argument("--worker-class", choices=WORKER_CLASSES, default="sync")
    up.add_argument("--threads", type=int, default=1)
    up.add_argument("--server", choices=("gunicorn", "uvicorn"), default="gunicorn")
    up.add_argument("--cache", choices=CACHES, default="none")
    up.add_argument("--nginx", action="store_true", help="put nginx in front (the printed URL)")
    up.add_argument("--microcache", type=int, default=0, metavar="SECONDS",
                    help="nginx microcache TTL (implies --nginx)")
    up.add_argument("--session", choices=SESSIONS, default="db")
    up.add_argument("--questions", type=int, default=10_000)
    up.add_argument("--seed", type=int, default=42)
    up.set_defaults(fn=cmd_up)
    sub.add_parser("down", help="stop the stack `scalelab up` started").set_defaults(fn=cmd_down)
    sub.add_parser("reap", help="kill servers of runs whose owner died").set_defaults(fn=cmd_reap)
    nb = sub.add_parser("notebook", help="execute one notebook and export it to HTML")
    nb.add_argument("name", help="e.g. 01 or 01-baseline")
    nb.add_argument("--mode", choices=("quick", "full", "reference"), default="quick")
    nb.add_argument("--slides", action="store_true", help="also export reveal.js slides")
    nb.set_defaults(fn=cmd_notebook)
    rep = sub.add_parser("reproduce", help="execute every notebook and export them")
    rep.add_argument("notebooks", nargs="*")
    rep.add_argument("--mode", choices=("quick", "full"), default="quick")
    rep.add_argument("--slides", action="store_true")
    rep.set_defaults(fn=cmd_reproduce)
    sub.add_parser("export", help="the static site in build/site/ (reference mode, no server)"
                   ).set_defaults(fn=cmd_export)
    ref = sub.add_parser("reference", help="record the reference run (full mode) of notebooks "
                         "into data/reference/")
    ref.add_argument("notebooks", nargs="*", help="e.g. 02 (default: every notebook)")
    ref.add_argument("--no-quick-timing", action="store_true",
                     help="skip the quick run that records quick mode's run time")
    ref.set_defaults(fn=cmd_reference)
    led = sub.add_parser("ledger", help="the claims ledger from the saved verdicts")
    led.add_argument("--write-readme", action="store_true", help="update README.md's table")
    led.set_defaults(fn=cmd_ledger)
    res = sub.add_parser("results", help="list saved results")
    res.add_argument("notebook", nargs="?")
    res.set_defaults(fn=cmd_results)
    sub.add_parser("columns", help="the columns of a measured point, as markdown").set_defaults(
        fn=cmd_columns)
    sub.add_parser("lab", help="JupyterLab on 127.0.0.1 from the project root, on 00, "
                   "culling idle kernels").set_defaults(fn=cmd_lab)
    sub.add_parser("architecture", help="the harness's floors and modules, as markdown "
                   "(docs/architecture.md)").set_defaults(fn=cmd_architecture)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (ValueError, FileNotFoundError, PermissionError) as exc:
        print(f"scalelab {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # servers failing to start: the message carries the log tail
        from scalelab.plumbing.binaries import MissingBinary
        from scalelab.servers.base import ServiceError

        if isinstance(exc, (ServiceError, MissingBinary)):
            print(f"scalelab {args.command}: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
