"""Stacks started at the same time on a fresh state directory each get a cluster of their own."""

import pytest
import os
import shutil
import subprocess
import sys
import tempfile

pytestmark = [pytest.mark.servers, pytest.mark.unmeasured]  # behaviour only

START = """
from scalelab import Stack
with Stack(questions=2000, label="test-concurrent") as stack:
    print(stack.db.cluster, flush=True)
"""


def test_two_stacks_started_at_once_on_a_fresh_state_directory_both_succeed():
    # under /var/tmp: the unprivileged database user must reach it (not a private /tmp folder)
    state = tempfile.mkdtemp(prefix="scalelab-concurrent-", dir="/var/tmp")
    env = {**os.environ, "SCALELAB_STATE_DIR": state}
    try:
        for attempt in range(2):  # the second time, the clusters exist and are reused
            procs = [subprocess.Popen([sys.executable, "-c", START], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                     for _ in range(2)]  # two race as three do: each takes the first free name
            outs = [p.communicate(timeout=240) for p in procs]
            for p, (out, err) in zip(procs, outs):
                assert p.returncode == 0, f"attempt {attempt}: {err[-2000:]}"
            clusters = sorted(out.strip() for out, _ in outs)
            assert len(set(clusters)) == 2, clusters
            assert set(clusters) <= {"main", "main-1", "main-2", "main-3"}
    finally:
        shutil.rmtree(state, ignore_errors=True)
