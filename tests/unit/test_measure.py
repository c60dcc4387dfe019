"""Windows, percentiles, CPU accounting and the generator-saturation flag."""

import json
import math
import subprocess
import sys
import textwrap

import pytest

from scalelab.plumbing.cpus import CpuLayout
from scalelab.load import percentile
from scalelab.load.locust import RunContext, measured_points
from scalelab.measurement.cpu_sampler import CpuSampler, tree_cpu_seconds


def test_percentile_from_histogram():
    hist = {10: 50, 20: 40, 100: 9, 1000: 1}
    assert percentile(hist, 0.5) == 10
    assert percentile(hist, 0.9) == 20
    assert percentile(hist, 0.99) == 100
    assert percentile(hist, 1.0) == 1000
    assert math.isnan(percentile({}, 0.5))


def test_tree_cpu_counts_children_that_already_exited():
    # The parent spawns a child that burns CPU and exits; the parent reaps it and sleeps.
    code = textwrap.dedent("""
        import subprocess, sys, time
        subprocess.run([sys.executable, "-c", "t=__import__('time').process_time\\nwhile t()<0.4: pass"])
        print("reaped", flush=True)
        time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "reaped"
        assert tree_cpu_seconds(proc.pid) >= 0.35
    finally:
        proc.kill()
        proc.wait()


def _fake_run(tmp_path, generator_cpu_per_s, server_cpu_per_s=0.5, seconds=6, rps=100):
    """Locust output files and a sampler with known counters, for one 1-user step."""
    start = 1_000_000.0
    (tmp_path / "steps.jsonl").write_text(json.dumps(
        {"step": 0, "users": 4, "t": start, "scheduled_end": start + seconds}) + "\n")
    with open(tmp_path / "hist-1.jsonl", "w") as f:
        for s in range(int(start), int(start) + seconds):
            f.write(json.dumps({"t": s, "name": "home", "n": rps, "fail": 1, "sum": rps * 10.0,
                                "h": {"10": rps - 2, "50": 2}}) + "\n")
    sampler = CpuSampler({"app": [], "db": [], "generator": []})
    for i in range(seconds + 1):
        sampler.times.append(start + i)
        sampler.samples.append({"app": server_cpu_per_s * i, "db": 0.1 * i,
                                "generator": generator_cpu_per_s * i})
    return sampler


def _window(tmp_path, sampler, warmup=1, window=4):
    return measured_points(RunContext(tmp_path, sampler, CpuLayout((1,), (0,)), warmup, window,
                                      think_s=0.0))


def test_window_figures_are_differences_over_the_window(tmp_path):
    rec, = _window(tmp_path, _fake_run(tmp_path, generator_cpu_per_s=0.2))
    assert rec["duration_s"] == 4 and rec["requests"] == 400 and rec["failures"] == 4
    assert rec["req_s"] == pytest.approx(100)
    assert rec["cpu_ms_per_req_app"] == pytest.approx(5.0)   # 0.5 CPU-s/s / 100 req/s
    assert rec["cpu_ms_per_req_db"] == pytest.approx(1.0)
    assert rec["cpu_ms_per_req_server"] == pytest.approx(6.0)
    assert rec["p50_ms"] == 10 and rec["p99_ms"] == 50
    assert rec["littles_law_users"] == pytest.approx(100 * 0.010)
    assert rec["generator_load"] == pytest.approx(0.2)
    assert rec["generator_saturated"] is False


def test_a_saturated_generator_is_flagged(tmp_path):
    rec, = _window(tmp_path, _fake_run(tmp_path, generator_cpu_per_s=0.85))
    assert rec["generator_load"] == pytest.approx(0.85)
    assert rec["generator_saturated"] is True


def test_an_unfinished_step_gives_no_point(tmp_path):
    sampler = _fake_run(tmp_path, 0.2, seconds=6)
    steps = (tmp_path / "steps.jsonl").read_text()
    # a second step that started but whose data stops long before its scheduled end
    extra = {"step": 1, "users": 8, "t": 1_000_006.0, "scheduled_end": 1_000_060.0}
    (tmp_path / "steps.jsonl").write_text(steps + json.dumps(extra) + "\n")
    recs = _window(tmp_path, sampler)
    assert [r["users"] for r in recs] == [4]


def test_sampler_interpolates_between_samples():
    s = CpuSampler({"app": []})
    s.times += [0.0, 1.0]
    s.samples += [{"app": 0.0}, {"app": 2.0}]
    assert s.window(0.25, 0.75)["app"] == pytest.approx(1.0)


def test_each_step_may_have_its_own_warmup(tmp_path):
    sampler = _fake_run(tmp_path, 0.2, seconds=8)
    rec, = measured_points(RunContext(tmp_path, sampler, CpuLayout((1,), (0,)), [3], 4,
                                      think_s=0.0))
    assert rec["window_start"] == 1_000_003 and rec["duration_s"] == 4


def test_points_are_classified_by_what_limited_them(tmp_path):
    rec, = _window(tmp_path, _fake_run(tmp_path, generator_cpu_per_s=0.2, server_cpu_per_s=0.9))
    assert rec["server_cpu_util"] == pytest.approx(1.0) and rec["limit"] == "server"
    rec, = _window(tmp_path, _fake_run(tmp_path, generator_cpu_per_s=0.2, server_cpu_per_s=0.5))
    assert rec["limit"] == "unexplained" and rec["unexplained_limit"]


def test_docs_column_page_is_generated_from_the_schema():
    from pathlib import Path

    from scalelab.load import describe_columns

    page = Path(__file__).parents[2] / "docs" / "columns.md"
    assert page.read_text() == describe_columns(), \
        "docs/columns.md is stale: .venv/bin/python -m scalelab columns > docs/columns.md"


def test_every_column_a_point_gets_is_declared():
    """A row from the windows arithmetic and derive() has no column missing from COLUMNS."""
    from scalelab.load import COLUMNS, derive
    from scalelab.load.windows import Step, Window

    rec = {**Window(Step(0, 4, 0.0, 10.0), 1, 5, requests=40).figures(), "think_s": 0.0}
    derive(rec, {"app": 1.0, "cpuset_server": 3.0, "generator": 0.5},
           {"redis_hits": 3, "redis_misses": 1}, CpuLayout((1,), (0,)))
    counters = {"redis_hits", "redis_misses"}
    undeclared = [c for c in rec if c not in COLUMNS and c not in counters
                  and not c.endswith("_hit_ratio")]
    assert not undeclared


@pytest.mark.parametrize("warmup", [0, 0.5, 1, 2.5, 3])
@pytest.mark.parametrize("duration", [1, 2, 2.5, 3, 10])
def test_a_step_of_step_seconds_from_a_whole_second_holds_its_whole_window(warmup, duration):
    from scalelab.load.windows import Step, bounds, step_seconds

    start = 1_000_000
    step = Step(0, 1, float(start), float(start + step_seconds(warmup, duration)))
    t0, t1 = bounds(step, warmup, duration, data_end=step.scheduled_end)
    assert t1 - t0 == int(duration)
    if warmup == int(warmup) and duration == int(duration):  # no spare second
        assert step_seconds(warmup, duration) == warmup + duration


def test_a_run_that_ended_as_planned_keeps_a_last_step_with_quiet_seconds():
    """At a light load the last seconds of the last step may hold no request: the run's
    recorded end says they were quiet, not missing; without it the step is unfinished."""
    from scalelab.load.windows import Step, cut

    start = 1_000_000
    step = Step(0, 1, float(start), float(start + 6))
    cells = [{"t": start + i, "name": "home", "n": 1, "fail": 0, "sum": 5.0, "h": {"5": 1}}
             for i in range(3)]
    w, = cut([step], cells, warmup=1, window=5, ended=start + 6)
    assert (w.t0, w.t1, w.requests) == (start + 1, start + 6, 2)
    assert cut([step], cells, warmup=1, window=5) == []


def test_locusts_history_cross_check_bridges_a_second_it_skipped():
    """Locust stamps its history rows with whole seconds and now and then skips one: the
    count there is interpolated, not taken from a second earlier (a second's requests lost)."""
    import pandas as pd

    from scalelab.load.locust import _history_requests

    agg = pd.DataFrame({"Timestamp": [100, 101, 102, 104, 105],
                        "Total Request Count": [0, 50, 100, 200, 250]})
    assert _history_requests(agg, 101, 104) == 150  # rows at both ends
    assert _history_requests(agg, 100, 103) == 150  # 103 skipped: halfway from 102 to 104
    assert math.isnan(_history_requests(agg, 100, 106))  # no row yet at or after the end
    # several rows a second: a second's first row is its count at its start
    agg = pd.DataFrame({"Timestamp": [100, 100, 101, 101, 102],
                        "Total Request Count": [0, 20, 50, 70, 100]})
    assert _history_requests(agg, 100, 102) == 100 and _history_requests(agg, 101, 102) == 50


def test_hosts_count_as_idle_once_no_period_is_throttled():
    """A host is behind while the kernel throttles it at its quota; its CPU time could not
    say so (10-ms ticks). The wait ends two calm intervals after the last throttled one, and
    a host throttled without end is named when the wait gives up."""
    from scalelab.measurement.cpu_sampler import wait_until_hosts_idle

    counts = iter([0, 5, 9, 9, 9, 9, 9])
    calls = []

    def draining():
        calls.append(1)
        return {"app": next(counts), "db": 3}

    wait_until_hosts_idle(draining, interval=0.001)
    assert len(calls) == 5  # the first reading, two throttled intervals, two calm ones

    ticking = iter(range(10**6))
    with pytest.raises(TimeoutError, match=r"\['app'\]"):
        wait_until_hosts_idle(lambda: {"app": next(ticking), "db": 3}, interval=0.001,
                              timeout=0.05)
