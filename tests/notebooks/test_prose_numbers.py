"""No number about this lab's data is typed by hand in a notebook's markdown.

Measured numbers reach the prose through code (``show``, ``figure``, ``figure_text``), so a
page cannot say one its data does not. A number left in a markdown cell (``prose_numbers``)
must be one of the notebook's own settings (a number in its code), or be stated below with
what it is: a quote or a citation, a threshold of the method, an example worked from the
settings. A measured number typed into a cell fails here."""

from pathlib import Path

import nbformat
import pytest

from prose_numbers import code_literals, normal, typed_numbers
from scalelab.publishing.catalogue import available

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
THREAD = "the thread's own figure"
EXAMPLE = "an exercise's example, or its solution worked from the settings"
STATED = {
    "00-start-here": {"100,000": THREAD, "80": "the generator's busy threshold (limits)",
                      "100": "the paced generator's pause, ms", "30": EXAMPLE},
    "01-baseline": {"25": "think time, ms (the knob is in seconds)", "75": "the same",
                    "95": "the server-bound threshold (limits)", "120": EXAMPLE},
    "02-caching": {"60": EXAMPLE, "75": EXAMPLE},
    "03-worker-counts": {"160": EXAMPLE, "200": EXAMPLE,
                         "0.2": EXAMPLE, "40": EXAMPLE, "100,000": THREAD},
    "05-app-replicas": {"62.5": "1/16 core in millicores", "403": "an HTTP status",
                        "67": EXAMPLE},
    "06-database-replicas": {"32": "a host of 1/32 core", "31": "1/32 core in millicores",
                             "50": "the lag sampler's period, ms (db_replicas)",
                             "16": "the app servers' workers in the scale model",
                             "0.90": "a saturated host's threshold (limits)"},
    "07-database-design": {"128": "PostgreSQL's default shared buffers, MB"},
    "08-where-the-time-goes": {"30": "questions on the home page (the app's)",
                               "100,000": THREAD},
    "09-capacity-planning": {"20,000": THREAD, "60": "cited (page views; think time, s)",
                             "90": "cited page views; the exercise's hit ratio",
                             "4.3": "a cited peak factor", "1.6": "a cited peak factor",
                             "1.7": "a cited peak factor", "2.4": "a cited peak factor",
                             "7": "a cited think time, s", "86,400": "seconds in a day",
                             "95": EXAMPLE},
    "primer-queueing": {"100": "1 ÷ D of the primer's simulated server, req/s",
                        "25": EXAMPLE, "3.5": EXAMPLE, "95": EXAMPLE, "200": EXAMPLE},
}


@pytest.mark.parametrize("name", list(available()))
def test_no_measured_number_is_typed_in_a_markdown_cell(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    settings = set().union(*(code_literals(c.source) for c in nb.cells if c.cell_type == "code"))
    stated = {normal(n) for n in STATED.get(name, {})}
    typed = [(i, n) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"
             for n in typed_numbers(c.source)
             if normal(n) not in settings and normal(n) not in stated]
    assert not typed, (f"numbers typed by hand in markdown (cell, number): {typed}; compute "
                       "them in a cell, or state here what they are")


def test_the_check_finds_a_typed_measurement_and_passes_what_it_must_not_judge():
    assert typed_numbers("The page served **1,234 req/s** at 97% busy.") == ["1,234", "97"]
    assert typed_numbers('> *"100,000 users a day"* (C3, Experiment 2, 2015), see [05 · '
                         "Replicas](05-app-replicas.ipynb), `wrk -c 64`, on 127.0.0.1") == []
    assert typed_numbers("## References\n- Little, Operations Research 9(3), 383") == []
    assert code_literals("S = dict(questions=10_000, wait_ms=50)") >= {"10000", "50"}


@pytest.mark.parametrize("name", list(available()))
def test_every_number_stated_above_is_still_typed_in_the_notebook(name):
    """An entry left over once its sentence is gone would let the next number typed by hand
    with that value through unseen."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    settings = set().union(*(code_literals(c.source) for c in nb.cells if c.cell_type == "code"))
    typed = {normal(n) for c in nb.cells if c.cell_type == "markdown"
             for n in typed_numbers(c.source)} - settings
    unused = sorted(n for n in STATED.get(name, {}) if normal(n) not in typed)
    assert not unused, f"{name}: stated numbers no markdown cell types any more: {unused}"
