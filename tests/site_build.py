"""Build the exported site as `make export` does, in a process of its own, and write what the
build did to this machine as JSON: each notebook's execution, processes of ours it started,
run folders it made, files of the reference it changed, results it wrote, and whether it moved
out of its folder. ``conftest.py`` starts it when the suite begins, so the build runs while
the server-free tests do, and waits for it before the first test with servers.

    python tests/site_build.py OUT.json

The caller gives it a results folder and a runs folder of its own (``SCALELAB_RESULTS_DIR``,
``SCALELAB_RUNS_DIR``): anything found there afterwards was written by the build."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(out: Path) -> None:
    from scalelab.plumbing import paths, runs
    from scalelab.publishing import site

    local, run_dirs = paths.results_dir(), paths.runs_dir()
    reference = lambda: {str(p): p.stat().st_mtime for p in paths.reference_dir().rglob("*")}  # noqa: E731
    reference_before = reference()
    # its own processes only: tests that run beside the build (``unmeasured``) kill owners on
    # purpose, and their orphans live a moment until their parent-death signal
    own = lambda: runs.ours(include_other_live_owners=False, include_orphans=False)  # noqa: E731
    ours_before = {p.pid for p in own()}
    cwd_before = os.getcwd()
    executed = {}
    index = site.build(progress=lambda msg: print(msg, flush=True),
                       on_executed=lambda res: executed.__setitem__(res["notebook"], res))
    report = {
        "root": str(index.parent),
        "executed": {name: {"executed": str(res["executed"]), "seconds": res["seconds"]}
                     for name, res in executed.items()},
        "new_run_dirs": sorted(str(p) for p in run_dirs.glob("*")) if run_dirs.exists() else [],
        "started": [f"{p.pid} {p.name()}" for p in own() if p.pid not in ours_before],
        "reference_changed": reference() != reference_before,
        "written_locally": sorted(str(p) for p in local.rglob("*")) if local.exists() else [],
        "moved_to": None if os.getcwd() == cwd_before else os.getcwd(),
    }
    paths.atomic_write_text(out, json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
