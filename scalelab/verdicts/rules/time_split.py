"""08-where-the-time-goes' rule: C14 (swapping the ORM and the template layer).

The page as written and with both layers swapped (``AS_WRITTEN``, ``BOTH_SWAPPED``) are named
here; ``scalelab.experiments.time_split`` measures them under these names."""

from __future__ import annotations

from scalelab.verdicts.rule import Clause, Criterion, Figure, Rule, ratio_by_repeat

AS_WRITTEN, BOTH_SWAPPED = "ORM + Django templates", "raw SQL + Jinja2"  # swaps' variants

C14 = Rule(
    claim="C14",
    quote="Python is very good but it is a interpreted language which makes it slow. [...] "
          "(against:) without replacing core components often labeled as \u201ctoo slow\u201d "
          "such as the database ORM or the template layer.",
    figures=[
        Figure("layer swap gain", "server CPU per home page with the ORM and Django's "
                                  "templates ÷ with raw SQL and Jinja2 (the same page)",
               lambda rows: ratio_by_repeat(rows, "cpu_ms_per_req_server", AS_WRITTEN,
                                            BOTH_SWAPPED)),
    ],
    # "too slow, need replacing" is true when replacing both layers at least halves the
    # page's cost: the issue's own yardstick ("what it would take to halve the cost"), and a
    # gain an index (07) or a cache (02) gives many times over
    clauses=[Clause("holds", [Criterion("layer swap gain", ">=", 2)])],
    decides="more repeats or longer windows: the page's CPU per request moved by about a "
            "sixth between consecutive windows here, and the gain sits near the threshold")
