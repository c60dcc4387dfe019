"""The profile's arithmetic on hand-made py-spy output: stacks parsed, self time, layers."""

import pandas as pd
import pytest

from scalelab.measurement import profiler
from scalelab.experiments import time_split as ts

RAW = """process 123:"gunicorn: worker";thread (0x7f) MainThread;run (gunicorn/arbiter.py:10);handle (django/core/handlers/base.py:5);render (django/template/base.py:9) 60
process 124:"gunicorn: worker";run (gunicorn/arbiter.py:10);handle (django/core/handlers/base.py:5);home (benchmark_app/qa/views.py:40);_fetch_all (django/db/models/query.py:1) 30
run (gunicorn/arbiter.py:10);handle (django/core/handlers/base.py:5);execute (psycopg/cursor.py:7) 10
garbage line
"""


def test_collapsed_stacks_are_parsed_without_process_and_thread_frames():
    df = profiler.parse_collapsed(RAW)
    assert df.samples.sum() == 100 and len(df) == 3
    assert all(not f.startswith(("process ", "thread ")) for frames in df.frames for f in frames)


def test_self_time_and_layers():
    prof = profiler.Profile(profiler.parse_collapsed(RAW), seconds=1, rate=100)
    top = prof.top_frames(2)
    assert top.frame.iloc[0] == "render (django/template/base.py:9)" and top.share.iloc[0] == 0.6
    shares = prof.layer_shares().set_index("layer").share
    assert shares["templates"] == 0.6
    assert shares["ORM (building queries, making objects)"] == 0.3
    assert shares["database driver (sending queries, reading rows)"] == 0.1
    assert shares.sum() == pytest.approx(1.0)


def test_profile_rows_round_trip_to_a_profile():
    prof = profiler.Profile(profiler.parse_collapsed(RAW), seconds=2, rate=50)
    rows = pd.DataFrame([{"page": "p", "stack": ";".join(f), "samples": n, "seconds": 2,
                          "rate": 50} for f, n in zip(prof.stacks.frames, prof.stacks.samples)])
    again = ts.profile_of(rows, "p")
    assert again.samples == 100 and list(again.stacks.frames) == list(prof.stacks.frames)
    with pytest.raises(ValueError, match="page must be one of"):
        ts.profile_of(rows, "q")


def test_bad_profile_settings_are_refused():
    with pytest.raises(ValueError, match="seconds"):
        profiler.record(None, seconds=0)
    with pytest.raises(ValueError, match="rate"):
        profiler.record(None, seconds=1, rate=5000)


def test_other_interpreters_exclude_the_labs_own_version_and_pin_the_labs_packages():
    from scalelab.plumbing import interpreters

    me = interpreters.own()
    for it in interpreters.candidates():
        assert it.version_tuple[:2] != me.version_tuple[:2]
        assert it.version_tuple[:2] >= interpreters.MIN_VERSION
    reqs = interpreters._requirements()
    assert any(r.startswith("django==") for r in reqs)
    assert any(r.startswith("gunicorn==") for r in reqs)


def test_reference_rows_of_another_notebook_are_read_or_refused_by_name():
    from scalelab import results

    rows = results.load_reference("07-database-design", "indexes")
    assert {"questions", "index_present", "cpu_ms_per_req_server"} <= set(rows.columns)
    with pytest.raises(FileNotFoundError, match="no reference result"):
        results.load_reference("07-database-design", "nothing")


@pytest.mark.parametrize("cached_ms, said", [(1.0, "Caching wins"),
                                              (6.0, "Here the swap bought more")])
def test_the_cache_or_swap_solution_says_which_buys_more(cached_ms, said):
    import pandas as pd

    from scalelab.experiments import time_split as ts

    floor = pd.DataFrame({"variant": ["nothing", "cached home page"],
                          "cpu_ms_per_req_server": [0.5, cached_ms]})
    swaps = pd.DataFrame({"variant": [ts.AS_WRITTEN, ts.BOTH_SWAPPED],
                          "cpu_ms_per_req_server": [20.0, 10.0], "cpu_ms_per_req_app": [15.0, 6.0],
                          "cpu_ms_per_req_db": [4.0, 3.5], "req_s": [50.0, 100.0]})
    text = ts.cache_or_swap_solution(floor, swaps)
    assert f"**{10.0 / cached_ms:.1f} times cheaper**" in text or \
        f"**{10.0 / cached_ms:.0f} times cheaper**" in text, text
    assert "swap's own gain of 2.0×" in text and said in text
    assert ts.cache_or_swap_solution(floor[:1], swaps).startswith("This run lacks")


HIT = """run (gunicorn/arbiter.py:10);handle (django/core/handlers/base.py:5) 70
run (gunicorn/arbiter.py:10);get (django/core/cache/backends/redis.py:3);recv (socket.py:1) 30
"""


@pytest.mark.parametrize("raw, said", [(HIT, "*middleware and request handling* leads: a cache"),
                                       (RAW, "yet *templates* leads")])
def test_the_cache_hit_solution_names_the_layer_a_hit_spends_most_in(raw, said):
    prof = profiler.Profile(profiler.parse_collapsed(raw), seconds=1, rate=100)
    rows = pd.DataFrame([{"page": "cached home page", "stack": ";".join(f), "samples": n,
                          "seconds": 1, "rate": 100}
                         for f, n in zip(prof.stacks.frames, prof.stacks.samples)])
    text = ts.cache_hit_solution(rows)
    assert said in text
    assert ts.cache_hit_solution(rows.assign(page="x")).startswith("This run did not profile")


def test_the_cost_takeaway_says_mostly_and_no_single_layer_only_when_the_shares_do():
    from scalelab.experiments.time_split import cost_takeaway

    spread = pd.Series({"templates": 0.39, "ORM": 0.17, "middleware": 0.16})
    text = cost_takeaway(0.8, spread)
    assert "mostly the app's Python (80%)" in text
    assert "no single layer of it was most of that: the largest, templates, had 39%" in text
    text = cost_takeaway(0.4, pd.Series({"templates": 0.6, "ORM": 0.2}))
    assert "not mostly the app's Python (40%)" in text
    assert "one layer, templates, was most of that (60%)" in text


def test_the_floor_takeaway_calls_the_floor_small_and_the_cache_nearly_all_from_the_data():
    from scalelab.experiments.time_split import floor_takeaway

    text = floor_takeaway(0.5, 10.0, 0.6)
    assert "was 5% of the page's server CPU: a small part" in text
    assert "removed nearly all of it (94%)" in text
    text = floor_takeaway(4.0, 10.0, 3.0)
    assert "40% of the page's server CPU: not a small part here" in text
    assert "caching the page removed 70% of it" in text and "nearly all" not in text
