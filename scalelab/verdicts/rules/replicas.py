"""05-app-replicas' rules: C9 and C2's balancer half (projected scale-out), C10 (sessions).

The projection is ``scalelab.verdicts.projection`` (the utilisation law on CPU per request by
component), the same one the notebook draws."""

from __future__ import annotations

import pandas as pd

from scalelab.verdicts.rule import (Clause, Criterion, Estimate, Figure, Rule, point_label,
                                     ratio_by_repeat)
from scalelab.verdicts.projection import PER_PROCESS, costs_of, project

DEFAULT_STORE = "database"  # Django's default session engine, as experiments.replicas names it

SCALE_OUT = 0.75  # share of linear a scale-out must keep: 4 machines giving at least 3x one


def _most_replicas(rows: pd.DataFrame, variant: str) -> pd.DataFrame:
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
        Figure("projected gain at 4", "what 4 app machines would serve ÷ what 1 would, behind "
                                      "one nginx and one database, projected from the "
                                      "uncached page's CPU per request by component",
               projected_gain(4, "page")),
        Figure("projected gain at 2", "the same for 2 app machines",
               projected_gain(2, "page")),
        Figure("same-machine gain", "requests/s with the most replicas ÷ with one, the same "
                                    "workers in all, on this machine's server CPUs (shown)",
               same_machine_gain),
        Figure("balancer share", "nginx's CPU per request ÷ the app's (shown)",
               balancer_share, unit=""),
    ],
    # linear scale-out is the promise; the projection shows how close the shared nginx and
    # database would leave it, on the assumption that each app machine costs what one does
    clauses=[],
    untestable=("several application servers means several machines, and this one has one "
                "server core: the gain is projected from one machine's CPU per request by "
                "component, and a projection is not a measurement; what would test it: app "
                "servers on hosts of their own behind one nginx (the scale model)"))

C2_BALANCER = Rule(
    claim="C2",
    quote="Make use of that, and say, redis as a cache provider, put a load balancer in front "
          "of it, spin up n-instances and you should be able to deal with a VERY large "
          "amount of traffic.",
    figures=[Figure("projected gain at 10, cached", "what 10 app machines would serve ÷ what "
                                                    "1 would, on the home page from Django's "
                                                    "per-view cache in Redis, behind one nginx "
                                                    "and one Redis",
                    projected_gain(10, "cached page"))],
    # n instances dealing with "a VERY large amount": shown as the projection for 10
    clauses=[],
    untestable=("n instances behind a load balancer means n machines: the gain is projected "
                "from one machine's CPU per request by component, not run on ten; what would "
                "test it: cached app servers on hosts of their own behind one nginx and one "
                "Redis (the scale model)"))


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
