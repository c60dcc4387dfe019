"""05-app-replicas' rules: C9 and C2's balancer half (scale-out measured in the scale model,
the projection shown beside it), C10 (sessions).

The measured gain comes from ``experiments.replicas.scale_out``: app servers in hosts of
their own (``plumbing.hosts``) behind one nginx, with the database and Redis in hosts of fixed
size. The projection is ``scalelab.verdicts.projection`` (the utilisation law on CPU per
request by component), the same one the notebook draws: shown, never decided on."""

from __future__ import annotations

import pandas as pd

from scalelab.verdicts.rule import (Clause, Criterion, Estimate, Figure, Rule, point_label,
                                     ratio_by_repeat)
from scalelab.verdicts.projection import PER_PROCESS, costs_of, project

DEFAULT_STORE = "database"  # Django's default session engine, as experiments.replicas names it

SCALE_OUT = 0.75  # share of linear a scale-out must keep: 4 machines giving at least 3x one


def measured_gain(hosts: int, variant: str):
    """Per repeat, in the scale model: requests/s with ``hosts`` app hosts ÷ with one, on
    ``variant`` ("page": uncached; "cached page"), both points valid."""
    def compute(rows: pd.DataFrame) -> Estimate:
        part = rows[(rows.variant == variant) & rows.app_hosts.isin((1, hosts))] \
            if "app_hosts" in rows else rows.iloc[:0]
        if part.empty:
            return Estimate(())
        part = part.assign(hosts_label=part.app_hosts.astype(int).astype(str))
        return ratio_by_repeat(part, "req_s", str(hosts), "1", by="hosts_label")
    return compute


def host_use(component: str, hosts: int, variant: str = "page"):
    """Per repeat: the ``component`` host's CPU ÷ its quota with ``hosts`` app hosts."""
    def compute(rows: pd.DataFrame) -> Estimate:
        column = f"host_{component}_util"
        if "app_hosts" not in rows or column not in rows:
            return Estimate(())
        part = rows[(rows.variant == variant) & (rows.app_hosts == hosts)]
        return Estimate(part[column], [point_label(r) for _, r in part.iterrows()])
    return compute


def _one_machine(rows: pd.DataFrame) -> pd.DataFrame:
    """The points of app servers sharing this machine's CPUs (no host of the scale model)."""
    return rows[rows.app_hosts.isna()] if "app_hosts" in rows else rows


def _most_replicas(rows: pd.DataFrame, variant: str) -> pd.DataFrame:
    rows = _one_machine(rows)
    part = rows[(rows.variant == variant) & (rows.balance == "round_robin")] \
        if "balance" in rows else rows.iloc[:0]
    return part[part.replicas == part.replicas.max()] if len(part) else part


def projected_gain(machines: int, variant: str):
    """Per repeat, from the configuration with the most replicas: what ``machines`` app
    machines would serve ÷ what one would, each with this machine's server CPUs, the
    balancer, database and cache one machine each (``projection.project``: the
    utilisation law on CPU per request by component)."""
    def compute(rows: pd.DataFrame) -> Estimate:
        values, points = [], []
        part = _most_replicas(rows, variant)
        for _, rep in part.groupby("repeat"):
            costs = costs_of(rep)
            if not costs.get("app"):
                continue
            values.append(float(project(costs, (1, machines)).gain.iloc[-1]))
            points += [point_label(r) for _, r in rep.iterrows()]
        return Estimate(values, points)
    return compute


def same_machine_gain(rows: pd.DataFrame) -> Estimate:
    """req/s of the most replicas ÷ of one, the same workers in all, on this one machine."""
    rows = _one_machine(rows)
    part = rows[(rows.variant == "page") & (rows.balance == "round_robin")] \
        if "balance" in rows else rows.iloc[:0]
    if part.empty or part.replicas.nunique() < 2:
        return Estimate(())
    most, one = part[part.replicas == part.replicas.max()], part[part.replicas == 1]
    if one.empty:
        return Estimate(())
    return ratio_by_repeat(pd.concat([most, one]), "req_s", most.config.iloc[0],
                           one.config.iloc[0], by="config")


def balancer_share(rows: pd.DataFrame) -> Estimate:
    """nginx's CPU per request ÷ the app's, on the uncached page with the most replicas."""
    part = _most_replicas(rows, "page")
    vals = [r.cpu_ms_per_req_proxy / r.cpu_ms_per_req_app for _, r in part.iterrows()
            if r.cpu_ms_per_req_app > 0]
    return Estimate(vals, [point_label(r) for _, r in part.iterrows()])


