"""Worker-count configurations and the USL fit."""

import math

import numpy as np
import pytest

from scalelab.experiments import workers


def test_configurations_follow_the_cores_and_name_the_recipes():
    for cores in (1, 2, 4):
        configs = workers.configurations(cores, "full")
        sync = [c.workers for c in configs if c.worker_class == "sync" and c.server == "gunicorn"]
        assert max(sync) == 4 * cores and 2 * cores + 1 in sync
        recipes = {c.recipe: c for c in configs if c.recipe}
        assert recipes["(2 x cores) + 1"].workers == 2 * cores + 1
        assert recipes["cores x 4 threads"].workers == cores and recipes["cores x 4 threads"].threads == 4
        assert any(c.server == "uvicorn" for c in configs)
    with pytest.raises(ValueError, match="cores must be 1 or more"):
        workers.configurations(0)


def test_thread_counts_choose_the_gthread_configurations():
    labels = [c.label for c in workers.configurations(1, "quick", thread_counts=[4])]
    assert [lb for lb in labels if lb.startswith("gthread")] == ["gthread 1×4"]
    with pytest.raises(ValueError, match="thread_counts must be"):
        workers.configurations(1, "quick", thread_counts=[0])



def test_sync_counts_choose_the_sync_configurations():
    labels = [c.label for c in workers.configurations(1, "quick", sync_counts=[4, 1])]
    assert [x for x in labels if x.startswith("sync")] == ["sync ×1", "sync ×4"]
    with pytest.raises(ValueError, match="sync_counts must include 1"):
        workers.configurations(1, "quick", sync_counts=[2, 4])
    with pytest.raises(ValueError, match="sync_counts"):
        workers.configurations(1, "quick", sync_counts=[0, 1])

def test_session_engines_are_named_before_any_stack_starts():
    from scalelab.experiments import replicas as rx

    with pytest.raises(ValueError, match="engines must be among 'database'"):
        rx.sessions(engines=["database", "files"])
    with pytest.raises(ValueError, match="engines must be among"):
        rx.sessions(engines=[])


def test_usl_fit_recovers_known_parameters():
    n = np.array([1, 2, 4, 8, 16, 32], dtype=float)
    x = workers.usl(n, 100.0, 0.05, 0.002)
    fit = workers.fit_usl(n, x)
    assert fit.lam == pytest.approx(100, rel=0.01)
    assert fit.sigma == pytest.approx(0.05, abs=0.005)
    assert fit.kappa == pytest.approx(0.002, abs=0.0005)
    assert fit.peak_n == pytest.approx(math.sqrt(0.95 / 0.002), rel=0.05)


def test_usl_fit_of_linear_scaling_has_no_peak():
    n = np.array([1, 2, 3, 4], dtype=float)
    fit = workers.fit_usl(n, 20 * n)
    assert fit.kappa == pytest.approx(0, abs=1e-6) and math.isinf(fit.peak_n)


def test_usl_needs_three_worker_counts():
    with pytest.raises(ValueError, match="at least 3 distinct"):
        workers.fit_usl([1, 2, 2], [1, 2, 2])


def test_the_lowest_ceiling_names_what_limited_an_io_bound_point():
    from scalelab.experiments.workers import ceilings, limiting

    # 1 sync worker waiting 50 ms: one slot, so at most 20 req/s
    row = {"wait_ms": 50, "slots": 1, "cpu_ms_per_req_server": 1.0, "req_s": 19.0}
    assert ceilings(row, users=32) == {"users ÷ wait": 640.0, "slots ÷ wait": 20.0,
                                       "server CPU ÷ cost": 1000.0}
    name, share = limiting(row, users=32)
    assert name == "slots ÷ wait" and share == 0.95
    # ASGI: no slot limit; 32 users waiting 50 ms can send at most 640 req/s
    asgi = {"wait_ms": 50, "slots": 0, "cpu_ms_per_req_server": 1.0, "req_s": 600.0}
    assert limiting(asgi, users=32)[0] == "users ÷ wait"
    # a dear page: the CPU is the lower ceiling
    assert limiting({**asgi, "cpu_ms_per_req_server": 4.0}, users=32, server_cpus=1)[0] == \
        "server CPU ÷ cost"


def test_the_recommendation_is_the_lightest_of_those_near_the_best_score():
    import pandas as pd

    tp = pd.DataFrame({"cpu-bound": [50.0, 52.0, 51.0, 20.0], "io-bound": [20.0, 78.0, 80.0, 90.0]},
                      index=["sync ×1", "sync ×5", "gthread 1×4", "asgi ×1"])
    memory = pd.Series([60.0, 300.0, 90.0, 70.0], index=tp.index)
    # sync ×5 and gthread 1×4 score within 5% of the best; gthread needs less memory
    assert workers.recommend(tp, memory) == "gthread 1×4"
    assert workers.recommend(tp, memory, within=1.0) in ("sync ×5", "gthread 1×4")
    with pytest.raises(ValueError, match="within"):
        workers.recommend(tp, memory, within=0)


