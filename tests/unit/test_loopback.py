"""The loopback rule holds for every generator and client of the lab: each refuses an address
off this machine, naming the parameter, before it sends anything.

Every call runs in a child process inside an empty network namespace (``unshare -n``), where
no address but its own loopback exists: even if a check were missing, nothing could leave the
machine. No test here names a real server off the machine."""

import json
import shutil
import subprocess
import sys

import pytest

from scalelab.plumbing.loopback import check_url

OFF = "http://10.255.255.1:8000/x"             # no route to it inside the empty namespace
HIDDEN = "http://127.0.0.1@10.255.255.1:8000/x"  # loopback as the user part; the host is not
HERE = "http://127.0.0.1:9/"                     # a target on this machine (nothing listens)

# each generator and client of the lab, given the URL (and, where it takes one, a loopback
# target beside it, so that the URL parameter itself must be checked)
CALLS = {
    "Locust sweep": "from scalelab import Workload, sweep\n"
                    "sweep(URL, Workload('home'), users=[1], duration=1, warmup=0)",
    "Locust compare": "from scalelab import Workload, compare\n"
                      "compare(URL, {'a': Workload('home')}, users=1, duration=1, warmup=0)",
    "wrk point": "from scalelab.load import wrk\nwrk.point(HERE, URL, duration=1, warmup=0)",
    "wrk compare": "from scalelab.load import wrk\nwrk.compare(HERE, {'a': URL}, duration=1, warmup=0)",
    "wrk background": "from scalelab.load import wrk\nfrom scalelab.plumbing.cpus import default_layout\n"
                      "wrk.background(URL, 1, 1, default_layout(), 'x.log').__enter__()",
    "open load point": "from scalelab.load import open_rate\n"
                       "open_rate.point(HERE, URL, rate=1, duration=1, warmup=0)",
    "open load sweep": "from scalelab.load import open_rate\n"
                       "open_rate.sweep(HERE, URL, [1], duration=1, warmup=0)",
    "open load process": "from scalelab.load import open_rate\n"
                         "open_rate.main(['--url', URL, '--rate', '1', '--seconds', '1', "
                         "'--out', '/dev/null'])",
    "the lab's HTTP client": "from scalelab.plumbing import http\nhttp.get(URL)",
    "clients while a server fails": "from scalelab.load import under_failure\n"
                                    "under_failure.run(URL, lambda k, n: ('GET', '/'), "
                                    "lambda out: None, clients=1, seconds=1, cpus=[0])",
    "the page-load emulator": "from scalelab.experiments.static import Browser\nBrowser(URL)",
}

CHILD = """
import json, sys
from scalelab.plumbing import processes
processes.refuse_spawning("a test of the loopback rule starts nothing")
URL, HERE, calls, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), {}
for name, code in calls.items():
    try:
        exec(code, {"URL": URL, "HERE": HERE})
        out[name] = "sent"
    except (ValueError, SystemExit) as exc:
        out[name] = f"refused: {exc}"
    except BaseException as exc:
        out[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


def _in_empty_namespace(url: str) -> dict[str, str]:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to run these calls without a network")
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", CHILD, url, HERE,
                           json.dumps(CALLS)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0 and "unshare" in done.stderr:
        pytest.skip(f"no empty network namespace here: {done.stderr.strip()[-200:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module", params=[OFF, HIDDEN], ids=["off the machine", "hidden host"])
def outcomes(request):
    return request.param, _in_empty_namespace(request.param)


@pytest.mark.parametrize("call", CALLS)
def test_every_generator_and_client_refuses_an_address_off_this_machine(outcomes, call):
    url, out = outcomes
    assert out[call].startswith("refused:") and "is not on this machine" in out[call], out[call]
    assert repr(url) in out[call], "the refusal names the URL it refused"


def test_the_one_check_names_the_parameter_and_follows_the_real_host():
    with pytest.raises(ValueError, match=r"^url 'http://127.0.0.1@10.0.0.1/' is not on this"):
        check_url("http://127.0.0.1@10.0.0.1/", "url")
    with pytest.raises(ValueError, match="base_url must be an http"):
        check_url("ftp://127.0.0.1/", "base_url")
    assert check_url("http://[::1]:8000/", "url") == "http://[::1]:8000"
