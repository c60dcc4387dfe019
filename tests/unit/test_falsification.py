"""Every verdict could have come out otherwise. For each rule a notebook decides, the reference
run's own rows with one physical factor changed (a cache that never hits, the index present, a
second core...) give another decided word. A rule that no plausible data can move tests
nothing: it must say that it cannot be tested here, whatever its rows, and what would test it.

These tests read ``data/reference/``: the rows the ledger's verdicts were decided on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd
import pytest

from scalelab.plumbing import paths
from scalelab.verdicts import rules
from scalelab.verdicts.rule import UNTESTABLE
from scalelab.verdicts.rules import RULES

from reference_rows import INPUTS, reference_rows, rule_of

def scaled(rows: pd.DataFrame, where, column: str, factor: float) -> pd.DataFrame:
    out = rows.copy()
    out.loc[where(out), column] = out.loc[where(out), column] * factor
    return out


def like(rows: pd.DataFrame, where, source, column: str, key="repeat") -> pd.DataFrame:
    """Rows ``where`` take ``column`` from the rows ``source`` of the same ``key`` (a column
    or a list of columns)."""
    keys = [key] if isinstance(key, str) else list(key)
    out = rows.copy()
    values = out[source(out)].groupby(keys)[column].mean()
    pick = where(out)
    out.loc[pick, column] = [values.get(k if len(keys) > 1 else k[0])
                             for k in out.loc[pick, keys].itertuples(index=False)]
    return out


@dataclass(frozen=True)
class Change:
    """One physical factor changed in a claim's reference rows, and the word it must give."""

    notebook: str
    claim: str
    factor: str
    change: Callable[[pd.DataFrame], pd.DataFrame]
    verdict: str

    def __str__(self) -> str:
        return f"{self.claim} ({self.notebook[:2]}): {self.factor}"


v = lambda name: (lambda d: d.variant == name)  # noqa: E731
uncached_home = v("no cache")
CHANGES = [
    Change("02-caching", "C1", "a cache that never hits (a Vary: Cookie header makes every "
           "visitor's copy their own): cached pages cost what uncached ones do",
           lambda d: like(like(d, v(rules.CACHED), v("uncached"), "cpu_ms_per_req_server"),
                          v("view"), uncached_home, "cpu_ms_per_req_server"),
           "does not hold"),
    Change("02-caching", "C2", "hits three times as dear (the cache in the database instead "
           "of Redis)", lambda d: scaled(d, v("view"), "cpu_ms_per_req_server", 3),
           "does not hold"),
    Change("02-caching", "C18", "nginx's microcache missing every request (each page asked "
           "for less than once a second)",
           lambda d: like(d, v("nginx microcache"), v("view"), "cpu_ms_per_req_server"),
           "does not hold"),
    Change("03-worker-counts", "C19", "two more app cores: the computing page's throughput "
           "triples beyond one worker",
           lambda d: scaled(d, lambda x: (x.variant == "cpu-bound") & (x.workers >= 2)
                            & (x.worker_class == "sync"), "req_s", 3),
           "holds"),
    Change("04-static-offloading", "C8", "nginx serving the assets as dearly as WhiteNoise "
           "(passing them to the app)",
           lambda d: like(d, lambda x: x.config == rules.NGINX,
                          lambda x: x.config == rules.WHITENOISE, "cpu_ms_per_view",
                          key="variant"),
           "does not hold"),
    Change("05-app-replicas", "C10", "Django's default store read from a lagging replica: a "
           "third of a visitor's requests find no session",
           lambda d: d.assign(lost_share=d.lost_share.where(d.engine != "database", 1 / 3)),
           "holds"),
    Change("06-database-replicas", "C11", "a router that sends every read to the primary: "
           "three replicas serve the reads the primary alone did",
           lambda d: like(d, lambda x: (x.replicas == 3) & (x.write_share == 0.05),
                          lambda x: (x.replicas == 0) & (x.write_share == 0.05), "reads_s"),
           "does not hold"),
    Change("07-database-design", "C4", "the index present from the start (a migration that "
           "declared it)",
           lambda d: like(d, lambda x: ~x.index_present, lambda x: x.index_present,
                          "cpu_ms_per_req_server", key=["questions", "page", "repeat"]),
           "does not hold"),
    Change("07-database-design", "C5", "the index present from the start (a migration that "
           "declared it)",
           lambda d: like(d, lambda x: ~x.index_present, lambda x: x.index_present,
                          "cpu_ms_per_req_server", key=["questions", "page", "repeat"]),
           "does not hold"),
    Change("07-database-design", "C6", "data larger than the default shared buffers: the "
           "tuned settings serve twice the reads",
           lambda d: scaled(d, lambda x: (x.kind == "reads") & (x.config != "defaults"),
                            "req_s", 2),
           "holds"),
    Change("07-database-design", "C12", "a complex write: a vote that costs the primary four "
           "times as much (more rows and indexes, a slower disk's flushes), a quarter of the "
           "votes a second",
           lambda d: scaled(d, lambda x: (x.generator == "pgbench")
                            & (x.variant == "one a transaction"), "votes_s_per_core", 0.25),
           "holds with conditions"),
    Change("08-where-the-time-goes", "C14", "an ORM and template layer half as dear again "
           "(a heavier page)",
           lambda d: scaled(d, v(rules.AS_WRITTEN), "cpu_ms_per_req_server", 1.5),
           "holds"),
    Change("09-capacity-planning", "C16", "a page ten times as dear (an unindexed query on a "
           "larger table): the core as busy as it can be, or nearly",
           lambda d: scaled(d, v(rules.C16_LOAD), "server_cpus_busy", 10).assign(
               server_cpus_busy=lambda x: x.server_cpus_busy.clip(upper=1.0)),
           "does not hold"),
]
at_hosts = lambda n, page: (lambda d: (d.app_hosts == n) & (d.variant == page))  # noqa: E731
CHANGES += [
    Change("05-app-replicas", "C9", "a shared database that saturates: four app hosts serve "
           "what two do (a page with a slow query, the database host too small)",
           lambda d: like(d, at_hosts(4, "page"), at_hosts(2, "page"), "req_s"),
           "does not hold"),
    Change("05-app-replicas", "C2", "a balancer that caps the cached page: eight app hosts "
           "serve what two do (nginx's host too small for the cached page's rate)",
           lambda d: like(d, at_hosts(8, "cached page"), at_hosts(2, "cached page"), "req_s"),
           "does not hold"),
]
UNTESTABLE_HERE = [("01-baseline", "C13"), ("02-caching", "C3"), ("04-static-offloading", "C7"),
                   ("06-database-replicas", "C12"),
                   ("09-capacity-planning", "C15"), ("09-capacity-planning", "C17")]


