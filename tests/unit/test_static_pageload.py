"""The page-load client's pure parts: which assets a page links, how long a response lives."""

from email.message import Message

from scalelab.experiments.static import assets_of, lifetime


def _headers(**kv):
    m = Message()
    for k, v in kv.items():
        m[k.replace("_", "-")] = v
    return m


def test_assets_are_the_linked_css_js_and_images_each_once():
    html = ('<link rel="stylesheet" href="/static/a.css"><link rel="icon" href="/static/l.png">'
            '<img src="/static/l.png"><script src="b.js" defer></script><a href="/q/1/">q</a>')
    assert assets_of(html, "http://127.0.0.1:8000/") == [
        "http://127.0.0.1:8000/static/a.css", "http://127.0.0.1:8000/static/l.png",
        "http://127.0.0.1:8000/b.js"]


def test_a_lifetime_comes_from_max_age_else_expires_minus_date():
    assert lifetime(_headers(Cache_Control="public, max-age=3600")) == 3600
    assert lifetime(_headers(Cache_Control="max-age=60, no-cache")) == 0
    assert lifetime(_headers(Date="Fri, 27 Nov 2026 12:00:00 GMT",
                             Expires="Fri, 27 Nov 2026 13:00:00 GMT")) == 3600
    assert lifetime(_headers(Last_Modified="Fri, 27 Nov 2026 12:00:00 GMT")) == 0


def test_a_link_is_shared_by_the_connections_of_one_browser():
    import threading
    import time

    from scalelab.experiments.static import Link

    link = Link(1)  # 125,000 bytes a second
    t0 = time.perf_counter()
    threads = [threading.Thread(target=lambda: [link.carry(12_500) for _ in range(4)])
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.perf_counter() - t0 >= 0.78, "100,000 bytes on 1 Mbit/s take 0.8 s, not 0.4"


def test_the_crossover_is_the_bits_compression_saves_over_the_backend_time():
    import pandas as pd

    from scalelab.experiments.static import crossover_mbit_s

    loads = pd.DataFrame({"variant": ["first visit, plain", "first visit, gzip"],
                          "wire_kb": [200.0, 100.0]})
    backend = pd.DataFrame({"variant": ["page", "cached page"], "median_ms": [25.0, 5.0]})
    # 100 KB = 819,200 bits saved; 20 ms saved by the cache: 40.96 Mbit/s
    assert abs(crossover_mbit_s(loads, backend) - 40.96) < 1e-9
    assert abs(crossover_mbit_s(loads, backend, share=0.5) - 81.92) < 1e-9


def test_a_visitor_timing_decides_only_visitor_rules():
    import pandas as pd

    from scalelab.measurement import limits

    df = pd.DataFrame({"limit": ["one user", "server", "failures", "unexplained"]})
    assert list(limits.usable(df, "one user").limit) == ["one user"]
    assert list(limits.usable(df, "server-bound").limit) == ["server"]
    assert "one user" not in set(limits.usable(df, "stated load").limit)
    assert limits.worst_limit(pd.Series(["one user", "one user"])) == "one user"
    assert limits.one_user_limit(1) == "failures"


def _loads(measured_ms, links=(1, 10)):
    import pandas as pd

    return pd.DataFrame([{"variant": "first visit, plain", "link_mbit_s": float(link),
                          "wire_kb": 125.0, "page_load_ms": measured_ms / link}
                         for link in links])


def test_the_transfer_solution_counts_the_gap_in_round_trips():
    from scalelab.experiments.static import transfer_solution

    text = transfer_solution(_loads(1184.0), rtt_ms=40)
    # 125 KB × 8.192 ÷ 1 Mbit/s = 1,024 ms; 1,184 ms measured: 160 ms, four round trips
    assert "125 × 8.192 ÷ 1 = **1,024 ms**" in text
    assert "160 ms more: about 4.0 round trips" in text
    assert "less than its bytes alone need" in transfer_solution(_loads(900.0), rtt_ms=40)
    slowest = transfer_solution(_loads(1184.0, links=(10, 100)), rtt_ms=40)
    assert slowest.startswith("This run measured no 1 Mbit/s link") and "at 10 Mbit/s" in slowest


def test_the_asset_takeaway_calls_the_gap_from_the_ratio():
    from scalelab.experiments.static import asset_takeaway

    assert "per request the gap is large (40×)" in asset_takeaway(1.2, 0.03)
    assert "per request the gap is real but not large (4.0×)" in asset_takeaway(0.12, 0.03)
    assert "per request the gap is small" in asset_takeaway(0.05, 0.03)
    assert "not measured" in asset_takeaway(0.05, 0.0)


def test_the_page_view_takeaway_says_most_and_small_only_when_the_shares_are():
    from scalelab.experiments.static import page_view_takeaway

    text = page_view_takeaway(0.08, 0.7)
    assert "most of a cached page view's work (70%)" in text and "a small share (8%)" in text
    text = page_view_takeaway(0.4, 0.3)
    assert "30% of a cached page view's work, less than half" in text
    assert "still 40% of it" in text
