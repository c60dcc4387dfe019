"""06-database-replicas' rules: C11 on read capacity measured in the scale model (the primary
and 0 to 3 read replicas each in a host of its own), where the database CPU went shown beside
it; C12's replica half, which this machine cannot test (its figures are shown).

The two stacks (``WITHOUT``, ``WITH``) and the scale model's shares of writes are named here;
``scalelab.experiments.db_replicas`` starts its stacks under these names."""

from __future__ import annotations

import pandas as pd

from scalelab.verdicts.rule import (Clause, Criterion, Estimate, Figure, Rule, point_label,
                                     ratio_by_repeat)
from scalelab.verdicts.rules.replicas import SCALE_OUT

WITHOUT, WITH = "primary only", "with a replica"  # the stacks: experiments.db_replicas.STACKS
WRITE_SHARES = (0.0, 0.05, 0.20)  # the scale model's shares of writes among the requests


def db_cost_ratio(kind: str, numerator: str, denominator: str = "cpu_ms_per_req_db"):
    """Per repeat, on ``kind`` (reads or writes): CPU per request of component column
    ``numerator`` on the stack with a replica ÷ ``denominator`` on the stack without."""
    def compute(rows: pd.DataFrame) -> Estimate:
        part = rows[rows.kind == kind] if "kind" in rows else rows.iloc[:0]
        values, points = [], []
        for _, rep in part.groupby("repeat"):
            a, b = rep[rep.config == WITH], rep[rep.config == WITHOUT]
            if a.empty or b.empty or not b[denominator].mean():
                continue
            values.append(a[numerator].mean() / b[denominator].mean())
            points += [point_label(r) for _, r in pd.concat([a, b]).iterrows()]
        return Estimate(values, points)
    return compute


def _at_share(rows: pd.DataFrame, share: float) -> pd.DataFrame:
    """The scale model's points at ``share`` writes (none from the one-machine stacks)."""
    if "replicas" not in rows or "write_share" not in rows:
        return rows.iloc[:0]
    return rows[(rows.write_share - share).abs().lt(1e-9) & rows.replicas.notna()]


def read_gain(replicas: int, share: float):
    """Per repeat, in the scale model: reads/s with ``replicas`` read replicas ÷ with the
    primary alone, at ``share`` writes, both points valid."""
    def compute(rows: pd.DataFrame) -> Estimate:
        part = _at_share(rows, share)
        if part.empty:
            return Estimate(())
        part = part[part.replicas.isin((0, replicas))]
        if part.empty:
            return Estimate(())
        part = part.assign(replicas_label=part.replicas.astype(int).astype(str))
        return ratio_by_repeat(part, "reads_s", str(replicas), "0", by="replicas_label")
    return compute


def primary_use(replicas: int, share: float):
    """Per repeat: the primary's host CPU ÷ its quota with ``replicas`` read replicas."""
    def compute(rows: pd.DataFrame) -> Estimate:
        part = _at_share(rows, share)
        if part.empty or "host_db_util" not in part:
            return Estimate(())
        part = part[part.replicas == replicas]
        return Estimate(part.host_db_util, [point_label(r) for _, r in part.iterrows()])
    return compute


def projected_read_gain(replicas: int):
    """Per repeat, from the one-machine stacks' server-bound read points: the database tier's
    reads with ``replicas`` replicas on machines of their own ÷ the primary's alone (the
    utilisation law: k ÷ a replica's CPU per read, against 1 ÷ the primary's)."""
    def compute(rows: pd.DataFrame) -> Estimate:
        part = rows[rows.kind == "reads"] if "kind" in rows else rows.iloc[:0]
        values, points = [], []
        for _, rep in part.groupby("repeat"):
            a, b = rep[rep.config == WITH], rep[rep.config == WITHOUT]
            if a.empty or b.empty or not a.cpu_ms_per_req_replica.mean():
                continue
            values.append(replicas * b.cpu_ms_per_req_db.mean()
                          / a.cpu_ms_per_req_replica.mean())
            points += [point_label(r) for _, r in pd.concat([a, b]).iterrows()]
        return Estimate(values, points)
    return compute


