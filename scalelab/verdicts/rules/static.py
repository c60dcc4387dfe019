"""04-static-offloading's rules: C7 (the wire against the backend) and C8 (who serves assets).

Who serves the assets (``DJANGO_VIEW``, ``NGINX``) is named here; ``scalelab.experiments.static``
builds its stacks under these names."""

from __future__ import annotations

import pandas as pd

from scalelab.verdicts.rule import (Clause, Criterion, Estimate, Figure, Rule, point_label,
                                     ratio_by_repeat)

# who serves the assets: experiments.static.SERVERS. C8 is decided against WhiteNoise, what a
# Django deployment without a front server serves its files with (Django's own static view is
# for development only, and is shown beside it)
DJANGO_VIEW, WHITENOISE, NGINX = "Django's view", "WhiteNoise", "nginx"
ASSET_SHARE = 1 / 3  # assets' share of a page view's CPU from which nginx gives 1.5x the views
ALMOST = 0.75        # "almost more important": at least three quarters of the backend's saving
WIRE_LINK, FAST_LINK = 10, 100  # Mbit/s: a slow home line or a mobile link; a fast line


def asset_share(page_view: str):
    """With WhiteNoise serving the assets: the server CPU of the page's assets (the "assets"
    point: each asset once) ÷ that of a whole ``page_view`` (page and assets), per repeat, in
    the same stack. What nginx could take off each page view, if it served them for nothing."""
    def compute(rows: pd.DataFrame) -> Estimate:
        values, points = [], []
        part = rows[rows.config == WHITENOISE] if "config" in rows else rows.iloc[:0]
        for _, rep in part.groupby("repeat"):
            assets, views = rep[rep.variant == "assets"], rep[rep.variant == page_view]
            if assets.empty or views.empty:
                continue
            values.append(assets.cpu_ms_per_view.mean() / views.cpu_ms_per_view.mean())
            points += [point_label(r) for _, r in pd.concat([assets, views]).iterrows()]
        return Estimate(values, points)
    return compute


def view_gain(variant: str, baseline: str = WHITENOISE):
    """Server CPU per ``variant`` (a page view, or the assets) with the assets from
    ``baseline`` ÷ from nginx, per repeat: two stacks, measured in turn."""
    return lambda rows: ratio_by_repeat(rows[rows.variant == variant], "cpu_ms_per_view",
                                        baseline, NGINX, by="config")


C8 = Rule(
    claim="C8",
    quote="Finally, are you serving static content on the same server as Django? Are you "
          "using Apache or something like nginx or lighttpd? Can you afford to use a CDN for "
          "static content?",
    figures=[
        Figure("asset share", "with WhiteNoise serving them (hashed names, precompressed, "
                              "what Django's deployment docs suggest without a front server), "
                              "the server CPU of a page's assets ÷ that of a whole page view "
                              "(the uncached home page and its assets), in one stack",
               asset_share("page view"), unit="%"),
        Figure("asset share, cached page", "the same for a page view of the home page from "
                                           "Django's per-view cache",
               asset_share("cached page view"), unit="%"),
        Figure("cached page-view gain", "server CPU per cached page view (page and assets) "
                                        "with the assets from WhiteNoise ÷ from nginx",
               view_gain("cached page view")),
        Figure("page-view gain", "the same for the uncached page (shown: an uncached page's "
                                 "cost varies from stack to stack more than its assets cost)",
               view_gain("page view")),
        Figure("asset saving", "server CPU per asset request, WhiteNoise ÷ nginx (shown: "
                               "nginx on one core and wrk on the other are near both limits)",
               view_gain("assets")),
        Figure("cached page-view gain over Django's view",
               "the cached page-view gain with the assets from Django's static view, for "
               "development only (shown)", view_gain("cached page view", DJANGO_VIEW)),
    ],
    # a third of a page view's work in its assets: moving them to nginx, which the gain shows
    # serves them for next to nothing, gives each server 1.5x the page views, worth a server
    # process of its own. The gain itself must reach that 1.5x where the share says it can.
    clauses=[Clause("holds", [Criterion("asset share", ">=", ASSET_SHARE),
                              Criterion("cached page-view gain", ">=", 1.5)]),
             Clause("holds with conditions", [Criterion("asset share, cached page", ">=",
                                                        ASSET_SHARE),
                                              Criterion("cached page-view gain", ">=", 1.5)],
                    conditions="for pages that cost little to make (from a cache, or simple); "
                               "an uncached page's own work dwarfs its assets")],
    decides="more repeats (MODE='full')")


