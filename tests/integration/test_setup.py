"""The setup scripts: what is present is left alone; without root, what is missing is named
with the fix."""

import os
import subprocess

from scalelab.plumbing import paths


def _run(env_extra):
    env = dict(os.environ, **env_extra)
    return subprocess.run(["bash", "scripts/setup-servers.sh"], cwd=paths.PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_nothing_missing_means_nothing_done():
    out = _run({})
    assert out.returncode == 0 and out.stdout == "" and out.stderr == ""


def test_without_root_a_missing_server_is_named_with_the_fix(tmp_path):
    out = _run({"SCALELAB_SETUP_AS_ROOT": "0",
                "SCALELAB_REDIS_SERVER": str(tmp_path / "redis-server")})
    assert out.returncode == 1
    assert "these server packages are missing: redis-server" in out.stderr
    assert "conda env create -f environment.yml" in out.stderr
    assert "SCALELAB_REDIS_SERVER" in out.stderr


def test_doctor_exits_non_zero_with_the_fix(tmp_path):
    env = dict(os.environ, SCALELAB_POSTGRES_BIN=str(tmp_path))
    out = subprocess.run([os.path.join(os.path.dirname(os.sys.executable), "scalelab"), "doctor"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "MISSING" in out.stdout and "apt-get install postgresql" in out.stdout
