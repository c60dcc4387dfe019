"""Bad settings of stacks, servers and experiments are refused by name before anything
starts: none of these tests starts a server."""

import os
import subprocess

import psutil
import pytest

from scalelab import Stack, Workload, compare
from scalelab.plumbing import binaries, runs
from scalelab.plumbing.runs import Run
from scalelab.servers import Memcached, Nginx, Redis
from polling import eventually


@pytest.fixture
def run():
    r = Run.create("test")
    yield r
    r.close()



def test_bad_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="middleware must be one of"):
        Stack(middleware="none")
    with pytest.raises(ValueError, match="python must be"):
        Stack(python="/no/such/python")



@pytest.mark.parametrize("kwargs,match", [
    (dict(gzip=True), "needs proxy='nginx'"),
    (dict(proxy="nginx", gzip="yes"), "gzip"), (dict(static="cdn"), "static")])
def test_bad_static_and_wire_settings_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Stack(**kwargs)



def test_the_browser_refuses_bad_input_by_name():
    from scalelab.experiments.static import Browser

    with pytest.raises(ValueError, match="base_url"):
        Browser("http://example.com/")
    with pytest.raises(ValueError, match="link_mbit_s"):
        Browser("http://127.0.0.1:1/", link_mbit_s=-1)
    with pytest.raises(ValueError, match="connections"):
        Browser("http://127.0.0.1:1/", connections=0)
    with pytest.raises(ValueError, match="visit"):
        Browser("http://127.0.0.1:1/").visit("/", "second")



def test_a_missing_binary_names_the_fix(run, monkeypatch, tmp_path):
    monkeypatch.setenv("SCALELAB_REDIS_SERVER", str(tmp_path / "redis-server"))
    with pytest.raises(binaries.MissingBinary, match="apt-get install redis-server"):
        Redis(run)



def test_the_reaper_clears_a_stale_run():
    """A process carrying the marker of an owner that is gone is killed at the next start."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    env = dict(os.environ, **{runs.OWNER_VAR: f"{dead.pid}:1.00"})
    stale = subprocess.Popen(["sleep", "60"], env=env)

    def marker_shown():
        try:
            return psutil.Process(stale.pid).environ().get(runs.OWNER_VAR)
        except psutil.NoSuchProcess:  # a zombie too: another pytest's reaper was first
            return "reaped already"

    try:
        # the kernel fills /proc/<pid>/environ a moment after the parent learns the exec worked
        eventually(marker_shown, what="the marker showing in the new process's environment")
        runs.reap_stale()
        # ended, not "in what this call returned": the unmeasured tests' own pytests reap too,
        # beside this one, and may be first, even before the marker could be read (left alone,
        # the process sleeps for a minute)
        assert stale.wait(timeout=10) is not None
    finally:
        if stale.poll() is None:
            stale.kill()



def test_read_your_writes_needs_a_replica():
    with pytest.raises(ValueError, match="read_replica"):
        Stack(read_your_writes_s=5)



def test_memcached_and_nginx_refuse_bad_parameters(run):
    with pytest.raises(ValueError, match="memory_mb"):
        Memcached(run, memory_mb=0)
    with pytest.raises(ValueError, match="microcache_ttl"):
        Nginx(run, upstream_port=1, microcache_ttl=-1)



@pytest.mark.parametrize("kwargs, message", [
    (dict(microcache_ttl=1), "needs proxy='nginx'"),
    (dict(cache_middleware=True), "needs a cache"),
    (dict(cache_servers=("varnish",)), "cache_servers must be"),
    (dict(proxy="haproxy"), "proxy must be one of"),
])
def test_stack_caching_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Stack(**kwargs)



def test_compare_checks_its_variants():
    with pytest.raises(ValueError, match="non-empty dict"):
        compare("http://127.0.0.1:9", {})
    with pytest.raises(ValueError, match="share think_time"):
        compare("http://127.0.0.1:9", {"a": Workload(think_time=1), "b": Workload()})
    with pytest.raises(ValueError, match="must be a Workload"):
        compare("http://127.0.0.1:9", {"a": "home"})


@pytest.mark.parametrize("key", ["listen_addresses", "unix_socket_directories", "port",
                                 "data_directory", "hba_file", "Listen_Addresses"])
def test_pg_settings_may_not_change_what_the_lab_sets_itself(key):
    with pytest.raises(ValueError, match=f"pg_settings may not set {key}: the lab sets them"):
        Stack(pg_settings={key: "*"})
    Stack(pg_settings={"work_mem": "8MB"})  # PostgreSQL's other settings are the stack's


@pytest.mark.parametrize("key", ["listen-addresses", "Unix-Socket-Directories"])
def test_a_dashed_name_of_what_the_lab_sets_is_refused_too(key):
    """PostgreSQL reads '-' as '_' in a name given with -c."""
    with pytest.raises(ValueError, match=f"pg_settings may not set {key}"):
        Stack(pg_settings={key: "*"})


@pytest.mark.parametrize("key", ["listen_addresses=*,", "work_mem x", "a;b", ""])
def test_a_setting_name_that_is_no_name_is_refused(key):
    with pytest.raises(ValueError, match="pg_settings must name PostgreSQL settings"):
        Stack(pg_settings={key: "1"})


@pytest.mark.parametrize("key", ["session_preload_libraries", "dynamic_library_path", "port"])
def test_the_database_service_itself_refuses_what_the_lab_sets(key, run):
    """Started without a stack, or changed while it runs (ALTER SYSTEM), the same keys are
    refused before anything reaches PostgreSQL."""
    from scalelab.servers import Postgres

    with pytest.raises(ValueError, match=f"settings may not set {key}"):
        Postgres(run, settings={key: "x"})
    pg = Postgres(run)
    with pytest.raises(ValueError, match=f"settings may not set {key}"):
        pg.set_runtime({key: "x"})  # refused before it connects: nothing runs


@pytest.mark.parametrize("label", ["../../x", "a/b", "x" * 300, "", " lead"])
def test_a_label_names_a_folder_and_nothing_else(label):
    """Every label that names a run folder is checked before anything starts: a stack's,
    compare's, a background wrk's, a run's own."""
    from scalelab.load import wrk
    from scalelab.plumbing.cpus import CpuLayout

    calls = [lambda: Stack(label=label),
             lambda: compare("http://127.0.0.1:9/", {"a": Workload("home")}, label=label),
             lambda: wrk.background("http://127.0.0.1:9/", 1, 1, CpuLayout((1,), (0,)),
                                    "wrk.log", label=label).__enter__(),
             lambda: Run.create(label)]
    for call in calls:
        with pytest.raises(ValueError, match="label must be 1 to 64 letters"):
            call()