C9 = Rule(
    claim="C9",
    quote="You could have several application servers balanced with nginx as the front in "
          "addition to hardware balancer(s).",
    figures=[
        Figure("measured gain at 4", "requests/s with 4 app hosts ÷ with 1, on the uncached "
                                     "home page, in the scale model: each app server in a "
                                     "host of its own behind one nginx, the database and "
                                     "Redis in hosts of fixed size",
               measured_gain(4, "page")),
        Figure("database host use at 4", "the database host's CPU ÷ its quota with 4 app "
                                         "hosts (shown)", host_use("db", 4), unit=""),
        Figure("projected gain at 4", "projected, not measured: what 4 app machines would "
                                      "serve ÷ what 1 would, from one machine's CPU per "
                                      "request by component (the utilisation law; shown)",
               projected_gain(4, "page")),
        Figure("same-machine gain", "requests/s with the most replicas ÷ with one, the same "
                                    "workers in all, on this machine's server CPUs (shown)",
               same_machine_gain),
        Figure("balancer share", "nginx's CPU per request ÷ the app's (shown)",
               balancer_share, unit=""),
    ],
    # several app servers behind nginx are worth having if adding them adds capacity: 4
    # giving at least 3x one (SCALE_OUT) leaves a quarter for the balancer, the shared
    # database and connection churn; less means something shared already caps it
    clauses=[Clause("holds", [Criterion("measured gain at 4", ">=", 4 * SCALE_OUT)])],
    decides="more repeats of the scale model (MODE='full')")

C2_BALANCER = Rule(
    claim="C2",
    quote="Make use of that, and say, redis as a cache provider, put a load balancer in front "
          "of it, spin up n-instances and you should be able to deal with a VERY large "
          "amount of traffic.",
    figures=[
        Figure("measured gain at 8, cached", "requests/s with 8 app hosts ÷ with 1, on the "
                                             "home page from Django's per-view cache in "
                                             "Redis, in the scale model (one nginx, one "
                                             "Redis host)",
               measured_gain(8, "cached page")),
        Figure("cache host use at 8", "the Redis host's CPU ÷ its quota with 8 app hosts, "
                                      "cached page (shown)",
               host_use("redis", 8, "cached page"), unit=""),
        Figure("projected gain at 10, cached", "projected, not measured: what 10 app "
                                               "machines would serve ÷ what 1 would, from one "
                                               "machine's CPU per request (shown)",
               projected_gain(10, "cached page"))],
    # n instances behind a balancer with Redis: measured up to 8 small hosts, which must
    # keep SCALE_OUT of linear (6x); "a VERY large amount" beyond 8 hosts is the projection's
    clauses=[Clause("holds with conditions", [Criterion("measured gain at 8, cached", ">=",
                                                        8 * SCALE_OUT)],
                    conditions="measured up to 8 app hosts of 1/16 core in the scale model; "
                               "beyond that, and at the thread's traffic, it is projected")],
    decides="more repeats of the scale model (MODE='full')")


def lost_share(engines: str):
    """Share of a logged-in visitor's requests that found no session: with Django's default
    store (``engines="default"``: the database), in each process's memory (``"per-process"``),
    or the highest among the other shared stores (``"other shared"``)."""
    def compute(rows: pd.DataFrame) -> Estimate:
        part = rows[rows.kind == "logins"] if "kind" in rows else rows.iloc[:0]
        pick = {"default": part.engine == DEFAULT_STORE,
                "per-process": part.engine == PER_PROCESS,
                "other shared": ~part.engine.isin([DEFAULT_STORE, PER_PROCESS])}[engines]
        part = part[pick]
        if part.empty:
            return Estimate(())
        vals = part.groupby("repeat").lost_share.max() if "repeat" in part else \
            [part.lost_share.max()]
        return Estimate(vals, [point_label(r) for _, r in part.iterrows()])
    return compute


C10 = Rule(
    claim="C10",
    quote="Moreover, What happens when your traffic outgrows one app server? how you handle "
          "sessions in this case can be tricky, more often than not you'd probably require a "
          "shared nothing architecture.",
    figures=[
        Figure("default-store loss", "share of a logged-in visitor's requests that found no "
                                     "session over round-robin app servers, with Django's "
                                     "default session store (the database)",
               lost_share("default"), unit="%", points="one user"),
        Figure("per-process loss", "the same with sessions in each process's memory, a "
                                   "store Django does not ship (shown: the design the claim "
                                   "warns against)", lost_share("per-process"),
               unit="%", points="one user"),
        Figure("other shared loss", "the highest such share among the other shared stores "
                                    "(Redis, cached_db, signed cookies) (shown)",
               lost_share("other shared"), unit="%", points="one user"),
    ],
    # tricky: a visitor logged out whenever the balancer sends them elsewhere; 5% is one
    # request in twenty, which no site can ship. Decided on what a Django user deploys: the
    # default store. Sessions kept in a process lose visitors by design (shown, not decided on)
    clauses=[Clause("holds", [Criterion("default-store loss", ">=", 0.05)])],
    decides="more visitors (MODE='full')")