def test_every_rule_has_a_change_that_moves_it_or_says_it_cannot_be_tested():
    every = {(nb, r.claim) for nb, rs in RULES.items() for r in rs}
    covered = {(c.notebook, c.claim) for c in CHANGES} | set(UNTESTABLE_HERE)
    assert every == covered, (sorted(every - covered), sorted(covered - every))
    assert not {(c.notebook, c.claim) for c in CHANGES} & set(UNTESTABLE_HERE)


@pytest.mark.parametrize("change", CHANGES, ids=str)
def test_a_plausible_change_gives_another_verdict(change):
    rule = rule_of(change.notebook, change.claim)
    rows = reference_rows(change.notebook, change.claim)
    before = rule.decide(rows, change.notebook, "full").verdict
    after = rule.decide(change.change(rows), change.notebook, "full")
    assert change.verdict not in (before, "inconclusive", UNTESTABLE), \
        f"the change is meant to give another decided word than {before!r}"
    assert after.verdict == change.verdict, (after.verdict, after.number, after.note)


@pytest.mark.parametrize("notebook, claim", UNTESTABLE_HERE)
def test_a_claim_this_machine_cannot_test_says_so_and_what_would(notebook, claim):
    rule = rule_of(notebook, claim)
    rows = reference_rows(notebook, claim)
    for data in (rows, rows.iloc[:0], rows.assign(**{c: rows[c] * 10 for c in rows.columns
                                                      if c.startswith("cpu_ms")})):
        decision = rule.decide(data, notebook, "full")
        assert decision.verdict == UNTESTABLE
        assert "what would test it" in decision.note
    assert UNTESTABLE in rule.text() and not rule.clauses


@pytest.mark.parametrize("notebook, claim", sorted(INPUTS))
def test_the_reference_rows_give_the_verdict_the_reference_run_saved(notebook, claim):
    saved = pd.read_csv(paths.reference_dir() / notebook / "verdicts.csv")
    word = saved.set_index("claim").loc[claim, "verdict"]
    decided = rule_of(notebook, claim).decide(reference_rows(notebook, claim), notebook, "full")
    assert decided.verdict == word, (decided.verdict, decided.number)


def test_a_rule_that_cannot_fail_is_caught():
    """The check itself can fail: a rule rewritten so that any data passes (C2 with a
    threshold of 0) gives its word whatever the change."""
    from dataclasses import replace

    from scalelab.verdicts.rule import Clause, Criterion

    change = next(c for c in CHANGES if c.claim == "C2")
    rule = rule_of(change.notebook, "C2")
    lax = replace(rule, clauses=(Clause("holds with conditions",
                                        [Criterion("view saving", ">=", 0.0)],
                                        conditions="any"),))
    rows = reference_rows(change.notebook, "C2")
    assert lax.decide(change.change(rows), change.notebook, "full").verdict \
        == lax.decide(rows, change.notebook, "full").verdict != change.verdict
