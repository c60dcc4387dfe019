"""Locustfile of the lab. Run by scalelab.load in a subprocess, never imported into a kernel.

Reads its plan from the JSON file named by SCALELAB_PLAN: the page mix, think time, Zipf
exponent and the popularity order of questions and tags, the load steps [[users, seconds],
...] and the output folder. Writes there:

- ``steps.jsonl``: the whole wall-clock second each load step began and ends, with its users
  and page mix, and at last the run's end (from the master/standalone process; a step's mix
  applies to users in that process);
- ``hist-<pid>.jsonl``: for every second and page, the request count, failures, the sum of
  response times and a histogram of them (from every process that sends requests), so
  percentiles can be computed for exactly the measured window.
"""

import bisect
import itertools
import json
import math
import os
import random
import time
from collections import defaultdict
from pathlib import Path

import gevent
from locust import LoadTestShape, between, constant, events, stats, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import MasterRunner

# Locust's history (the cross-check of our own counts) gets a row five times a second, each
# stamped with its whole second; the first row of a second is its count at that second's
# start, so the last window's end is passed soon after it: the run's tail is half a second.
stats.CSV_STATS_INTERVAL_SEC = 0.2
TAIL_S = 0.5

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
    """Hold each [users, seconds] step in turn, then stop.

    Steps begin and end on whole wall-clock seconds, the grain of the per-second histograms
    and of the measured windows: the first tick waits for the next whole second, and the
    tick before a step ends sleeps until its end. So a step of warm-up + duration seconds
    holds a window of exactly ``duration`` whole seconds (Locust ticks once a second at a
    phase of its own, which would otherwise cost each step a spare second). The planned
    times are what ``steps.jsonl`` records; the last step's end is recorded as
    ``{"ended": t}``, and its users are held ``TAIL_S`` more before the run stops."""

    steps = PLAN["steps"]
    spawn_rate = float(PLAN["spawn_rate"])

    def __init__(self):
        super().__init__()
        self._current = None
        self._ends = None  # each step's planned end, whole Unix seconds
        self._log = OUT / "steps.jsonl"

    def _record(self, entry):
        with open(self._log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def _plan(self):
        start = math.ceil(time.time())
        gevent.sleep(max(0.0, start - time.time()))
        self._start = start
        self._ends = [start + math.ceil(end)
                      for end in itertools.accumulate(seconds for _, seconds, _ in self.steps)]

    def tick(self):
        if self._ends is None:
            self._plan()
        now = time.time()
        index = bisect.bisect_right(self._ends, now)
        if index == self._current < len(self._ends) and self._ends[index] - now < 1:
            # the step in force ends before the next tick would come: end it on time (and
            # pass any step that ends in the same second)
            gevent.sleep(self._ends[index] - now)
            index = max(index + 1, bisect.bisect_right(self._ends, time.time()))
        if index >= len(self._ends):
            if self._current is None:
                return None
            if self._current >= len(self._ends):  # the tail: TAIL_S after the last end
                gevent.sleep(max(0.0, self._ends[-1] + TAIL_S - time.time()))
                return None
            # the last step ended: hold its users TAIL_S more, so the last window ends under
            # load like every other (and Locust's history passes its end)
            self._current = len(self._ends)
            self._record({"ended": self._ends[-1]})
            return self.steps[-1][0], self.spawn_rate
        users, _seconds, variant = self.steps[index]
        if index != self._current:
            self._current = index
            CURRENT["mix"] = variant  # users in this process switch page mix now
            started = self._ends[index - 1] if index else self._start
            self._record({"step": index, "users": users, "variant": variant, "t": started,
                          "scheduled_end": self._ends[index]})
        return users, self.spawn_rate
