"""make bench: how fast the lab itself is, on this machine. A benchmark, not a test.

Prints: cold and warm stack start, migrate + seed time for 100k questions, the load
generator's capacity per core, the app's capacity for the uncached home page, and their ratio
(the generator's headroom). Targets: warm start <= 3 s, seed <= 30 s, headroom >= 3x.

Cold measurements use a fresh, temporary state directory (a new PostgreSQL cluster and no
seeded data), removed at the end; the warm start reuses it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100_000,
                        help="data set for the seed benchmark (default 100000)")
    parser.add_argument("--users", type=int, default=16, help="users for the capacity run")
    parser.add_argument("--duration", type=int, default=15, help="seconds of the capacity run")
    args = parser.parse_args()

    base = Path("/var/tmp") if os.geteuid() == 0 else Path(tempfile.gettempdir())
    state = Path(tempfile.mkdtemp(prefix="scalelab-bench-", dir=base))
    state.chmod(0o755)
    os.environ["SCALELAB_STATE_DIR"] = str(state)
    os.environ.setdefault("SCALELAB_PROGRESS", "1")

    from scalelab import Stack, Workload, run
    from scalelab.publishing.notebook import fmt
    from scalelab.experiments.baseline import generator_capacity

    rows = []

    def report(what, value, unit, target=""):
        rows.append((what, value, unit, target))
        print(f"{what:<44} {value:>10} {unit:<8} {target}", flush=True)

    try:
        t = time.perf_counter()
        with Stack(workers=1, questions=1000, label="bench") as stack:
            cold = time.perf_counter() - t
        report("cold stack start (initdb, migrate, seed 1k)", fmt(cold, 3), "s")
        t = time.perf_counter()
        with Stack(workers=1, questions=1000, label="bench") as stack:
            warm = time.perf_counter() - t
        report("warm stack start", fmt(warm, 3), "s", "target <= 3 s: "
               + ("met" if warm <= 3 else "NOT met"))

        with Stack(workers=1, questions=args.questions, label="bench") as stack:
            seed = stack.timings["seed_s"]
            report(f"migrate + seed {args.questions:,} questions", fmt(seed, 3), "s",
                   "target <= 30 s: " + ("met" if seed <= 30 else "NOT met"))
            point = run(stack, Workload("home"), users=args.users, duration=args.duration,
                        warmup=5).iloc[0]
            n_gen, n_server = len(stack.layout.generator), len(stack.layout.server)
        gen_capacity = generator_capacity(point.generator_cpu_ms_per_req, 1)
        app_capacity = 1000 * n_server / point.cpu_ms_per_req_server
        report("generator CPU per request (FastHttpUser)", fmt(point.generator_cpu_ms_per_req),
               "ms")
        report("Locust capacity per generator core", fmt(gen_capacity, 3), "req/s")
        report(f"app capacity, uncached home ({n_server} server CPU)", fmt(app_capacity, 3),
               "req/s", f"measured {fmt(point.req_s, 3)} req/s at {args.users} users")
        headroom = generator_capacity(point.generator_cpu_ms_per_req, n_gen) / app_capacity
        report("generator headroom", fmt(headroom), "x", "target >= 3x: "
               + ("met" if headroom >= 3 else "NOT met: use processes= or more generator CPUs"))
        if point.generator_saturated:
            print("note: the generator was saturated during the capacity run", flush=True)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
