"""pgbench, PostgreSQL's own load generator (in C): the primary driven by SQL scripts of the
lab's with no app in the way, to measure how many votes a second the database itself takes.

A vote is what the app's vote does to the database, as plain SQL: one score updated and one
vote row inserted, committed (``one a transaction``); or votes appended ``batch`` at a time,
one multi-row insert that locks nothing, for a roll-up to add later (``appended``, notebook
07's append-only way). pgbench runs from the PostgreSQL installation the lab found, pinned to
the generator CPUs, on loopback, with the lab's password in its environment (never on a
command line). A point is a warm-up run (thrown away), then a measured run; its row reads like
wrk's (``derive``), its ``requests`` being transactions and ``votes_s`` the votes they carried.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from pathlib import Path
from typing import Callable, Iterator

from scalelab.load import as_target, derive, start_sampler
from scalelab.measurement.cpu_sampler import wait_until_idle
from scalelab.plumbing import binaries
from scalelab.plumbing.checks import check_choice, check_int
from scalelab.plumbing.cpus import CpuLayout
from scalelab.plumbing.processes import run_to_end, spawn, stop_group, wrap_command
from scalelab.plumbing.runs import Run
from scalelab.servers.password import lab_password
from scalelab.servers.postgres import HOST, SUPERUSER

PLAIN, APPENDED = "one a transaction", "appended"
KINDS = (PLAIN, APPENDED)


def executable() -> Path:
    """pgbench beside the lab's ``postgres`` (the same installation, the same version)."""
    exe = binaries.require("postgresql").path().parent / "pgbench"
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        raise binaries.MissingBinary(f"pgbench is not beside {exe.parent / 'postgres'}: it "
                                     "comes with PostgreSQL (Debian's postgresql package, "
                                     "conda-forge's postgresql)")
    return exe


def available() -> bool:
    try:
        executable()
    except binaries.MissingBinary:
        return False
    return True


def script(kind: str, first_question: int, questions: int, member: int, batch: int = 10) -> str:
    """The SQL script of one transaction: its votes go to ``questions`` questions from
    ``first_question`` on, drawn uniformly, all by one member."""
    check_choice("kind", kind, KINDS)
    check_int("questions", questions, 1, 1_000_000)
    check_int("batch", batch, 1, 1000)
    last = first_question + questions - 1
    if kind == PLAIN:
        return (f"\\set q random({first_question}, {last})\n"
                "BEGIN;\n"
                "UPDATE qa_question SET score = score + 1 WHERE id = :q;\n"
                "INSERT INTO qa_vote (member_id, question_id, value, created) "
                f"VALUES ({member}, :q, 1, now());\n"
                "END;\n")
    draws = "".join(f"\\set q{i} random({first_question}, {last})\n" for i in range(batch))
    values = ", ".join(f"({member}, :q{i}, 1, now())" for i in range(batch))
    return (draws + "INSERT INTO qa_pendingvote (member_id, question_id, value, created) "
            f"VALUES {values};\n")


def parse(report: str) -> dict:
    """Transactions, failures, mean latency and the time its clients took to connect (before
    any transaction) from pgbench's summary."""
    done = re.search(r"number of transactions actually processed: (\d+)", report)
    if not done:
        raise ValueError("pgbench's report has no 'transactions actually processed' line:\n"
                         + report[-1000:])
    failed = re.search(r"number of failed transactions: (\d+)", report)
    latency = re.search(r"latency average = ([\d.]+) ms", report)
    connect = re.search(r"initial connection time = ([\d.]+) ms", report)
    return {"requests": int(done.group(1)),
            "failures": int(failed.group(1)) if failed else 0,
            "mean_ms": float(latency.group(1)) if latency else math.nan,
            "connect_ms": float(connect.group(1)) if connect else 0.0}


def _write_script(run: Run, stack, kind: str, questions: int, batch: int = 10) -> Path:
    """The run's ``votes.sql``: ``script`` for the stack's first questions, by its first
    member."""
    db, dbname = stack.services["db"], stack.dataset.db_name
    first, = db.query("SELECT min(id) FROM qa_question", dbname=dbname)[0]
    member, = db.query("SELECT min(id) FROM qa_member", dbname=dbname)[0]
    path = run.dir / "votes.sql"
    path.write_text(script(kind, first, questions, member, batch))
    return path


def _run(run: Run, db, dbname: str, script_path: Path, clients: int, seconds: int,
         layout: CpuLayout, log_name: str) -> tuple[str, float, float]:
    """pgbench once; its report and its run's wall-clock start and end."""
    proc, log = _start(run, db, dbname, script_path, clients, seconds, layout, log_name)
    started = time.time()
    report = run_to_end(proc, log, seconds + 30, "pgbench")
    return report, started, time.time()


