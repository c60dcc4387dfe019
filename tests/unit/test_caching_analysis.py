"""The caching notebook's probe arithmetic, on hand-made rows: including the runs where a point
was not server-bound, which must give a row that says so, never a crash (a CI run once lost
the whole notebook to a 'none' baseline at 94% busy)."""

import math

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from scalelab.experiments import caching as cx
from scalelab import plots


def probe_rows(bound=None, ops=10):
    """'none' at 1 ms; a hit adds 10 µs per op in redis, 2 µs in locmem; misses add 20 µs."""
    rows = []
    extra = {"none": 0, "locmem hit": 0.002, "locmem miss": 0.004, "redis hit": 0.010,
             "redis miss": 0.020}
    for variant, add in extra.items():
        for repeat in (0, 1):
            app = 1.0 + add * ops * 0.5
            cache = add * ops * 0.5
            rows.append({"variant": variant, "repeat": repeat,
                         "cpu_ms_per_req_server": app + cache, "cpu_ms_per_req_app": app,
                         "cpu_ms_per_req_db": 0.0, "cpu_ms_per_req_cache": cache,
                         "server_bound": True if bound is None else bound(variant, repeat)})
    return pd.DataFrame(rows)


def test_cost_of_one_operation_is_the_difference_per_op():
    t = cx.cost_per_operation(probe_rows(), 10).set_index(["backend", "operation"])
    assert t.loc[("redis", "hit"), "us_per_op"] == pytest.approx(10)
    assert t.loc[("locmem", "miss"), "us_per_op"] == pytest.approx(4)
    assert t.loc[("redis", "miss"), "us_cache"] == pytest.approx(10)
    assert (t.points == 2).all() and (t.note == "").all()


def test_a_baseline_without_a_server_bound_point_gives_nan_rows_and_a_note():
    rows = probe_rows(bound=lambda v, r: v != "none")
    t = cx.cost_per_operation(rows, 10)
    assert len(t) == 4 and t.us_per_op.isna().all()
    assert t.note.str.contains("'none' baseline").all()
    text = cx.describe_operation_costs(t, uncached_page_ms=5.0)
    assert "No cache hit could be costed" in text
    plots.operation_costs(t)  # draws 'not costed', does not raise


def test_a_probe_without_a_server_bound_point_is_named_in_the_narrative():
    rows = probe_rows(bound=lambda v, r: v != "redis hit")
    t = cx.cost_per_operation(rows, 10).set_index(["backend", "operation"])
    assert math.isnan(t.loc[("redis", "hit"), "us_per_op"])
    assert t.loc[("redis", "miss"), "us_per_op"] == pytest.approx(20)
    text = cx.describe_operation_costs(t.reset_index(), uncached_page_ms=5.0)
    assert "Not costed in this run (no server-bound point): redis" in text
    assert "locmem" in text


@pytest.mark.parametrize("ops", [0, -1, 2.5, True, "10"])
def test_ops_per_request_must_be_a_positive_whole_number(ops):
    with pytest.raises(ValueError, match="ops_per_request"):
        cx.cost_per_operation(probe_rows(), ops)


class _Stack:
    """The two things hit_and_miss_pages asks of a stack."""

    app_url = "http://127.0.0.1:8000"

    def popularity(self):
        return {"question_ids": list(range(100, 1100)), "tags": []}


def test_hit_and_miss_pages_draw_the_same_popular_pages_three_ways():
    pages = cx.hit_and_miss_pages(_Stack(), pages=16)
    assert list(pages) == list(cx.HIT_MISS)
    ids = [u.split("/")[-2] for u in pages["uncached"]]
    assert ids == [u.split("/")[-2] for u in pages["every read misses"]]
    assert all("ttl=3600" in u for u in pages["every read hits"])
    assert all(u.endswith("?ttl=0") for u in pages["every read misses"])
    assert "100" in ids  # the most popular page is drawn from a Zipf law, not uniformly
    assert cx.hit_and_miss_pages(_Stack(), pages=16) == pages  # seeded: the same pages


def hit_miss_rows(hit, miss, uncached=10.0, limit="server"):
    return pd.DataFrame([{"variant": v, "repeat": 0, "cpu_ms_per_req_server": c, "limit": limit}
                         for v, c in zip(cx.HIT_MISS, (uncached, hit, miss))])


def question_rows(cached_cost, hit_ratio, uncached=10.0):
    return pd.DataFrame([
        {"variant": "uncached", "repeat": 0, "cpu_ms_per_req_server": uncached,
         "redis_hit_ratio": 0.0, "limit": "server"},
        {"variant": "ttl 5s", "repeat": 0, "cpu_ms_per_req_server": cached_cost,
         "redis_hit_ratio": hit_ratio, "limit": "server"}])


def test_a_hit_that_still_renders_predicts_a_small_saving():
    # hits cost 55% of a page, misses 105%: at 35% hits 1 ÷ (0.35 × 0.55 + 0.65 × 1.05)
    pred = cx.predicted_saving(hit_miss_rows(5.5, 10.5), question_rows(8.75, 0.35), "ttl 5s")
    assert pred.predicted_saving.iloc[0] == pytest.approx(1 / (0.35 * 0.55 + 0.65 * 1.05))
    assert pred.free_hits_bound.iloc[0] == pytest.approx(1 / 0.65)
    assert pred.measured_saving.iloc[0] == pytest.approx(10 / 8.75)


