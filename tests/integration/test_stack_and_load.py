"""The Stack serves the app on real servers; load runs produce honest, complete rows."""

import json
import math

import psutil
import pytest

from scalelab import Stack, Workload, results, run, sweep
from scalelab.plumbing.http import http_get

pytestmark = pytest.mark.servers

TEST_QUESTIONS = 2_000  # as in conftest.py


def test_stack_serves_every_page(stack):
    pop = stack.popularity()
    assert len(pop["question_ids"]) == TEST_QUESTIONS
    for path in ("/", f"/q/{pop['question_ids'][0]}/", f"/tags/{pop['tags'][0]}/",
                 f"/api/questions/{pop['question_ids'][1]}/", "/health/?db=1",
                 "/static/qa/app.js"):
        status, _, body = http_get(stack.base_url + path, timeout=10)
        assert status == 200, path
        assert body


@pytest.mark.parametrize("path, status", [
    ("/tags/%00/", 404),             # PostgreSQL refuses NUL in text: was a 500
    ("/tags/%00abc/", 404),
    ("/q/1/?page=%00", 200),
])
def test_postgres_gets_no_input_it_refuses(stack, path, status):
    assert http_get(stack.base_url + path, timeout=10)[0] == status


def test_stack_pins_servers_and_reports_itself(stack):
    for service in stack.services.values():
        assert psutil.Process(service.pid).cpu_affinity() == list(stack.layout.server)
    info = stack.describe()
    assert info["layout"]["server"] == list(stack.layout.server)
    assert set(info["services"]) == {"db", "app"}
    assert stack.timings["start_s"] > 0


@pytest.mark.unmeasured  # its own stack, behaviour only
def test_stack_stop_leaves_nothing(tmp_path):
    s = Stack(workers=2, questions=TEST_QUESTIONS, label="test").start()
    pids = []
    for svc in s.services.values():
        pids.append(svc.pid)
        pids += [c.pid for c in psutil.Process(svc.pid).children(recursive=True)]
    s.stop()
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.unmeasured  # its own stack, behaviour only
def test_a_failed_reconfigure_keeps_the_last_working_configuration():
    """A setting PostgreSQL refuses at start stops the stack with the error; the next start()
    is the configuration that worked, not the bad one again."""
    from scalelab.servers import ServiceError

    s = Stack(workers=1, questions=TEST_QUESTIONS, label="test").start()
    try:
        with pytest.raises(ServiceError):
            s.reconfigure(pg_settings={"work_mem": "not a size"})
        assert s.config["pg_settings"] == {} and not s.services, "stopped, the old config kept"
        s.start()
        assert http_get(s.base_url + "/health/", timeout=10)[0] == 200
    finally:
        s.stop()


@pytest.mark.unmeasured  # their own stacks, behaviour only
@pytest.mark.parametrize("kwargs", [
    dict(worker_class="gthread", threads=4, workers=1),
    dict(server="uvicorn", workers=2),
    dict(cache="redis", session="cache"),
])
def test_other_app_servers_and_caches_serve(kwargs):
    with Stack(questions=TEST_QUESTIONS, label="test", **kwargs) as s:
        status, headers, body = http_get(s.base_url + "/", timeout=10)
        assert status == 200 and b"Top questions" in body
        if kwargs.get("cache") == "redis":
            assert s.services["redis"].is_ready()
        if kwargs.get("server") == "uvicorn":
            assert len(s.app.worker_pids()) >= 2


def test_sweep_measures_each_point_from_its_window(stack, results_dir):
    writer = results.ResultWriter("tests", "sweep", mode="quick")
    df = sweep(stack, Workload("home"), users=[1, 3], duration=2, warmup=1, on_point=writer)
    assert list(df["users"]) == [1, 3]
    assert (df["duration_s"] == 2).all()
    # steps begin on whole seconds and the second's window follows the first's end and its
    # own warm-up: no spare second between them
    assert df["window_start"].iloc[1] == df["window_end"].iloc[0] + 1
    assert (df["requests"] > 0).all() and (df["failures"] == 0).all()
    for col in ("cpu_ms_per_req_app", "cpu_ms_per_req_db", "generator_load"):
        assert (df[col] > 0).all(), col
    # our per-second histograms and Locust's own cumulative history agree
    gap = (df["requests"] - df["locust_history_requests"]).abs() / df["requests"]
    assert (gap < 0.25).all(), df[["requests", "locust_history_requests"]]
    # Little's law holds in a closed loop with no think time
    assert ((df["littles_law_users"] - df["users"]).abs() / df["users"] < 0.2).all()
    saved, meta = results.load("tests", "sweep")
    assert len(saved) == 2 and meta["environment"]["locust"]


def test_page_mix_and_popularity_follow_the_workload(stack):
    wl = Workload("mix", mix={"question": 3, "api": 1}, zipf_s=1.2)
    df = run(stack, wl, users=2, duration=2, warmup=0)  # the mix, not a rate: no warm-up
    pages = json.loads(df["pages"].iloc[0])
    assert set(pages) == {"question", "api"}
    assert 1.5 < pages["question"] / pages["api"] < 6