def wire_savings(rows: pd.DataFrame) -> pd.DataFrame:
    """From page loads (rows with ``link_mbit_s``) and backend timings (rows without), per link
    and repeat: what compression saves a first visit, what the assets' lifetimes save a repeat
    visit against revalidating, what the cached page saves in the backend (ms), and
    compression's saving ÷ the backend's."""
    cols = ["link_mbit_s", "repeat", "compression_saving_ms", "lifetime_saving_ms",
            "backend_saving_ms", "compression_vs_backend"]
    if rows.empty or "link_mbit_s" not in rows:
        return pd.DataFrame(columns=cols)
    loads, back = rows[rows.link_mbit_s.notna()], rows[rows.link_mbit_s.isna()]
    back = back.pivot_table(index="repeat", columns="variant", values="median_ms")
    t = loads.pivot_table(index=["link_mbit_s", "repeat"], columns="variant",
                          values="page_load_ms")
    need = {"first visit, plain", "first visit, gzip", "revalidate visit, gzip",
            "fresh visit, gzip"}
    if not need <= set(t.columns) or not {"page", "cached page"} <= set(back.columns):
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame({
        "compression_saving_ms": t["first visit, plain"] - t["first visit, gzip"],
        "lifetime_saving_ms": t["revalidate visit, gzip"] - t["fresh visit, gzip"]})
    out = out.join((back["page"] - back["cached page"]).rename("backend_saving_ms"),
                   on="repeat")
    out["compression_vs_backend"] = out.compression_saving_ms / out.backend_saving_ms
    return out.reset_index()[cols].dropna(subset=["compression_vs_backend"])


def wire_vs_backend(link: float):
    """Compression's saving on a first visit over a ``link`` Mbit/s line ÷ the backend time
    the cached page saves, per repeat."""
    def compute(rows: pd.DataFrame) -> Estimate:
        table = wire_savings(rows)
        part = table[table.link_mbit_s == link]
        used = rows[(rows.link_mbit_s == link) | rows.link_mbit_s.isna()] if len(part) else []
        return Estimate(part.compression_vs_backend,
                        [point_label(r) for _, r in used.iterrows()] if len(part) else [])
    return compute


C7 = Rule(
    claim="C7",
    quote="What you deliver on the wire is almost more important than your backend in "
          "reality [...] You can always throw more hardware at your backend, but you can't "
          "change your users bandwidth.",
    figures=[
        Figure(f"wire ÷ backend at {WIRE_LINK} Mbit/s",
               f"the time compression saves one visitor's first page load over a {WIRE_LINK} "
               "Mbit/s line ÷ the time Django's per-view cache saves the same page in the "
               "backend", wire_vs_backend(WIRE_LINK), points="one user"),
        Figure(f"wire ÷ backend at {FAST_LINK} Mbit/s", f"the same over a {FAST_LINK} Mbit/s "
               "line", wire_vs_backend(FAST_LINK), points="one user"),
    ],
    # the backend half is measured; the wire half is computed from bytes and an assumed line,
    # so the ratio is shown for the lines a reader picks, not decided on
    clauses=[],
    untestable=("the wire half is the link emulator's arithmetic (the bytes ÷ the line speed, "
                "plus round trips), not a network measured, and the line speeds chosen decide "
                "the ratio; what would test it: first page loads timed by visitors' browsers "
                "over their own lines, beside the backend time the cache saves"))
