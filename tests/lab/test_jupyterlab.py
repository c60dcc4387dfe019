"""JupyterLab as a student uses it, in a real headless browser: open 00, run all cells, save,
reopen, follow a link; run 02, interrupt it mid-measurement, run its stack's cell again,
restart the kernel; 09's sliders after a reopen. Nothing may be left behind."""

import json
import shutil
import time

import nbformat
import pytest

from lab_driver import (CLOSE_ALL, EXECUTE, KERNEL_NAME, KERNEL_STATE, RENDERED_OUTPUTS, RESTART,
                        RUN_ALL, SAVE, UNFINISHED_CELLS, Lab)
from polling import eventually
from scalelab import results
from scalelab.plumbing import paths, runs
from scalelab.publishing import notebook

NOTEBOOK = "00-start-here.ipynb"
STUDENT_02 = "02-caching.ipynb"
SLIDERS = "() => document.querySelectorAll('.widget-slider').length"
# code run in the kernel without waiting for it: what it prints (and an error's name) lands in
# RUN_OUTPUT once it has ended, null before
START = """(code) => { window.scalelabRun = null; let out = '';
  const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  const future = kernel.requestExecute({code});
  future.onIOPub = (msg) => { const c = msg.content;
    if (c.text) out += c.text;
    if (msg.header.msg_type === 'error') out += c.ename + ': ' + c.evalue + ' (Traceback)'; };
  const end = () => { window.scalelabRun = out; };
  future.done.then(end, end);
  return true; }"""
RUN_OUTPUT = "() => window.scalelabRun"
INTERRUPT = "() => window.jupyterapp.commands.execute('notebook:interrupt-kernel')"
OPEN_PATH = """() => { const w = window.jupyterapp.shell.currentWidget;
  return w && w.context ? w.context.path : null; }"""
pytestmark = [pytest.mark.browser, pytest.mark.servers]


def _wait(page, js, until, timeout, what):
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        value = page.evaluate(js)
        if until(value):
            return value
        time.sleep(0.5)
    raise TimeoutError(f"{what}: still {value!r} after {timeout} s")


def _open(page, lab, name):
    """``name`` alone in the lab (``reset``: not with the tabs an earlier test left open)."""
    page.goto(f"{lab.url}/lab/tree/{name}?reset&token={lab.token}")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext",
                           timeout=60_000)
    _wait(page, KERNEL_STATE, lambda s: s == "idle", 60, "the kernel to be idle")


def _run_all(page, timeout):
    """Run > Run All Cells, as the menu does; back once every cell ran and the kernel idles."""
    page.evaluate(RUN_ALL)
    _wait(page, UNFINISHED_CELLS, lambda n: n == 0, timeout, "cells still to run")
    _wait(page, KERNEL_STATE, lambda s: s == "idle", 60, "the kernel to be idle")


def _servers_of_ours():
    return [p for p in runs.ours() if p.name() in ("postgres", "gunicorn", "redis-server")]


def _generators_of_ours():
    return [p for p in runs.ours()
            if p.name() == "wrk" or "locust" in " ".join(p.cmdline())]


@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """One JupyterLab for a student's runs on real servers (00, then 02): the project's layout
    (``notebooks/`` beside ``docs/``, which the notebooks link to), results in a folder of their
    own, and the suite's shorter windows, as papermill's runs have them; set before the lab
    starts, since its kernels inherit its environment."""
    root = tmp_path_factory.mktemp("student")
    (root / "notebooks").mkdir()
    for name in (NOTEBOOK, STUDENT_02):
        shutil.copy(paths.PROJECT_ROOT / "notebooks" / name, root / "notebooks" / name)
    shutil.copytree(paths.PROJECT_ROOT / "docs", root / "docs")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SCALELAB_RESULTS_DIR", str(root / "results"))  # the kernels' and ours
        env.setenv(notebook.SUITE, "1")
        with Lab(root, root / "jupyterlab.log") as lab:
            yield lab, root


def _saved_with_outputs(path):
    """The saved notebook once it holds more than five code cells with outputs, else None."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # being written
        return None
    return nb if sum(bool(c.get("outputs")) for c in nb.cells if c.cell_type == "code") > 5 \
        else None


def test_a_student_runs_00_saves_it_reopens_it_and_follows_a_link(student_lab, browser):
    """Also 00's quick-mode run of the suite, its windows shortened as the suite's are
    (``run_in_jupyterlab`` in conftest.py): every
    cell runs without an error and its results are saved, marked quick. (Running a stack's
    cell again and restarting the kernel: 02's test, with servers running.)"""
    lab, root = student_lab
    results_dir = root / "results"
    console_errors = []
    page = browser.new_page()
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else 0)
    _open(page, lab, f"notebooks/{NOTEBOOK}")
    assert page.evaluate(KERNEL_NAME) == "scalelab"
    assert "Jupyter news" not in page.inner_text("body"), "the news pop-up is on"

    _run_all(page, 240)  # then save, close, reopen
    page.evaluate(SAVE)
    saved = eventually(lambda: _saved_with_outputs(root / "notebooks" / NOTEBOOK), timeout=30,
                       what="the saved notebook to hold the outputs")
    errors = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, errors[0]
    assert saved.metadata.kernelspec.name == "scalelab"
    metas = [m for m in results_dir.glob("00-start-here/*.json")
             if not m.name.startswith("timing-")]
    assert metas and any(results_dir.glob("00-start-here/*.csv")), "00 saved its results"
    assert all(json.loads(m.read_text())["mode"] == "quick" for m in metas)
    assert sum(bool(c.get("outputs")) for c in saved.cells if c.cell_type == "code") > 5
    page.evaluate(CLOSE_ALL)
    _open(page, lab, f"notebooks/{NOTEBOOK}")
    _wait(page, RENDERED_OUTPUTS, lambda n: n > 5, 30, "the saved outputs to render")
    text = page.inner_text("body")
    assert "Error displaying widget" not in text and "model not found" not in text
    assert not [e for e in console_errors if "model not found" in e.lower()]

    # a link to the glossary, followed as a student clicks it, opens the glossary
    page.locator(".jp-RenderedMarkdown a[href*='glossary.md']").first.click()
    _wait(page, OPEN_PATH, lambda p: bool(p) and p.endswith("docs/glossary.md"), 30,
          "the glossary to open")
    assert not runs.ours(), "00's last cell stops its stack"
    page.close()