def test_external_url_target_is_measured_from_the_client_side(stack):
    df = run(stack.base_url, Workload("home"), users=1, duration=1, warmup=0,
             questions=TEST_QUESTIONS)
    assert df["requests"].iloc[0] > 0
    assert math.isclose(df["cpu_ms_per_req_app"].iloc[0], 0.0)
    assert df["target"].iloc[0] == stack.base_url


def test_locust_never_runs_inside_this_process():
    import sys
    assert "locust" not in sys.modules and "gevent" not in sys.modules


def test_several_generator_processes_are_measured_together(stack):
    """processes=2 (Locust --processes): every worker's histograms land in the window."""
    df = run(stack, Workload("home"), users=4, duration=2, warmup=2, processes=2)
    row = df.iloc[0]
    assert row["generator_processes"] == 2 and row["requests"] > 0 and row["failures"] == 0
    assert abs(row["littles_law_users"] - 4) / 4 < 0.2


def test_an_interrupted_sweep_keeps_its_finished_points(stack, results_dir):
    """Ctrl-C once the first point is in (no timer: the interrupt comes from the point's own
    hand-over, so a slow machine cannot move it): the point is saved, nothing is left."""
    writer = results.ResultWriter("tests", "interrupted", mode="quick")

    def save_then_interrupt(row):
        writer(row)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(stack, Workload("home"), users=[1, 2, 4], duration=2, warmup=1,
              on_point=save_then_interrupt)
    saved, _ = results.load("tests", "interrupted")
    # the first point is handed over FLUSH_LAG (2.5 s) after its step ended, by when the
    # second step (3 s) may have ended too: a step stopped within half a second of its end
    # is a finished point with its whole seconds, and is kept. The third never is.
    assert list(saved["users"]) in ([1], [1, 2])
    assert (saved["duration_s"] >= 1).all()
    from scalelab.plumbing import runs
    assert not [p for p in runs.ours(include_other_live_owners=False)
                if "locust" in " ".join(p.cmdline())]


# a light load (a tenth of a second's thought between pages): the test runs beside others,
# and what it checks is what a signal leaves, not the rate
SWEEP_SCRIPT = """
import sys
from scalelab import Stack, Workload, sweep, results
with Stack(workers=1, questions=2000, label="test-term") as stack:
    writer = results.ResultWriter("tests", "terminated", mode="quick")
    sweep(stack, Workload("home", think_time=0.1), users=[1, 2, 4, 8], duration=1, warmup=0,
          on_point=writer)
"""


@pytest.mark.unmeasured
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_a_terminated_sweep_keeps_its_finished_points(results_dir, sig):
    """A closed terminal or CI's timeout (SIGTERM), or SIGKILL, after the first point: the
    points finished so far are on disk with matching metadata, and nothing of ours runs."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    env = {**os.environ, "SCALELAB_RESULTS_DIR": str(results_dir)}
    proc = subprocess.Popen([sys.executable, "-c", SWEEP_SCRIPT], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    csv = results_dir / "tests" / "terminated.csv"
    deadline = time.time() + 120
    while not csv.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert csv.exists(), proc.communicate(timeout=30)[0].decode()[-2000:]
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(getattr(signal, sig))
    proc.wait(timeout=60)
    gone, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, [p.cmdline() for p in alive]
    saved, meta = results.load("tests", "terminated")
    assert len(saved) >= 1 and list(saved["users"])[:1] == [1]
    assert meta["rows"] == len(saved)
    assert json.loads(csv.with_suffix(".json").read_text())["rows"] == len(saved)


STACK_SCRIPT = """
import time
from scalelab import Stack
with Stack(workers=1, questions=2000, label="test-ctrl-c") as stack:
    print("up", flush=True)
    time.sleep(120)
"""


@pytest.mark.unmeasured
@pytest.mark.parametrize("gap_s", [0.05, 0.5])
def test_a_double_ctrl_c_stops_the_stack_cleanly(gap_s):
    """Ctrl-C, then Ctrl-C again while the servers stop: they all stop, the reader is told
    to wait, and nothing is printed from a finalizer (``Exception ignored``, ``KeyError``)."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    proc = subprocess.Popen([sys.executable, "-c", STACK_SCRIPT], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout.readline().strip() == "up", proc.communicate(timeout=30)[0][-2000:]
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    time.sleep(gap_s)  # the second Ctrl-C lands while the servers stop
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode != 0 and "KeyboardInterrupt" in out
    assert "Exception ignored" not in out and "KeyError" not in out, out[-2000:]
    _, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, [p.cmdline() for p in alive]


@pytest.mark.unmeasured  # its own stack, behaviour only
def test_the_apps_copy_for_the_labs_user_goes_with_its_stack():
    """As root the app runs from a copy in the state folder; stopping the stack removes it."""
    import os

    from scalelab.servers import app_runtime

    if os.geteuid() != 0:
        pytest.skip("the app runs from the checkout when the lab is not root")
    with Stack(workers=1, questions=2000, label="test-app-copy") as stack:
        folder = app_runtime.apps_folder(stack.run.id)
        assert (folder / "gunicorn" / "qa_site" / "settings.py").exists()
    assert not folder.exists()