def test_the_tail_rate_is_a_share_of_the_sync_recipes_ceiling_stated_from_the_design():
    from scalelab.experiments import workers

    assert workers.tail_rate(1, 50) == pytest.approx(0.8 * 3 / 0.05)  # 3 slots of 50 ms
    assert workers.tail_rate(2, 100, share=0.5) == pytest.approx(0.5 * 5 / 0.1)
    for bad in (0, -1, True, "0.5", 3):
        with pytest.raises(ValueError, match="share must be"):
            workers.tail_rate(1, 50, share=bad)
    with pytest.raises(ValueError, match="wait_ms"):
        workers.tail_rate(1, 0)


def test_one_configuration_per_worker_class_the_recipe_first():
    from scalelab.experiments import workers

    full = workers.recipes(workers.configurations(1, "full"))
    assert [c.label for c in full] == ["sync ×3", "gthread 1×4", "asgi ×1"]
    # a run without the sync recipe (the suite's 1, 2, 4): the sync count with most slots
    suite = workers.recipes(workers.configurations(1, "quick", thread_counts=[8],
                                                   sync_counts=[1, 2, 4]))
    assert [c.label for c in suite] == ["sync ×4", "gthread 1×8", "asgi ×1"]


def test_the_tail_summary_keeps_the_worst_repeat_and_the_fewest_latencies():
    import pandas as pd

    from scalelab.experiments import workers

    rows = pd.DataFrame([dict(config=c, repeat=r, offered_rate=48.0, req_s=47.0, p50_ms=p50,
                              p99_ms=p99, latency_n=n, requests=n, wait_ms=50, slots=s,
                              slot_utilisation=u)
                         for c, r, p50, p99, n, s, u in [
                             ("sync ×3", 0, 60, 400, 380, 3, 0.8),
                             ("sync ×3", 1, 70, 600, 390, 3, 0.8),
                             ("asgi ×1", 0, 51, 58, 385, 0, 0.0)]])
    t = workers.tail_summary(rows).set_index("config")
    assert t.loc["sync ×3", "p99_ms"] == 500 and t.loc["sync ×3", "p99_high"] == 600
    assert t.loc["sync ×3", "latencies"] == 380 and t.loc["sync ×3", "p99 ÷ wait"] == 10
    assert t.loc["asgi ×1", "slots"] == 0


def test_a_closed_loads_mean_latency_is_users_over_throughput_or_it_is_said():
    import pandas as pd

    from scalelab.experiments import workers

    rows = pd.DataFrame({"users": [64, 64], "req_s": [100.0, 128.0], "think_s": [0.0, 0.0],
                         "mean_ms": [650.0, 500.0]})
    held = workers.closed_latency(rows)
    assert held["low"] == pytest.approx(1.0) and held["high"] == pytest.approx(650 / 640)
    assert "Little's law, not the worker class" in held["sentence"]
    # a mean far from users ÷ throughput (a generator that could not keep its users busy)
    off = workers.closed_latency(rows.assign(mean_ms=[300.0, 500.0]))
    assert off["low"] < 0.5 and "strayed" in off["sentence"]
    with pytest.raises(ValueError, match="mean_ms"):
        workers.closed_latency(rows.drop(columns="mean_ms"))


@pytest.mark.parametrize("req_s, said", [(150.0, "within a tenth"), (100.0, "more than a tenth")])
def test_the_ceiling_solution_names_the_lowest_ceiling_of_the_most_threaded_gthread(req_s, said):
    import pandas as pd

    io = pd.DataFrame([
        {"config": "gthread 1×4", "variant": "io-bound", "slots": 4, "wait_ms": 50.0,
         "req_s": 75.0, "cpu_ms_per_req_server": 1.0},
        {"config": "gthread 1×8", "variant": "io-bound", "slots": 8, "wait_ms": 50.0,
         "req_s": req_s, "cpu_ms_per_req_server": 2.0},
        {"config": "gthread 1×8", "variant": "cpu-bound", "slots": 8, "wait_ms": 50.0,
         "req_s": 40.0, "cpu_ms_per_req_server": 25.0}])
    text = workers.ceiling_solution(io, users=32)
    # 32 users ÷ 0.05 s = 640; 8 slots ÷ 0.05 s = 160; 1 CPU ÷ 2 ms = 500
    assert "**gthread 1×8**" in text and "slots ÷ wait = 160 req/s" in text
    assert "users ÷ wait = 640 req/s" in text and "server CPU ÷ cost = 500 req/s" in text
    assert "*slots ÷ wait*" in text and f"**{req_s / 160:.0%}**" in text and said in text
    assert workers.ceiling_solution(io[io.config == "none"], 32).startswith("This run measured")


@pytest.mark.parametrize("gain, said", [
    (1.05, "workers beyond the cores added memory, not throughput: 4 sync workers on 1 core "
           "served 1.05× what one did, at 3.5× its memory"),
    (1.8, "4 sync workers on 1 core served 1.8× what one did, at 3.5× its memory: more than "
          "the cores explain")])
def test_the_cpu_takeaway_says_memory_not_throughput_only_when_the_gain_is_small(gain, said):
    assert said in workers.cpu_takeaway(gain, 3.5, 4, 1)