def test_a_student_runs_02_interrupts_a_measurement_reruns_its_stack_and_restarts(
        student_lab, browser):
    """Also 02's quick-mode run of the suite, its windows shortened as the suite's are
    (``run_in_jupyterlab``): Run All, every cell without an error, and its saved rows checked
    as papermill's run's are (``saved_rows``). Then what a student does next: the stack's cell
    and a measuring cell run again, and Kernel > Interrupt once its load runs: the kernel is
    idle again within seconds, the cell says what was kept and that the stack still runs (not
    a traceback through the harness), and no load generator is left; the stack's cell run
    once more replaces the stack; a restart takes every server along."""
    import sys

    sys.path.insert(0, str(paths.PROJECT_ROOT / "tests" / "notebooks"))
    from saved_rows import CHECKS

    name = "02-caching"
    lab, root = student_lab
    cells = nbformat.read(paths.PROJECT_ROOT / "notebooks" / f"{name}.ipynb", as_version=4).cells
    source = lambda start: next(c.source for c in cells  # noqa: E731
                                if c.cell_type == "code" and c.source.startswith(start))
    page = browser.new_page()
    _open(page, lab, f"notebooks/{name}.ipynb")
    _run_all(page, 300)
    page.evaluate(SAVE)
    saved = eventually(lambda: _saved_with_outputs(root / "notebooks" / f"{name}.ipynb"),
                       timeout=30, what="the saved notebook to hold the outputs")
    errors = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert not errors, errors[0]
    CHECKS[name](lambda result: results.load(name, result)[0])

    page.evaluate(EXECUTE, source("stack = Stack("))
    page.evaluate(START, source("ttl = compare("))
    eventually(_generators_of_ours, timeout=60, interval=0.3,
               what="the measurement to start")
    asked = time.time()
    page.evaluate(INTERRUPT)
    said = _wait(page, RUN_OUTPUT, lambda out: out is not None, 30, "the cell to end")
    handled = time.time() - asked
    assert "Interrupted." in said and "still run" in said, said
    assert "Traceback" not in said and "scalelab/" not in said, said
    assert handled < 10, f"the interrupt took {handled:.1f} s"
    eventually(lambda: not _generators_of_ours(), timeout=10, interval=0.3,
               what="the load generator to stop")
    first = {p.pid for p in _servers_of_ours()}
    page.evaluate(EXECUTE, source("stack = Stack("))
    page.evaluate(EXECUTE, "assert len(Stack.running()) == 1, Stack.running()")
    left = {p.pid for p in _servers_of_ours()}
    assert first and left and not (first & left), "the first stack's servers must be gone"
    page.evaluate(RESTART)
    eventually(lambda: not runs.ours(), timeout=30, interval=0.5,
               what="every server to stop")
    page.close()


@pytest.mark.unmeasured  # reference mode: no server; the lab and a kernel beside the site build
def test_09s_sliders_show_as_saved_after_a_restart_and_a_reopen(tmp_path, browser):
    """09 in reference mode (the reference run's rows, no server, seconds): its sliders live
    in the kernel; saved, the kernel restarted and the notebook reopened, they show as they
    were saved (the lab saves widget state), not as "model not found"."""
    name = "09-capacity-planning.ipynb"
    (tmp_path / "notebooks").mkdir()
    nb = nbformat.read(paths.PROJECT_ROOT / "notebooks" / name, as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = 'MODE = "reference"'
    nbformat.write(nb, tmp_path / "notebooks" / name)
    with Lab(tmp_path, tmp_path / "jupyterlab.log") as lab:
        page = browser.new_page()
        _open(page, lab, f"notebooks/{name}")
        _run_all(page, 180)
        _wait(page, SLIDERS, lambda n: n >= 3, 30, "the sliders to show")
        page.evaluate(SAVE)
        saved = eventually(lambda: _saved_with_outputs(tmp_path / "notebooks" / name),
                           timeout=30, what="the saved notebook to hold the outputs")
        assert "application/vnd.jupyter.widget-state+json" in saved.metadata.get("widgets", {})
        page.evaluate(RESTART)
        _wait(page, KERNEL_STATE, lambda s: s == "idle", 60, "the restarted kernel")
        page.evaluate(CLOSE_ALL)
        _open(page, lab, f"notebooks/{name}")
        _wait(page, RENDERED_OUTPUTS, lambda n: n > 5, 30, "the saved outputs to render")
        _wait(page, SLIDERS, lambda n: n >= 3, 30, "the saved sliders to show")
        text = page.inner_text("body")
        assert "model not found" not in text and "Error displaying widget" not in text
        page.close()
