"""Notebook 08 on real servers: every layer-swapped page shows the same content as the page
as written, the plain WSGI API answers the same JSON, the profiler starts, records and stops
with its run and never outlives it, the minimal middleware and another interpreter serve."""

import json
import re
import urllib.request

import psutil
import pytest

from scalelab import Stack
from scalelab.plumbing import interpreters
from scalelab.measurement import profiler
from scalelab.load import wrk
from scalelab.experiments import time_split as ts
from scalelab.plumbing.runs import Run

pytestmark = pytest.mark.servers

Q = 2_000


@pytest.fixture(scope="module")
def tstack():
    with Stack(questions=Q, workers=2, cache="locmem", label="test-time-split") as s:
        yield s


def get(stack, path):
    with urllib.request.urlopen(stack.app_url + path, timeout=10) as resp:
        return resp.read().decode(), dict(resp.headers)


def content(html):
    """What a visitor reads: titles, authors, counts, tag sets, sidebar; not the render time
    or the order PostgreSQL returned a question's tags in."""
    html = re.sub(r"Rendered [0-9: -]+ UTC", "", re.sub(r"\s+", " ", html))
    return re.sub(r'<div class="tags">(.*?)</div>',
                  lambda m: ",".join(sorted(re.findall(r">([^<]+)</a>", m.group(1)))), html)


def test_every_swapped_page_shows_the_same_content(tstack):
    base, _ = get(tstack, "/")
    assert base.count('class="question-summary"') == 30
    for path in ("/l/home/raw/", "/l/home/jinja/", "/l/home/raw-jinja/"):
        html, headers = get(tstack, path)
        assert content(html) == content(base), path
        assert int(headers["X-DB-Queries"]) <= 3


def test_the_plain_wsgi_api_answers_the_same_json(tstack):
    qid = ts._top_question(tstack)
    django, _ = get(tstack, f"/api/questions/{qid}/")
    bare, headers = get(tstack, f"/bare/api/questions/{qid}/")
    a, b = json.loads(django), json.loads(bare)
    a["tags"].sort(), b["tags"].sort()
    assert a == b and "X-DB-Queries" not in headers, "served without Django"
    with pytest.raises(urllib.error.HTTPError) as err:
        get(tstack, "/bare/api/questions/999999999/")
    assert err.value.code == 404


def test_the_profiler_records_the_workers_and_never_outlives_its_run(tstack):
    run = Run.create("test-profiled-load")
    try:
        load = wrk.start(run, tstack.app_url + "/", 4, 4, tstack.layout, "wrk.log")
        prof = profiler.record(tstack, seconds=2, rate=100)
        load.wait(timeout=30)
    finally:
        run.close()
    # how many samples a window holds depends on how much CPU the workers got: the test asks
    # that samples of the app's own code were recorded, not how many
    assert prof.samples > 0 and prof.seconds == 2
    assert any("gunicorn/" in f or "django/" in f for frames in prof.stacks.frames
               for f in frames)
    assert abs(prof.layer_shares().share.sum() - 1) < 1e-9
    left = [p for p in psutil.process_iter(["name", "cmdline"])
            if "py-spy" in " ".join(p.info["cmdline"] or [])]
    assert not left, "py-spy outlived its recording"


def test_minimal_middleware_serves_the_page_without_sessions(tstack):
    tstack.reconfigure(middleware="minimal")
    try:
        html, headers = get(tstack, "/")
        assert content(html) == content(get(tstack, "/l/home/raw/")[0])
        assert "csrftoken" not in headers.get("Set-Cookie", "")
    finally:
        tstack.reconfigure(middleware="full")


def test_another_interpreter_serves_the_same_page_when_one_is_ready(tstack):
    ready = interpreters.ready()
    if not ready:
        pytest.skip("no other interpreter with the app's venv on this machine")
    base, _ = get(tstack, "/")
    tstack.reconfigure(python=str(ready[0].app_python))
    try:
        assert content(get(tstack, "/")[0]) == content(base)
        app = psutil.Process(tstack.app.pid)
        # its venv's python, or (as root) the runtime copy of that interpreter
        minor = ".".join(ready[0].version.split(".")[:2])
        assert str(ready[0].venv) in " ".join(app.cmdline()) or \
            app.cmdline()[0].endswith(f"/python{minor}")
    finally:
        tstack.reconfigure(python="")