def _start(run: Run, db, dbname: str, script_path: Path, clients: int, seconds: int,
           layout: CpuLayout, log_name: str, rate: int | None = None):
    """pgbench started, pinned to the generator CPUs (at ``rate`` transactions a second in
    all, or as fast as answered); the process and its log."""
    command = [str(executable()), "-h", HOST, "-p", str(db.port), "-U", SUPERUSER, "-n",
               "-M", "prepared", "-c", str(clients), "-j", "1", "-T", str(seconds),
               *(["-R", str(rate)] if rate is not None else []),
               "-f", str(script_path), dbname]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}  # only the lab's
    env.update(run.env(), PGPASSWORD=lab_password(), PGAPPNAME="scalelab-pgbench")
    log = run.dir / "logs" / log_name
    return spawn(wrap_command(command, cpus=layout.generator, deathsig="SIGTERM"), log,
                 env=env), log


@contextlib.contextmanager
def background(stack, clients: int, seconds: int, layout: CpuLayout | None = None,
               questions: int = 64, rate: int | None = None) -> Iterator[Callable[[], dict]]:
    """For the block, ``clients`` pgbench connections voting (``one a transaction``) on the
    stack's primary for ``seconds``: at ``rate`` votes a second in all (pgbench's ``-R``, a
    Poisson schedule), or as fast as it answers (None). Yields a function that waits for
    pgbench to end and returns its report (``parse``) with ``votes_s``: its transactions ÷
    the seconds they were sent in. Stopped with its group if the block ends first."""
    check_int("clients", clients, 1, 1000)
    check_int("seconds", seconds, 1, 3600)
    if rate is not None:
        check_int("rate", rate, 1, 1_000_000)
    db, dbname = stack.services["db"], stack.dataset.db_name
    run = Run.create("pgbench")
    proc = None
    try:
        path = _write_script(run, stack, PLAIN, questions)
        proc, log = _start(run, db, dbname, path, clients, seconds, layout or stack.layout,
                           "pgbench-background.log", rate)

        def report() -> dict:
            parsed = parse(run_to_end(proc, log, seconds + 30, "pgbench"))
            sending = max(seconds - parsed["connect_ms"] / 1000, 0.5)
            return {**parsed, "votes_s": parsed["requests"] / sending}

        yield report
    finally:
        if proc is not None and proc.poll() is None:
            stop_group(proc)
        run.close()


def point(stack, kind: str, clients: int = 16, duration: int = 3, warmup: int = 1,
          layout: CpuLayout | None = None, questions: int = 64, batch: int = 10,
          variant: str = "", repeat: int = 0) -> dict:
    """One measured point: ``clients`` pgbench connections sending ``kind`` of votes to the
    stack's primary as fast as it answers, for ``duration`` s after ``warmup`` s."""
    check_choice("kind", kind, KINDS)
    check_int("clients", clients, 1, 1000)
    check_int("duration", duration, 1, 3600)
    check_int("warmup", warmup, 0, 600)
    db, dbname = stack.services["db"], stack.dataset.db_name
    layout = layout or stack.layout
    per_transaction = 1 if kind == PLAIN else batch
    run = Run.create("pgbench")
    try:
        path = _write_script(run, stack, kind, questions, batch)
        if warmup:
            _run(run, db, dbname, path, clients, warmup, layout, "pgbench-warmup.log")
        wait_until_idle(layout.server)
        sampler = start_sampler(as_target(stack), layout)
        try:
            report, t0, t1 = _run(run, db, dbname, path, clients, duration, layout,
                                  "pgbench.log")
        finally:
            sampler.stop()
    finally:
        run.close()
    parsed = parse(report)
    # the window: from the clients' last login (their start-up and logins are not votes) to
    # the end of the run (the -T seconds, and the clients' few milliseconds of closing)
    t0 = min(t0 + parsed["connect_ms"] / 1000, t1 - 0.5)
    rec = {"variant": variant or kind, "repeat": repeat, "users": clients,
           "generator": "pgbench", "duration_s": t1 - t0, **parsed}
    rec["req_s"] = rec["requests"] / rec["duration_s"]
    rec["fail_ratio"] = rec["failures"] / rec["requests"] if rec["requests"] else math.nan
    derive(rec, sampler.window(t0, t1), sampler.counters_window(t0, t1), layout,
           sampler.host_cores)
    rec.update(votes_per_transaction=per_transaction, votes_s=rec["req_s"] * per_transaction,
               server_cpus=len(layout.server),
               votes_s_per_core=rec["req_s"] * per_transaction / len(layout.server),
               cpu_ms_per_vote_db=rec["cpu_ms_per_req_db"] / per_transaction,
               target="stack")
    return rec
