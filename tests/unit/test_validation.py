"""Bad input gets a clear error naming the parameter and what is allowed."""

import pytest

from scalelab import Stack, Workload, sweep
from scalelab.plumbing.cpus import CpuLayout, parse_cpus
from scalelab.load import check_url
from scalelab.publishing.notebook import settings
from scalelab.results import result_path


@pytest.mark.parametrize("kwargs, message", [
    ({"workers": 0}, "workers must be a whole number from 1 to 64"),
    ({"workers": "2"}, "workers must be"),
    ({"threads": 100}, "threads must be"),
    ({"cache": "varnish"}, "cache must be one of none, locmem, redis"),
    ({"server": "waitress"}, "server must be one of gunicorn, uvicorn"),
    ({"worker_class": "gevent"}, "worker_class must be one of sync, gthread"),
    ({"session": "cache"}, "needs a cache"),
    ({"db_pool": True}, "db_pool=True needs conn_max_age=0"),
    ({"questions": 0}, "questions must be a whole number"),
    ({"server": "uvicorn", "threads": 4}, "apply to gunicorn only"),
])
def test_stack_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Stack(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"mix": {"homepage": 1}}, "unknown page"),
    ({"mix": {}}, "non-empty"),
    ({"mix": {"home": -1}}, "weights must be"),
    ({"think_time": -1}, "think_time must be"),
    ({"think_time": (3, 1)}, "think_time must be"),
    ({"zipf_s": 9}, "zipf_s must be"),
])
def test_workload_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Workload(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"users": []}, "users must be"),
    ({"users": [0]}, "users must be"),
    ({"duration": 0}, "duration must be"),
    ({"duration": 2.5}, "duration must be whole seconds"),
    ({"warmup": -1}, "warmup must be"),
    ({"repeats": 0}, "repeats must be"),
    ({"processes": 0}, "processes must be"),
])
def test_sweep_rejects_bad_parameters_before_starting_anything(kwargs, message):
    args = dict(users=[1], duration=5, warmup=1, repeats=1, processes=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        sweep("http://127.0.0.1:9", Workload(), **args)


def test_remote_targets_need_an_explicit_opt_in(monkeypatch):
    monkeypatch.delenv("SCALELAB_ALLOW_REMOTE_TARGET", raising=False)
    with pytest.raises(ValueError, match="not on this machine"):
        check_url("http://example.com")
    assert check_url("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert check_url("http://localhost:8000") == "http://localhost:8000"
    with pytest.raises(ValueError, match="http"):
        check_url("ftp://127.0.0.1")


def test_cpu_layout_rules():
    with pytest.raises(ValueError, match="CPU numbers"):
        parse_cpus("one")
    with pytest.raises(ValueError, match="not available"):
        parse_cpus("999")
    with pytest.raises(ValueError, match="at least one"):
        CpuLayout(server=(), generator=(0,))


def test_mode_and_verdict_helpers():
    with pytest.raises(ValueError, match="MODE must be one of 'quick', 'full', 'reference'"):
        settings("fast", {"a": 1}, {"a": 2})
    with pytest.raises(ValueError, match="same knobs"):
        settings("quick", {"a": 1}, {"b": 2})
    assert settings("full", {"a": 1}, {"a": 2}).a == 2


def test_result_names_are_checked():
    with pytest.raises(ValueError, match="name must be"):
        result_path("01-baseline", "../escape")
    with pytest.raises(ValueError, match="notebook must be"):
        result_path("", "x")


@pytest.mark.parametrize("pages, message", [
    ({"p": ("DELETE", "/")}, "method GET or POST"),
    ({"p": ("GET", "relative")}, "must start with /"),
    ({"p": ("GET", "http://example.com/")}, "not on this machine"),
])
def test_custom_pages_are_checked(pages, message, monkeypatch):
    monkeypatch.delenv("SCALELAB_ALLOW_REMOTE_TARGET", raising=False)
    with pytest.raises(ValueError, match=message):
        Workload(mix={"p": 1}, pages=pages)


def test_custom_pages_join_the_known_pages():
    wl = Workload(mix={"p": 1, "home": 1}, pages={"p": ("GET", "http://127.0.0.1:8000/c/view/")})
    assert wl.all_pages()["p"] == ("GET", "http://127.0.0.1:8000/c/view/")
    assert "home" in wl.all_pages()


def test_caching_ttls_are_those_the_app_accepts():
    import sys
    from scalelab.plumbing import paths
    from scalelab.experiments import caching

    sys.path.insert(0, str(paths.APP_DIR))
    try:
        import qa.cache_keys as app_caching  # plain constants, no Django settings needed
    finally:
        sys.path.remove(str(paths.APP_DIR))
    assert caching.TTLS == app_caching.TTLS

    class FakeStack:
        app_url = "http://127.0.0.1:8000"
    with pytest.raises(ValueError, match="ttl must be one of"):
        caching.ttl_variants(FakeStack(), [15])
    with pytest.raises(ValueError, match="ttl must be one of"):
        caching.stampede_variants(FakeStack(), ttl=7)


def test_failed_requests_are_reported():
    import pandas as pd
    from scalelab.measurement.point import warn_failures

    with pytest.warns(UserWarning, match="requests failed at 1 point"):
        warn_failures(pd.DataFrame([{"users": 4, "variant": "ttl 15s", "fail_ratio": 1.0},
                                     {"users": 4, "variant": "ok", "fail_ratio": 0.0}]))


@pytest.mark.parametrize("pages, message", [
    ({"p": ("GET", "http://127.0.0.1{tag}@otherhost:8000/health/")}, "host part"),
    ({"p": ("GET", "http://user@127.0.0.1:8000/")}, "host part"),
    ({"p": ("GET", "http://10.0.0.1:8000/q/{qid}/")}, "not on this machine"),
    ({"p": ("GET", "/q/{foo}/")}, "unknown field"),
    ({"p": ("GET", "/q/{qid/")}, "not a valid template"),
])
def test_page_urls_are_checked_as_they_will_be_sent(pages, message):
    from scalelab.load import Workload

    with pytest.raises(ValueError, match=message):
        Workload("w", mix={"p": 1}, pages=pages)


def test_a_loopback_page_with_a_templated_path_is_accepted():
    from scalelab.load import Workload

    Workload("w", mix={"p": 1}, pages={"p": ("GET", "http://127.0.0.1:8000/q/{qid}/")})


@pytest.mark.parametrize("kwargs", [
    dict(mix={"home": float("nan")}), dict(mix={"home": float("inf")}),
    dict(mix={"home": True}), dict(think_time=True), dict(think_time="1"),
    dict(think_time=(1, "2")), dict(zipf_s=True), dict(zipf_s="1"), dict(pages=[("GET", "/")]),
])
def test_silent_workload_mistakes_are_refused_naming_the_parameter(kwargs):
    from scalelab.load import Workload

    with pytest.raises(ValueError, match=next(iter(kwargs)) if "mix" not in kwargs else "mix"):
        Workload("w", **kwargs)


def test_down_never_signals_a_process_that_is_not_the_stacks_owner(tmp_path, monkeypatch):
    import json
    import subprocess
    import sys

    from scalelab.publishing import cli

    monkeypatch.setenv("SCALELAB_STATE_DIR", str(tmp_path))
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        up = cli._up_file()
        up.parent.mkdir(parents=True, exist_ok=True)
        # a stale file (e.g. from before a reboot) whose pid now belongs to someone else
        up.write_text(json.dumps({"pid": bystander.pid, "owner": f"{bystander.pid}:1",
                                  "url": "http://127.0.0.1:1"}))
        assert cli.cmd_down(None) == 0
        assert bystander.poll() is None, "down signalled a process that is not ours"
        assert not up.exists(), "the stale file is removed"
    finally:
        bystander.kill()
        bystander.wait()


def test_down_signals_the_owner_in_the_token_and_refuses_a_file_that_is_no_state(
        tmp_path, monkeypatch):
    import json
    import subprocess
    import sys

    from scalelab.plumbing.runs import owner_token
    from scalelab.publishing import cli

    monkeypatch.setenv("SCALELAB_STATE_DIR", str(tmp_path))
    up = cli._up_file()
    up.parent.mkdir(parents=True, exist_ok=True)
    up.write_text("[1, 2]")  # valid JSON, not a stack's state
    assert cli.cmd_down(None) == 0 and not up.exists()
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        token = owner_token(owner.pid)
        # the file's "pid" names someone else; the owner token names the stack's owner
        up.write_text(json.dumps({"pid": bystander.pid, "owner": token}))
        assert cli.cmd_down(None) == 0
        assert owner.wait(timeout=30) is not None, "the owner in the token was stopped"
        assert bystander.poll() is None, "the pid beside the token was left alone"
    finally:
        for proc in (owner, bystander):
            proc.kill()
            proc.wait()


def test_the_generated_secret_key_is_readable_by_its_owner_only(tmp_path):
    import os
    import subprocess
    import sys

    from scalelab.plumbing import paths

    key = tmp_path / "secret"
    env = {**os.environ, "QA_SECRET_KEY_FILE": str(key), "DJANGO_SETTINGS_MODULE": "qa_site.settings"}
    env.pop("QA_SECRET_KEY", None)
    subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, check=True,
                   cwd=paths.APP_DIR)
    assert key.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("kwargs, message", [
    (dict(questions=True), "questions must be"), (dict(seed=False), "seed must be"),
    (dict(db_pool="no", conn_max_age=0), "db_pool must be True or False"),
    (dict(upstream=1), "upstream must be True or False"),
    (dict(cache="redis", cache_middleware="yes"), "cache_middleware must be True or False"),
    (dict(pg_settings=["work_mem"]), "pg_settings must be a dict"),
    (dict(label=""), "label must be"), (dict(layout="0,1"), "layout must be a CpuLayout"),
])
def test_stack_parameters_of_the_wrong_type_are_refused_by_name(kwargs, message):
    from scalelab import Stack

    with pytest.raises(ValueError, match=message):
        Stack(**kwargs)


def test_every_binary_is_checked_before_any_server_starts(monkeypatch):
    from scalelab import Stack
    from scalelab.plumbing import binaries

    real = binaries.find
    monkeypatch.setattr(binaries, "find", lambda name, environ=None: (
        binaries.Found(binaries.SERVERS[name]) if name in ("nginx", "redis") else real(name)))
    stack = Stack(cache="redis", proxy="nginx")
    with pytest.raises(binaries.MissingBinary) as err:
        stack.start()
    assert "nginx" in str(err.value) and "redis" in str(err.value)
    assert stack.run is None and not stack.services, "nothing may start"


def test_reproduce_checks_every_name_before_running_any(monkeypatch, capsys):
    from scalelab.publishing import cli, execution

    ran = []
    monkeypatch.setattr(execution, "execute", lambda name, **kw: ran.append(name))
    assert cli.main(["reproduce", "00", "99"]) != 0
    assert ran == [] and "notebook '99' not found" in capsys.readouterr().err


def test_an_unwritable_runs_folder_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch, capsys):
    from scalelab.publishing import cli

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SCALELAB_RUNS_DIR", str(blocker / "runs"))
    monkeypatch.setenv("SCALELAB_STATE_DIR", str(tmp_path / "state"))
    assert cli.main(["up"]) == 2
    err = capsys.readouterr().err
    assert "runs folder" in err and "SCALELAB_RUNS_DIR" in err and "Traceback" not in err