@pytest.mark.parametrize("name", ["sync ×1", "gthread 1×4", "../x", "a" * 300, "×"])
def test_a_label_made_from_a_configurations_name_is_a_valid_label(name):
    assert runs.check_label(runs.label_of(f"workers-{name}"))
    assert runs.check_label(runs.label_of(name))


def test_the_open_load_names_a_bad_list_of_rates():
    from scalelab.load import open_rate

    for rates in (5, "5", ["x", 1], []):
        with pytest.raises(ValueError, match="rates must"):
            open_rate.sweep("http://127.0.0.1:9", "http://127.0.0.1:9/", rates)


def test_a_warmup_is_seconds_not_a_switch():
    with pytest.raises(ValueError, match="warmup must be seconds"):
        compare("http://127.0.0.1:9", {"a": Workload()}, warmup=True)


def test_the_capacity_plan_names_costs_it_cannot_use():
    import pandas as pd

    from scalelab.experiments import capacity

    for costs in ({}, pd.DataFrame(), pd.DataFrame({"config": ["x"]})):
        with pytest.raises(ValueError, match="costs must be the rows of reference_costs"):
            capacity.plan(costs)


@pytest.mark.parametrize("python", ["/bin/true", "/bin/sh"])
def test_an_app_python_that_is_no_python_with_the_app_is_named_at_once(python):
    with pytest.raises(ValueError, match=f"python must be .* not '{python}'"):
        Stack(python=python)


