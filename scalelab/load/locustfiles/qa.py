"""Locustfile of the lab. Run by scalelab.load in a subprocess, never imported into a kernel.

Reads its plan from the JSON file named by SCALELAB_PLAN: the page mix, think time, Zipf
exponent and the popularity order of questions and tags, the load steps [[users, seconds],
...] and the output folder. Writes there:

- ``steps.jsonl``: the wall-clock time each load step began, with its users and page mix
  (from the master/standalone process; a step's mix applies to users in that process);
- ``hist-<pid>.jsonl``: for every second and page, the request count, failures, the sum of
  response times and a histogram of them (from every process that sends requests), so
  percentiles can be computed for exactly the measured window.
"""

import bisect
import itertools
import json
import os
import random
import time
from collections import defaultdict
from pathlib import Path

import gevent
from locust import LoadTestShape, between, constant, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import MasterRunner

PLAN = json.loads(Path(os.environ["SCALELAB_PLAN"]).read_text())
OUT = Path(PLAN["out_dir"])
PAGES = PLAN["pages"]  # name -> [method, path template]
MIXES = PLAN["mixes"]  # variant name -> {page: weight}; steps may switch between them
ZIPF_S = float(PLAN["zipf_s"])


def _zipf_cumulative(n):
    weights = (1.0 / (r ** ZIPF_S) for r in range(1, n + 1))
    return list(itertools.accumulate(weights))


QUESTION_IDS = PLAN["question_ids"] or [1]
TAGS = PLAN["tags"] or ["python"]
Q_CUM = _zipf_cumulative(len(QUESTION_IDS))
T_CUM = _zipf_cumulative(len(TAGS))
MIX_TABLES = {name: (list(mix), list(itertools.accumulate(mix.values())))
              for name, mix in MIXES.items()}
CURRENT = {"mix": PLAN["steps"][0][2] if PLAN["steps"] else ""}


def _draw(items, cum):
    return items[bisect.bisect_left(cum, random.random() * cum[-1])]


def bucket(ms):
    """Round like Locust does: 1 ms below 100 ms, 10 ms below 1 s, 100 ms above."""
    if ms < 100:
        return int(round(ms))
    if ms < 1000:
        return int(round(ms, -1))
    return int(round(ms, -2))


class _Histogram:
    def __init__(self):
        self.data = defaultdict(lambda: {"n": 0, "fail": 0, "sum": 0.0, "h": defaultdict(int)})
        self.path = OUT / f"hist-{os.getpid()}.jsonl"

    def add(self, name, ms, failed):
        cell = self.data[(int(time.time()), name)]
        cell["n"] += 1
        cell["sum"] += ms
        cell["h"][bucket(ms)] += 1
        if failed:
            cell["fail"] += 1

    def flush(self, everything=False):
        now = int(time.time())
        done = [k for k in self.data if everything or k[0] < now]
        if not done:
            return
        with open(self.path, "a") as f:
            for key in sorted(done):
                cell = self.data.pop(key)
                f.write(json.dumps({"t": key[0], "name": key[1], "n": cell["n"],
                                    "fail": cell["fail"], "sum": round(cell["sum"], 3),
                                    "h": cell["h"]}) + "\n")


HIST = _Histogram()


@events.request.add_listener
def _on_request(request_type, name, response_time, response_length, exception=None, **kw):
    HIST.add(name, response_time, exception is not None)


def _flush_loop():
    while True:
        gevent.sleep(1.0)
        HIST.flush()


@events.init.add_listener
def _on_init(environment, **kw):
    if not isinstance(environment.runner, MasterRunner):
        gevent.spawn(_flush_loop)


@events.quitting.add_listener
def _on_quit(environment, **kw):
    HIST.flush(everything=True)


def _think():
    tt = PLAN["think_time"]
    return constant(tt[0]) if tt[0] == tt[1] else between(tt[0], tt[1])


class QaUser(FastHttpUser):
    wait_time = _think()
    # One connection per user, kept alive, as a browser tab would.
    connection_timeout = 30.0
    network_timeout = 60.0

    @task
    def page(self):
        names, cum = MIX_TABLES[CURRENT["mix"]]
        name = _draw(names, cum)
        method, template = PAGES[name]
        path = template.format(qid=_draw(QUESTION_IDS, Q_CUM), tag=_draw(TAGS, T_CUM))
        if method == "POST":
            self.client.post(path, name=name)
        else:
            self.client.get(path, name=name)


class Steps(LoadTestShape):
    """Hold each [users, seconds] step in turn, then stop."""

    steps = PLAN["steps"]
    spawn_rate = float(PLAN["spawn_rate"])

    def __init__(self):
        super().__init__()
        self._current = None
        self._log = OUT / "steps.jsonl"

    def tick(self):
        elapsed = self.get_run_time()
        end = 0.0
        for index, (users, seconds, variant) in enumerate(self.steps):
            end += seconds
            if elapsed < end:
                if index != self._current:
                    self._current = index
                    CURRENT["mix"] = variant  # users in this process switch page mix now
                    with open(self._log, "a") as f:
                        f.write(json.dumps({"step": index, "users": users, "variant": variant,
                                            "t": time.time(),
                                            "scheduled_end": time.time() + (end - elapsed)})
                                + "\n")
                return users, self.spawn_rate
        return None
