"""The scale model's hosts, without a server: where the CPU controller is found (or why not),
what a host and a layout of hosts may be, and how a process joins its host."""

import os
import subprocess

import psutil
import pytest

from scalelab import Stack
from scalelab.plumbing import hosts
from scalelab.plumbing.cpus import CpuLayout
from scalelab.plumbing.hosts import Host
from polling import eventually


def _mounts(tmp_path, *lines):
    path = tmp_path / "mounts"
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_the_cpu_controller_of_cgroup_v1_is_found(tmp_path):
    cpu = tmp_path / "cpu"
    cpu.mkdir()
    found, reason = hosts.find_controller(_mounts(
        tmp_path, "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0",
        f"cgroup {cpu} cgroup rw,relatime,cpu 0 0"))
    assert found == hosts.Controller(1, cpu) and "cgroup v1" in reason


def test_cgroup_v2_without_the_cpu_controller_is_refused_with_the_reason(tmp_path):
    v2 = tmp_path / "unified"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("memory pids\n")
    found, reason = hosts.find_controller(_mounts(tmp_path, f"cgroup2 {v2} cgroup2 rw 0 0"))
    assert found is None and "no cpu controller" in reason


def test_no_cgroup_at_all_is_said_in_one_sentence(tmp_path):
    found, reason = hosts.find_controller(_mounts(tmp_path, "proc /proc proc rw 0 0"))
    assert found is None and reason == "no cgroup hierarchy with a CPU controller is mounted"


@pytest.mark.parametrize("cpus", [0, 1 / 128, -1, True, "0.5", 1000])
def test_a_host_of_no_or_too_much_cpu_is_refused_by_name(cpus):
    with pytest.raises(ValueError, match="cpus must be a number of cores"):
        Host("app1", cpus)


def test_a_host_name_names_a_folder_and_nothing_else():
    with pytest.raises(ValueError, match="name must be"):
        Host("../app", 0.25)


def test_the_quota_is_a_share_of_a_short_period_and_never_below_the_kernels_least():
    assert hosts.PERIOD_US == 10_000
    assert (Host("a", 0.25).quota_us, Host("a", 0.25).period_us) == (2_500, 10_000)
    small = Host("b", 1 / 16)  # 625 µs of 10 ms would be refused: 1 ms of 16 ms
    assert (small.quota_us, small.period_us) == (1_000, 16_000)
    assert small.quota_us / small.period_us == 1 / 16


@pytest.mark.parametrize("version", [1, 2])
def test_the_period_can_be_changed_for_the_same_share_or_the_quota_lifted(tmp_path, version):
    host = hosts.Host("app", 0.25)
    host.path, host._version = tmp_path, version  # a folder standing in for the control group
    host.set_period(100_000)
    if version == 1:
        assert (tmp_path / "cpu.cfs_period_us").read_text() == "100000"
        assert (tmp_path / "cpu.cfs_quota_us").read_text() == "25000"
    else:
        assert (tmp_path / "cpu.max").read_text() == "25000 100000"
    host.set_period(None)
    assert (tmp_path / ("cpu.cfs_quota_us" if version == 1 else "cpu.max")).read_text() \
        in ("-1", "max")
    for bad in (999, 2_000_000, 3_000, True, 10_000.0):  # 3 ms of 1/4 core: a 750-µs quota
        with pytest.raises(ValueError, match="period_us must be"):
            host.set_period(bad)


@pytest.mark.parametrize("layout_hosts,match", [
    (dict(replicas=8, proxy="nginx", hosts={"app": 0.25}), "hosts take 2 cores together"),
    (dict(hosts={"app": 0.5, "db": 0.75}), "hosts take 1.25 cores together"),
    (dict(hosts={"web": 0.5}), "hosts must be a dict of component"),
    (dict(hosts={"app": 0}), "from 1/64")])
def test_a_layout_of_hosts_that_oversubscribes_or_names_no_component_is_refused(
        layout_hosts, match):
    layout = CpuLayout(server=(1,), generator=(0,))
    with pytest.raises(ValueError, match=match):
        Stack(layout=layout, **layout_hosts)


def test_hosts_cannot_change_by_reconfigure():
    stack = Stack(hosts={"app": 0.25})
    with pytest.raises(ValueError, match="hosts cannot change on a running stack"):
        stack.reconfigure(hosts={"app": 0.5})


