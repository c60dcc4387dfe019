"""06-database-replicas' rules: C11 from where the database CPU went; C12's replica half, which
this machine cannot test (its figures are shown).

The two stacks (``WITHOUT``, ``WITH``) are named here; ``scalelab.experiments.db_replicas``
starts its stacks under these names."""

from __future__ import annotations

import pandas as pd

from scalelab.verdicts.rule import Clause, Criterion, Estimate, Figure, Rule, point_label

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


READS_MOVED = Figure("reads moved", "the primary's CPU per read with the replica ÷ the "
                                    "database's CPU per read without it (a read-heavy turn "
                                    "of pages)", db_cost_ratio("reads", "cpu_ms_per_req_db"))
C11 = Rule(
    claim="C11",
    quote="To scale on the database side you can go pretty far with read slave in MySQL / "
          "PostgreSQL if you go the RDBMS way.",
    figures=[
        READS_MOVED,
        Figure("replica cost", "the replica's CPU per read ÷ the database's CPU per read "
                               "without it", db_cost_ratio("reads", "cpu_ms_per_req_replica")),
    ],
    # "pretty far": the primary must be relieved of at least four fifths of its read work,
    # and a replica must serve a read for at most a quarter more than the primary did, so
    # that each replica on its own machine adds about one primary's worth of reads
    clauses=[Clause("holds with conditions", [Criterion("reads moved", "<=", 0.2),
                                              Criterion("replica cost", "<=", 1.25)],
                    conditions="for reads that may lag the writes a little (a visitor's own "
                               "writes need the fix shown); projected: each replica on a "
                               "machine of its own")],
    decides="more repeats or longer windows: the database's CPU per read moved by about a "
            "fifth between 5 s windows of the same stack here")

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
                "whatever the app does), and that it takes the reads is C11's verdict; "
                "'scaling Django is fairly trivial' when light on writes is about capacity "
                "added, and the primary and the replica share this machine's server CPUs; "
                "what would test it: read capacity measured as replicas are added on hosts "
                "of their own (the scale model), against the same app without them; the "
                "write half is decided in 07-database-design"),
    decides="more repeats (MODE='full')")