def test_the_reaper_removes_what_a_killed_run_left_in_the_state_folder(tmp_path, monkeypatch):
    import json

    from scalelab.plumbing import runs

    monkeypatch.setenv("SCALELAB_STATE_DIR", str(tmp_path))
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "dead-run.json").write_text(json.dumps({"owner": "1:1"}))
    (tmp_path / "nginx" / "dead-run" / "cache").mkdir(parents=True)
    runs.reap_stale()
    assert not (tmp_path / "nginx" / "dead-run").exists()
    assert not (tmp_path / "runs" / "dead-run.json").exists()


@pytest.mark.parametrize("call, message", [
    (lambda: __import__("scalelab").sweep("http://127.0.0.1:1", "home"), "workload must be a Workload"),
    (lambda: __import__("scalelab").sweep("http://127.0.0.1:1", users=8), "users must be a list"),
    (lambda: __import__("scalelab").sweep(5), "target must be a Stack"),
    (lambda: __import__("scalelab").run("http://127.0.0.1:1", questions="10"), "questions must be"),
    (lambda: __import__("scalelab").Workload(5), "name must be"),
])
def test_wrong_types_are_refused_naming_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_wrk_connections_per_variant_must_name_every_variant():
    from scalelab.load import wrk

    with pytest.raises(ValueError, match="connections as a dict must name every variant"):
        wrk.compare("http://127.0.0.1:9", {"a": "http://127.0.0.1:9/a", "b": "http://127.0.0.1:9/b"},
                    connections={"a": 4})