LIGHT_WRITES, HEAVY_WRITES = 0.05, 0.20  # the shares C11 is decided at and shown at
READS_MOVED = Figure("reads moved", "the primary's CPU per read with the replica ÷ the "
                                    "database's CPU per read without it (a read-heavy turn "
                                    "of pages)", db_cost_ratio("reads", "cpu_ms_per_req_db"))
C11 = Rule(
    claim="C11",
    quote="To scale on the database side you can go pretty far with read slave in MySQL / "
          "PostgreSQL if you go the RDBMS way.",
    figures=[
        Figure("measured read gain at 3", "reads/s with 3 read replicas ÷ with the primary "
                                          "alone, 5% of requests writes, in the scale model: "
                                          "the primary and each replica a host of its own, "
                                          "the app servers beside them",
               read_gain(3, LIGHT_WRITES)),
        Figure("primary host use at 3", "the primary's host CPU ÷ its quota with 3 replicas, "
                                        "5% writes (shown)",
               primary_use(3, LIGHT_WRITES), unit=""),
        Figure("measured read gain at 3, 20% writes", "the same with a fifth of requests "
                                                      "writes (shown)",
               read_gain(3, HEAVY_WRITES)),
        Figure("primary host use at 3, 20% writes", "the primary's host CPU ÷ its quota "
                                                    "with 3 replicas, 20% writes: 0.9 or "
                                                    "more, the writes are the limit (shown)",
               primary_use(3, HEAVY_WRITES), unit=""),
        Figure("projected read gain at 3", "projected, not measured: 3 replicas on machines "
                                           "of their own ÷ the primary alone, from one "
                                           "machine's CPU per read (the utilisation law; "
                                           "shown)", projected_read_gain(3)),
        Figure("reads moved", READS_MOVED.description + " (shown)", READS_MOVED.compute,
               unit=READS_MOVED.unit),
    ],
    # "pretty far": three replicas must keep at least three quarters of linear (SCALE_OUT,
    # as C9's app servers): 2.25x the primary's reads, what is left being the writes each
    # replica replays, the primary's share of the reads and its WAL senders
    clauses=[Clause("holds with conditions",
                    [Criterion("measured read gain at 3", ">=", 3 * SCALE_OUT)],
                    conditions="for reads that may lag the writes a little (a visitor's own "
                               "writes need the fix shown) and a light share of writes (5%); "
                               "measured up to 3 replicas in the scale model, more projected")],
    decides="more repeats of the scale model (MODE='full')")

C12_REPLICA = Rule(
    claim="C12",
    quote="If you application is light on writes [...] scaling django should be fairly "
          "trivial [...] Now, if you have to do thousands of complex writes a second? "
          "Different story.",
    figures=[
        READS_MOVED,
        Figure("write work kept", "the primary's CPU per vote with the replica ÷ the "
                                  "database's CPU per vote without it",
               db_cost_ratio("writes", "cpu_ms_per_req_db")),
        Figure("replay cost", "the replica's CPU per vote (replaying it) ÷ the primary's "
                              "(shown)", db_cost_ratio("writes", "cpu_ms_per_req_replica")),
    ],
    # the replica half of the claim: that a replica takes none of the writes is how streaming
    # replication works, and that it takes the reads is C11's verdict; neither can come out
    # otherwise here, and "scaling is trivial" needs capacity added, which one machine lacks
    clauses=[],
    untestable=("a streaming replica takes none of the writes by design (every write lands "
                "on the one primary, and the replica replays it: 'write work kept' is about 1 "
                "whatever the app does), and that replicas add read capacity when writes are "
                "light is C11's verdict, measured in the scale model; whether the writes then "
                "become the limit is shown there ('primary host use at 3, 20% writes'), but "
                "'thousands of complex writes a second' is about how big the one primary is, "
                "which the model's 1/32-core primary does not say; what would test it: the "
                "scale model with a primary sized as the thread's site's, at its write rate; "
                "the write half is decided in 07-database-design"),
    decides="more repeats (MODE='full')")
