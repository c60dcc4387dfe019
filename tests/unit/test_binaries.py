"""Binary lookup order: override, conda env, PATH, Debian's versioned directory."""

import os
import stat

import pytest

from scalelab.plumbing import binaries


def make_exe(directory, *names):
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        p = directory / name
        p.write_text("#!/bin/sh\necho 'fake 9.9.1'\n")
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return directory


def test_override_wins_over_path(tmp_path):
    on_path = make_exe(tmp_path / "path", "redis-server")
    override = make_exe(tmp_path / "mine", "redis-server")
    env = {"PATH": str(on_path), "SCALELAB_REDIS_SERVER": str(override / "redis-server")}
    found = binaries.find("redis", env)
    assert found.ok and found.source == "$SCALELAB_REDIS_SERVER"
    assert found.path() == override / "redis-server"


def test_broken_override_is_not_second_guessed(tmp_path):
    on_path = make_exe(tmp_path / "path", "redis-server")
    env = {"PATH": str(on_path), "SCALELAB_REDIS_SERVER": str(tmp_path / "nope")}
    found = binaries.find("redis", env)
    assert not found.ok
    with pytest.raises(binaries.MissingBinary, match="SCALELAB_REDIS_SERVER"):
        found.path()


def test_conda_env_before_path(tmp_path):
    conda = make_exe(tmp_path / "conda" / "bin", "nginx")
    on_path = make_exe(tmp_path / "path", "nginx")
    env = {"PATH": str(on_path), "CONDA_PREFIX": str(tmp_path / "conda")}
    found = binaries.find("nginx", env)
    assert found.source == "conda env" and found.path() == conda / "nginx"


def test_postgres_needs_all_its_tools_in_one_directory(tmp_path):
    partial = make_exe(tmp_path / "partial", "postgres")  # no initdb: not usable
    full = make_exe(tmp_path / "full", "postgres", "initdb", "pg_basebackup")
    env = {"PATH": os.pathsep.join([str(partial), str(full)])}
    found = binaries.find("postgresql", env)
    assert found.path("initdb") == full / "initdb"


def test_postgres_directory_override(tmp_path):
    d = make_exe(tmp_path / "pg", "postgres", "initdb", "pg_basebackup")
    found = binaries.find("postgresql", {"PATH": "", "SCALELAB_POSTGRES_BIN": str(d)})
    assert found.ok and found.version == "9.9.1"


def test_missing_message_names_the_fix(tmp_path):
    found = binaries.find("memcached", {"PATH": str(tmp_path)})
    if found.ok:  # a system memcached in /usr/bin is still found through the extra sbin dirs
        pytest.skip("memcached is installed system-wide")
    msg = binaries.missing_message([found])
    assert "apt-get install memcached" in msg and "SCALELAB_MEMCACHED" in msg


def test_unknown_server_is_a_clear_error():
    with pytest.raises(ValueError, match="server must be one of"):
        binaries.find("mysql")