def test_a_server_moves_into_its_host_with_its_whole_tree(tmp_path, monkeypatch):
    """Every process of the tree is written, one pid a write, as cgroup v1 wants."""
    written = []
    host = Host("app1", 0.25)
    host.path = tmp_path  # a folder standing in for the control group
    parent = subprocess.Popen(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    try:
        eventually(lambda: len(psutil.Process(parent.pid).children()) == 2)
        monkeypatch.setattr(hosts, "_write_pid", lambda path, pid: written.append(pid))
        moved = host.adopt(parent.pid)
    finally:
        for child in psutil.Process(parent.pid).children():
            child.kill()
        parent.kill()
        parent.wait()
    assert len(moved) == 3 and sorted(written) == moved and parent.pid in moved


def test_the_reaper_removes_the_hosts_of_runs_that_are_gone(tmp_path, monkeypatch):
    root = tmp_path / "cpu"
    for run_id in ("alive", "dead"):
        (root / hosts.ROOT / run_id / "app").mkdir(parents=True)
    monkeypatch.setattr(hosts, "find_controller", lambda: (hosts.Controller(1, root), ""))
    # and no cpuacct hierarchy of this machine's: its real runs (a stack in hosts running
    # meanwhile) would all count as gone
    monkeypatch.setattr(hosts, "find_meter", lambda *a, **k: None)
    assert hosts.remove_stale(lambda run_id: run_id == "alive") == ["dead"]
    assert [p.name for p in (root / hosts.ROOT).iterdir()] == ["alive"]


def test_support_is_reported_in_one_line():
    ok, reason = hosts.support()
    assert isinstance(ok, bool) and reason and "\n" not in reason
    if os.geteuid() == 0 and ok:
        assert "cgroup v" in reason


def test_hosts_that_cannot_be_made_are_refused_before_any_server_starts(monkeypatch):
    monkeypatch.setattr(hosts, "find_controller",
                        lambda mounts=None: (None, "no cgroup hierarchy with a CPU "
                                                   "controller is mounted"))
    with pytest.raises(hosts.HostError, match="cannot be made here: no cgroup hierarchy"):
        Stack(hosts={"app": 0.25}).start()


def test_a_point_whose_host_used_its_quota_is_server_bound_and_names_the_host():
    """The server CPUs mostly idle (a small host cannot fill them), the app's host at its
    quota: the host was the limit. At half its quota, nothing explains the point."""
    from scalelab.measurement.point import derive

    layout = CpuLayout(server=(1,), generator=(0,))
    base = {"requests": 100, "duration_s": 10.0, "req_s": 10.0, "fail_ratio": 0.0}
    cores = {"host_app": 0.25, "host_db": 0.25}
    cpu = {"app": 2.4, "db": 0.3, "cpuset_server": 3.0, "cpuset_generator": 1.0,
           "host_app": 2.4, "host_db": 0.3}
    full = derive(dict(base), cpu, {}, layout, cores)
    assert full["limit"] == "server" and full["busiest_host"] == "app"
    assert full["host_app_util"] == pytest.approx(0.96) and full["host_db_util"] == \
        pytest.approx(0.12)
    half = derive(dict(base), {**cpu, "host_app": 1.25, "app": 1.25}, {}, layout, cores)
    assert half["limit"] == "unexplained" and half["busiest_host_util"] == pytest.approx(0.5)
    plain = derive(dict(base), cpu, {}, layout)
    assert plain["limit"] == "unexplained" and "busiest_host" not in plain


def test_where_no_host_can_be_made_the_scale_model_shows_the_reference_run(monkeypatch, capsys):
    """Said in one line; the rows are the reference run's; nothing starts (a server-free test
    may not spawn); without a writer naming rows, the refusal names the reason."""
    from scalelab import results
    from scalelab.experiments import replicas as rx

    monkeypatch.setattr(hosts, "find_controller",
                        lambda mounts=None: (None, "cgroup v1 needs root"))
    writer = results.ResultWriter("05-app-replicas", "scale-out", mode="quick")
    rows = rx.scale_out(counts=[1, 4], on_point=writer)
    recorded = results.load_reference("05-app-replicas", "scale-out")
    assert len(rows) == len(recorded) and set(rows.app_hosts) == set(recorded.app_hosts)
    err = capsys.readouterr().err
    assert "the scale model cannot run here (cgroup v1 needs root)" in err
    assert len(err.strip().splitlines()) == 1 and not writer.rows
    with pytest.raises(hosts.HostError, match="none can be made here: cgroup v1 needs root"):
        rx.calibrate(cores=[0.5])


def test_the_cache_and_scale_out_sentence_follows_where_each_page_is_capped():
    import pandas as pd

    from scalelab.experiments import replicas as rx

    def table(capped_from):
        return pd.DataFrame({"machines": [1, 2, 4, 8, 16],
                             "limited_by": ["app machines" if m < capped_from else "nginx"
                                            for m in [1, 2, 4, 8, 16]]})

    assert "at fewer machines" in rx.cache_and_scale_out(table(16), table(8))
    assert "let more app machines help" in rx.cache_and_scale_out(table(8), table(99))
    assert "same number" in rx.cache_and_scale_out(table(8), table(8))


def test_the_database_cap_solution_says_n_and_what_the_projection_caps_first():
    from scalelab.experiments import replicas as rx

    costs = {"app": 12.0, "db": 3.0, "proxy": 0.5, "cache": 0.0}
    text = rx.db_cap_solution(costs, rx.project(costs, [1, 2, 4, 8]))
    assert "1000 ÷ 3.00 = 333 requests/s" in text and "N = 12.0 ÷ 3.00 ≈ **4.0**" in text
    assert "8 machines is the first row limited by the db server" in text
    assert "no row of it is capped" in rx.db_cap_solution(costs, rx.project(costs, [1, 2]))
    # nginx dearer than the database: it caps first
    dear_proxy = {"app": 12.0, "db": 3.0, "proxy": 7.0}
    assert "the proxy server caps it first, from 2 machines on" in \
        rx.db_cap_solution(dear_proxy, rx.project(dear_proxy, [1, 2, 4]))
    assert rx.db_cap_solution({"app": 12.0}, rx.project({"app": 12.0}, [1])).startswith(
        "This run gave no database cost")


def test_the_one_machine_takeaway_says_cores_not_processes_only_when_replicas_added_nothing():
    from scalelab.experiments.replicas import one_machine_takeaway

    same = one_machine_takeaway(1.02, 1)
    assert "served 1.0× the uncached pages of one instance, on 1 shared core" in same
    assert same.endswith("capacity follows cores, not processes.")
    more = one_machine_takeaway(1.4, 2)
    assert "on 2 shared cores: more than sharing the same cores allows" in more
    assert "not processes" not in more