def test_a_ctrl_c_while_servers_stop_waits_for_them():
    """The block (stopping servers) runs to its end; the Ctrl-C is raised after it. Python's
    own handler is put in place first: a library used earlier in the suite may have left
    another one, and with another handler the block rightly changes nothing."""
    import signal

    from scalelab.plumbing.processes import interrupts_deferred

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        done = []
        with pytest.raises(KeyboardInterrupt):
            with interrupts_deferred("stopping"):
                os.kill(os.getpid(), signal.SIGINT)
                done.append("the rest of the block")
        assert done == ["the rest of the block"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_with_another_sigint_handler_the_block_changes_nothing():
    import signal

    from scalelab.plumbing.processes import interrupts_deferred

    seen = []
    previous = signal.signal(signal.SIGINT, lambda *_: seen.append("theirs"))
    try:
        with interrupts_deferred("stopping"):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs at the interpreter's next check
                if seen:
                    break
        assert seen == ["theirs"]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_runtime_copies_the_apps_packages_and_what_they_need_only():
    """The closure of the app's distributions, from their metadata: Django brings asgiref
    and sqlparse; nothing the app does not import (pandas, the notebooks' tools) comes."""
    import sysconfig

    from scalelab.servers.app_runtime import closure

    names = {d.metadata["Name"].lower() for d in closure([sysconfig.get_paths()["purelib"]])}
    assert {"django", "asgiref", "sqlparse", "gunicorn", "psycopg"} <= names
    assert not names & {"pandas", "jupyterlab", "locust", "matplotlib"}


def test_a_distribution_comes_with_its_bytecode_and_keeps_what_was_placed(tmp_path):
    """The runtime takes a distribution's files and the bytecode the installer compiled for
    them (no compiling again), linked where it can be; a reinstall, which writes new files,
    leaves the runtime's as they were."""
    import sys
    from importlib import metadata

    from scalelab.servers import app_runtime

    site = tmp_path / "site"
    (site / "pkg" / "__pycache__").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_text("X = 1\n")
    version = "%d.%d" % sys.version_info[:2]
    pyc = f"__init__.cpython-{version.replace('.', '')}.pyc"
    (site / "pkg" / "__pycache__" / pyc).write_bytes(b"compiled")
    info = site / "pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
    (info / "RECORD").write_text("pkg/__init__.py,,\npkg-1.0.dist-info/METADATA,,\n")
    dist = next(metadata.distributions(path=[str(site)]))
    dest = tmp_path / "runtime"
    app_runtime._copy_distribution(dist, [str(site)], dest, version)
    assert (dest / "pkg" / "__init__.py").read_text() == "X = 1\n"
    assert (dest / "pkg" / "__pycache__" / pyc).read_bytes() == b"compiled"
    assert (dest / "pkg-1.0.dist-info" / "METADATA").exists()
    (site / "pkg" / "__init__.py").unlink()  # as an installer replaces a file
    (site / "pkg" / "__init__.py").write_text("X = 2\n")
    assert (dest / "pkg" / "__init__.py").read_text() == "X = 1\n"


def test_the_reaper_removes_the_app_copies_of_a_dead_run(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("SCALELAB_STATE_DIR", str(tmp_path))
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "old-run.json").write_text(json.dumps({"owner": f"{dead.pid}:1"}))
    copy = tmp_path / "runtime" / "apps" / "old-run" / "gunicorn"
    copy.mkdir(parents=True)
    runs.reap_stale()
    assert not copy.parent.exists() and not (tmp_path / "runs" / "old-run.json").exists()


def test_the_runtimes_of_interpreters_that_are_gone_are_removed(tmp_path):
    """A deleted clone's venv leaves a whole copy of site-packages behind: it goes, and so
    does the older copy of the interpreter being built again; the copy of another live
    interpreter, and a folder still being built, stay."""
    import json
    import sys

    from scalelab.servers import app_runtime

    for name, python in (("python3.11-gone", "/nonexistent/.venv/bin/python"),
                         ("python3.11-live", sys.executable),
                         ("python3.11-older", "/usr/bin/python3")):
        (tmp_path / name).mkdir()
        (tmp_path / name / ".complete").write_text(json.dumps({"python": python}))
    (tmp_path / "python3.11-building").mkdir()
    app_runtime._remove_orphaned(tmp_path, rebuilding_for="/usr/bin/python3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["python3.11-building",
                                                          "python3.11-live"]


def test_a_generator_run_to_its_end_gives_its_report_or_a_named_error(tmp_path):
    """A generator that ends gives its log; one that fails is named with its log's tail; one
    that outlasts its timeout is stopped, with its group, and named."""
    from scalelab.plumbing.processes import run_to_end

    def start(script):
        log = tmp_path / "g.log"
        with open(log, "w") as out:
            return subprocess.Popen(["sh", "-c", script], stdout=out, stderr=out,
                                    start_new_session=True), log

    proc, log = start("echo 42 requests")
    assert run_to_end(proc, log, 10, "gen") == "42 requests\n"
    proc, log = start("echo broken; exit 3")
    with pytest.raises(RuntimeError, match="(?s)gen exited with code 3.*broken"):
        run_to_end(proc, log, 10, "gen")
    proc, log = start("sleep 30")
    with pytest.raises(RuntimeError, match="gen did not finish within 1 s"):
        run_to_end(proc, log, 1, "gen")
    assert proc.poll() is not None


def test_a_live_runs_hosts_are_not_stale_to_a_lab_with_another_state_folder(tmp_path,
                                                                             monkeypatch):
    """The reaper of a lab whose state folder has no file of a run (a test's temporary
    folder) keeps that run's hosts while the process that made it runs; a run whose maker
    is gone, or whose pid now belongs to a process started after it, is stale."""
    import time as _time

    from scalelab.plumbing import hosts

    monkeypatch.setenv("SCALELAB_STATE_DIR", str(tmp_path))
    asked = {}
    monkeypatch.setattr(hosts, "remove_stale", lambda alive: asked.setdefault("alive", alive))
    runs.reap_stale()
    alive = asked["alive"]
    now = _time.strftime(runs.STAMP)
    mine = runs.run_id_of(now, "test-hosts", os.getpid(), 0)
    assert runs.maker_of(mine) == (os.getpid(), _time.mktime(_time.strptime(now, runs.STAMP)))
    assert alive(mine), "this process made it: not stale"
    dead = subprocess.Popen(["true"])
    dead.wait()
    assert not alive(f"{now}-test-{dead.pid}-0")
    assert not alive(f"20000101-000000-test-{os.getpid()}-0"), "a pid reused since"
    assert not alive("not-a-run-id") and not alive(f"{now}-test-x-0")