def test_free_hits_would_predict_the_bound_and_disagree_with_a_small_measured_saving():
    pred = cx.predicted_saving(hit_miss_rows(0.5, 10.0), question_rows(8.75, 0.35), "ttl 5s")
    assert pred.predicted_saving.iloc[0] > 1.4 > 1.2 > pred.measured_saving.iloc[0]


def test_no_prediction_without_a_server_bound_point_for_each_way():
    rows = hit_miss_rows(5.5, 10.5)
    rows.loc[rows.variant == "every read hits", "limit"] = "generator"
    assert cx.predicted_saving(rows, question_rows(8.75, 0.35), "ttl 5s").empty


def test_hit_and_miss_pages_refuse_a_bad_page_count():
    with pytest.raises(ValueError, match="pages must be a whole number from 1 to 256"):
        cx.hit_and_miss_pages(_Stack(), pages=0)


@pytest.mark.parametrize("savings, verdict", [
    ((1.1, 1.2), "pass"),       # against 1.14× predicted: within a quarter in both repeats
    ((1.6, 1.7), "fail"),       # more than a quarter above in both
    ((1.1, 1.6), "straddle"),   # one in, one out
])
def test_the_saving_is_explained_only_within_a_quarter_in_every_repeat(savings, verdict):
    q = pd.concat([question_rows(10 / s, 0.35).assign(repeat=r) for r, s in enumerate(savings)])
    pred = cx.predicted_saving(hit_miss_rows(5.5, 10.5), q, "ttl 5s")
    assert len(pred) == 2 and cx.saving_explained(pred) == verdict


def test_no_prediction_explains_nothing():
    assert cx.saving_explained(pd.DataFrame()) == "no data"


def test_the_stampedes_open_rate_is_half_what_the_plain_page_served_closed():
    closed = pd.DataFrame({"variant": ["get_or_set", "get_or_set", "lock + stale"],
                           "req_s": [100.0, 120.0, 900.0]})
    assert cx.stampede_rate(closed) == pytest.approx(0.5 * 110)
    assert cx.stampede_rate(closed, share=0.25) == pytest.approx(27.5)
    with pytest.raises(ValueError, match="get_or_set rows"):
        cx.stampede_rate(closed[closed.variant != "get_or_set"])
    with pytest.raises(ValueError, match="share must be"):
        cx.stampede_rate(closed, share=1.5)


def test_latency_bars_hatch_a_p99_of_too_few_requests_and_label_each_count():
    rows = pd.DataFrame({"variant": ["get_or_set", "lock + stale"], "repeat": [0, 0],
                         "p50_ms": [30.0, 10.0], "p99_ms": [900.0, 40.0],
                         "latency_n": [400, 4000], "requests": [400, 4000]})
    ax = plots.latency_bars(rows)
    hatched = [p.get_hatch() for p in ax.patches if p.get_height() in (900.0, 40.0)]
    assert hatched == ["//", None]
    names = [t.get_text() for t in ax.get_xticklabels()]
    assert names == ["get_or_set\n(n≥400)", "lock + stale\n(n≥4,000)"]
    assert any("slowest few" in t.get_text() for t in ax.get_legend().get_texts())


def _arrivals(plain, locked):
    return pd.DataFrame([dict(variant=v, repeat=r, p50_ms=p50, p99_ms=p99,
                              expensive_queries_per_s=q)
                         for v, (p50, p99, q) in (("get_or_set", plain), ("lock + stale", locked))
                         for r in range(3)])


def test_the_stampedes_sentence_follows_which_percentile_it_multiplied_more():
    tail = cx.stampede_latency(_arrivals((5, 400, 1.3), (4, 40, 0.6)))
    assert tail["p99_ratio"] == pytest.approx(10) and tail["p50_ratio"] == pytest.approx(1.25)
    assert "most in the tail" in tail["where"]
    # the reference run's shape: a long recomputation queues most arrivals behind it
    most = cx.stampede_latency(_arrivals((173, 720, 1.2), (7.5, 164, 0.6)))
    assert most["p50_ratio"] > most["p99_ratio"] and "not only the tail" in most["where"]
    with pytest.raises(ValueError, match="both stampede pages"):
        cx.stampede_latency(_arrivals((1, 2, 1), (1, 2, 1)).replace("lock + stale", "x"))


@pytest.mark.parametrize("hit_ratio, gain, said", [
    (0.25, 1.2, "Even free hits could not reach 1.5×"),
    (0.80, 2.6, "The measured saving clears 1.5×"),
    (0.50, 1.4, "The bound allows 1.5×, but hits are not free")])
def test_the_threshold_solution_compares_the_bound_and_the_measured_saving(hit_ratio, gain, said):
    from scalelab.experiments import caching as cx

    text = cx.threshold_solution(hit_ratio, gain)
    assert f"hit **{hit_ratio:.0%}**" in text and said in text
    assert f"= **{cx.fmt(1 / (1 - hit_ratio))}×**" in text
    assert cx.threshold_solution(1.0, 2.0).startswith("This run has no")


@pytest.mark.parametrize("page_gain, said", [(1.4, "far smaller than"), (3.2, "smaller than"),
                                             (6.0, "as large as")])
def test_the_zipf_takeaway_compares_the_popular_pages_gain_with_the_home_pages(page_gain, said):
    text = cx.zipf_takeaway(5.0, page_gain, 0.62, "5s")
    assert f"62% of reads hit and the cache multiplied capacity by {page_gain:.3g}×, {said} " \
           "the shared home page's 5×" in text, text