def test_reference_mode_without_a_reference_says_so_before_any_kernel_starts(tmp_path,
                                                                           monkeypatch, capsys):
    from scalelab.publishing import cli

    monkeypatch.setenv("SCALELAB_REFERENCE_DIR", str(tmp_path / "none"))
    assert cli.main(["notebook", "01", "--mode", "reference"]) == 2
    err = capsys.readouterr().err
    assert "no reference run in" in err and "make reference" in err
    assert "papermill" not in err and "Traceback" not in err


def test_a_wrk_turn_sends_each_url_with_its_own_method_and_refuses_a_mismatch():
    from scalelab.load import wrk

    urls = ("http://127.0.0.1:9/a", "http://127.0.0.1:9/v/")
    script = wrk.lua_script(urls, method=("GET", "POST"))
    assert 'local methods = {"GET", "POST"}' in script
    assert "wrk.format(methods[i], paths[i])" in script
    assert 'local methods = {"POST", "POST"}' in wrk.lua_script(urls, method="POST")
    for bad in (("GET",), ("GET", "PUT"), 3):
        with pytest.raises(ValueError, match="method"):
            wrk.point("http://127.0.0.1:9", urls, method=bad)
    from scalelab.servers.stack_config import StackConfig

    for bad in (4, -1, 1.5, "2"):
        with pytest.raises(ValueError, match="read_replica must be True, False or a number"):
            StackConfig(read_replica=bad)
    assert StackConfig(read_replica=3).host_cores() == 0
