"""What a host's quota costs per request: the uncached home page from one app server in a host
of q cores, its quota enforced in 10-ms periods, in 100-ms periods (Kubernetes' default), and
lifted (the app alone on the server CPU), in turn within each repeat. A benchmark, not a test.

Prints each window's requests/s, the host's CPU time (the kernel's count) and CPU-ms per
request, then per repeat each quota's CPU per request ÷ the unthrottled one's, with medians.
``--ballast C`` runs a busy loop in a host of C cores beside it on the server CPU, so the
unthrottled app is interrupted by a neighbour as a throttled one is by its quota.

Why it exists: 05's calibration finds hosts serving 0.61 to 0.96 of q times a whole core's
capacity, each using its whole quota: a request costs more CPU in a host. This measures how
much of that the period explains (usage: .venv/bin/python scripts/host_period.py --repeats 6).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

PERIODS = {"10 ms": 10_000, "100 ms": 100_000, "no quota": None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=float, default=0.25, help="the host's size (0.25)")
    parser.add_argument("--seconds", type=int, default=5, help="each window (5 s)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (3)")
    parser.add_argument("--ballast", type=float, default=0.0,
                        help="cores of a busy neighbour on the server CPU (0: none)")
    args = parser.parse_args()
    os.environ.setdefault("SCALELAB_RESULTS_DIR", tempfile.mkdtemp(prefix="host-period-"))
    from scalelab import Stack
    from scalelab.load import wrk
    from scalelab.plumbing import hosts
    from scalelab.plumbing.processes import wrap_command

    ratios: dict[str, list[float]] = {k: [] for k in PERIODS if PERIODS[k]}
    with Stack(workers=2, questions=10_000, hosts={"app": args.cores},
               label="host-period") as stack, contextlib.ExitStack() as held:
        lay, host, url = stack.layout, stack.hosts["app"], stack.app_url + "/"
        if args.ballast:
            neighbour = hosts.Host("ballast", args.ballast).create(stack.run.id)
            held.callback(neighbour.remove)
            loop = subprocess.Popen(wrap_command([sys.executable, "-c", "while True: pass"],
                                                 cpus=lay.server, deathsig="SIGKILL"))
            held.callback(lambda: (loop.kill(), loop.wait()))
            neighbour.adopt(loop.pid)
        held.callback(host.set_period, host.period_us)
        with stack.outside_hosts(), wrk.background(url, 4, 2, lay, "warm.log", "warm") as w:
            w.report()
        print(f"{stack.layout.describe()}; a host of {args.cores:g} core"
              + (f", a busy neighbour of {args.ballast:g} core" if args.ballast else ""))
        for repeat in range(args.repeats):
            cost = {}
            for name, period in PERIODS.items():
                host.set_period(period)
                with wrk.background(url, 4, 2, lay, "warm.log", "warm") as w:
                    w.report()
                used0, t0 = host.usage_s(), time.time()
                with wrk.background(url, 4, args.seconds, lay, "window.log", "window") as w:
                    n = w.report()["requests"]
                used, seconds = host.usage_s() - used0, time.time() - t0
                cost[name] = used * 1000 / n if n else float("nan")
                print(f"r{repeat} {name:9s} {n / seconds:7.2f} req/s  {used / seconds:.3f} core  "
                      f"{cost[name]:6.2f} CPU-ms a request", flush=True)
            for name in ratios:
                ratios[name].append(cost[name] / cost["no quota"])
    for name, values in ratios.items():
        print(f"{name} ÷ no quota: median {statistics.median(values):.2f} "
              f"({min(values):.2f} to {max(values):.2f}, {len(values)} repeats)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
