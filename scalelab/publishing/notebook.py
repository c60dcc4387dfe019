"""Small helpers that keep notebooks to one idea a cell: settings per mode, prose with
computed numbers, and the verdict table."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pandas as pd

from scalelab.plumbing.numbers import figure_text, fmt  # noqa: F401  (notebooks import them here)

MODES = ("quick", "full", "reference")
# The test suite executes every notebook in quick mode with shorter windows: set to "1" by
# tests/notebooks for the kernels it starts (make reproduce's quick mode is never shortened).
SUITE = "SCALELAB_SUITE"


def suite_knobs(quick: dict[str, Any], suite: dict[str, Any] | None = None) -> dict[str, Any]:
    """Quick mode's knobs as the test suite runs them: every measured window (``duration``,
    ``window``, ``*_duration``) of 2 s or more half as long (shorter ones as they are), no
    warm-up, one repeat; then the notebook's own ``suite`` knobs (fewer points of a kind whose
    code path the others still run), each a knob quick mode has.
    Schedules (``crash_at``, ``*_seconds``) stay as they are, so every code path of the
    notebook still runs."""
    suite = dict(suite or {})
    unknown = sorted(set(suite) - set(quick))
    if unknown:
        raise ValueError(f"suite settings must be knobs of quick mode, not {unknown}")
    out = {}
    for key, value in quick.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and value >= 2 and (key in ("duration", "window")
                                      or key.endswith("_duration")):
            value = value // 2 if isinstance(value, int) else value / 2
        elif number and key == "warmup":
            value = 0
        elif number and (key == "repeats" or key.endswith("_repeats")):
            value = 1
        out[key] = value
    out.update(suite)
    return out


def settings(mode: str, quick: dict[str, Any], full: dict[str, Any],
             suite: dict[str, Any] | None = None) -> SimpleNamespace:
    """The experiment's knobs for ``mode``, as attributes. 'quick' and 'full' measure;
    'reference' measures nothing and shows the committed reference run (``scalelab.results.reference``)
    with the knobs it was recorded with. ``suite``: knobs the test suite changes further
    (:func:`suite_knobs`); quick mode itself never sees them."""
    from scalelab.publishing import reference_mode
    from scalelab.results import reference

    if mode not in MODES:
        raise ValueError(f"MODE must be one of {', '.join(map(repr, MODES))}, not {mode!r}")
    if set(quick) != set(full):
        raise ValueError(f"quick and full settings must name the same knobs: "
                         f"{sorted(set(quick) ^ set(full))}")
    reference_mode.activate(mode == "reference")
    _say_interrupts_briefly()
    # a warning reads as a sentence, without the kernel's temporary file and line
    import warnings

    warnings.formatwarning = lambda message, category, *_a, **_k: \
        f"{category.__name__}: {message}\n"
    # tables are read, not scanned: never cut a cell or drop a column
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_rows", 500)
    knobs = quick if (reference.recorded_mode() if mode == "reference" else mode) == "quick" \
        else full
    if mode == "quick" and os.environ.get(SUITE) == "1":
        knobs = suite_knobs(quick, suite)
    return SimpleNamespace(mode=mode, **knobs)


def knobs(S: SimpleNamespace) -> str:
    """The settings of this run, as a sentence for the reader of an exported page."""
    from scalelab.results import reference

    mode = (f"{reference.recorded_mode()} mode, as the reference run was recorded"
            if S.mode == "reference" else f"{S.mode} mode")
    if S.mode == "quick" and os.environ.get(SUITE) == "1":
        mode += ", its windows shortened by the test suite"
    items = [f"`{k}` = {v!r}" for k, v in vars(S).items() if k != "mode"]
    return f"Settings of this run ({mode}): " + ", ".join(items) + "."


def interrupt_message(exc: BaseException) -> str:
    """What an interrupt (or a measurement that could not start, ``StillBusy``) did, in a few
    lines: what happened, which points were saved and where (marked incomplete), what still
    runs."""
    from scalelab.measurement.cpu_sampler import StillBusy
    from scalelab.plumbing import paths
    from scalelab.results import store
    from scalelab.servers.stack import Stack

    live = Stack.running()
    if isinstance(exc, StillBusy):
        head = f"{exc}\n"
    else:
        kept = f" {exc}." if str(exc) else ""
        head = f"Interrupted.{kept}\n"
    saved = [f"{len(w.rows)} point(s) in {paths.relative(w.path)}" for w in store.unfinished()
             if w.path is not None]
    if saved:
        head += ("Saved, marked incomplete until its measurement runs to the end: "
                 + "; ".join(saved) + ".\n")
    return (head + (
        f"{len(live)} stack(s) of this kernel still run ({', '.join(map(repr, live))}): "
        "rerun the cell, or stop them with `Stack.stop_all()` (a kernel restart stops them too)."
        if live else "No stack of this kernel is running."))


def _say_interrupts_briefly() -> None:
    """In a Jupyter kernel, print ``interrupt_message`` instead of a traceback through the
    harness when the user interrupts a cell."""
    from scalelab.plumbing.kernel import kernel_shell

    shell = kernel_shell()
    if shell is None:
        return

    def handler(shell, etype, value, tb, tb_offset=None):
        import sys

        print(interrupt_message(value), file=sys.stderr)
        return []

    from scalelab.measurement.cpu_sampler import StillBusy

    shell.set_custom_exc((KeyboardInterrupt, StillBusy), handler)


def show(markdown: str) -> None:
    """Display Markdown (a sentence whose numbers were computed in the cell)."""
    from IPython.display import Markdown, display

    display(Markdown(markdown))


def bullets(*sentences: str) -> str:
    """Sentences as a Markdown list, for :func:`show`: the takeaways a notebook chooses from
    its data (each from a function of its experiment module)."""
    return "\n".join(f"- {sentence}" for sentence in sentences)


def solution(text: str, number: int | None = None) -> str:
    """A worked solution whose numbers this run computed, as markdown for :func:`show`:
    folded under "Worked solution to N" as the written ones are, so the site folds it and
    the student edition leaves it out (``export.solutions``, applied to a cell's output)."""
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)
                               or number < 1):
        raise ValueError(f"number must be the exercise's number (1 or more), not {number!r}")
    summary = "Worked solution" + (f" to {number}" if number else "")
    return f"<details><summary>{summary}</summary>\n\n{text.strip()}\n</details>"


ANSWER_PENDING = ("**Answer on this machine:** decided from this page's data by the verdict "
                  "cell below, and written here when it runs.")


def answer(notebook: str) -> None:
    """The title's one-line answer, shown under the title: a line that the verdict cell
    (``decide``) replaces with the verdicts it decided from this page's data."""
    from IPython.display import Markdown, display

    display(Markdown(ANSWER_PENDING), display_id=f"scalelab-answer-{notebook}")


def answer_line(decisions) -> str:
    """The one-line answer: each claim and its verdict, as decided."""
    said = "; ".join(f"{d.claim} **{d.label}**" for d in decisions)
    return (f"**Answer on this machine:** {said}. The numbers that decided each, and the "
            "rules, are in the verdict below.")


def figure(notebook: str, claim: str, name: str, rows: pd.DataFrame) -> float:
    """A deciding figure as its verdict computes it: the median over repeats of the figure
    ``name`` of ``claim``'s rule in ``notebook``, from the valid points of ``rows``. Prose
    that quotes a verdict's figure calls this, so a page cannot say the number two ways."""
    from scalelab.verdicts.rules import RULES

    rule = next((r for r in RULES.get(notebook, []) if r.claim == claim), None)
    if rule is None:
        raise ValueError(f"{notebook} has no rule for {claim!r}")
    fig = next((f for f in rule.figures if f.name == name), None)
    if fig is None:
        raise ValueError(f"{claim} has no figure {name!r}; its figures: "
                         f"{[f.name for f in rule.figures]}")
    return fig.estimate(rows).median


def cv_note(cv: float, threshold: float = 0.10) -> str:
    """What a coefficient of variation means for a verdict, in words."""
    if cv != cv:  # NaN: one run
        return "one run only (quick mode): no spread measured, rerun with MODE='full'"
    if cv > threshold:
        return f"spread is large (CV {cv:.0%}): read the verdict with care"
    return f"spread is small (CV {cv:.0%})"


def show_rules(notebook: str) -> None:
    """Show each rule of ``notebook`` (``scalelab.verdicts.rules.RULES``) before any data."""
    from scalelab.verdicts.rules import RULES

    for rule in RULES[notebook]:
        show(rule.markdown())


def decide(notebook: str, rows: dict[str, pd.DataFrame], mode: str) -> pd.DataFrame:
    """Apply each rule of ``notebook`` to its rows (claim id -> rows), save the decisions for
    the README's ledger, and return the verdict table."""
    from scalelab import results
    from scalelab.results import reference
    from scalelab.verdicts.rules import RULES
    from scalelab.verdicts.rule import verdict_table

    rules = RULES[notebook]
    missing = {r.claim for r in rules} - set(rows)
    if missing:
        raise ValueError(f"rows missing for claim(s) {sorted(missing)} of {notebook}")
    if mode == "reference":  # decided again from the recorded rows, compared, not saved
        decisions = [rule.decide(rows[rule.claim], notebook, reference.recorded_mode())
                     for rule in rules]
        show(recorded_verdicts_note(notebook, decisions))
    else:
        decisions = [rule.decide(rows[rule.claim], notebook, mode) for rule in rules]
        results.save(pd.DataFrame([d.as_row() for d in decisions]), notebook, "verdicts",
                     mode=mode)
    table = verdict_table(decisions)
    show(markdown_table(table))
    from IPython.display import Markdown, update_display

    update_display(Markdown(answer_line(decisions)), display_id=f"scalelab-answer-{notebook}")
    return table


def recorded_verdicts_note(notebook: str, decisions) -> str:
    """Reference mode: whether the verdicts decided again here from the recorded rows are the
    ones the reference run saved (they must be: same rows, same rules)."""
    from scalelab import results

    try:
        saved, _ = results.load(notebook, "verdicts")
    except FileNotFoundError:
        return ("**The reference run saved no verdicts for this notebook**: the verdicts below "
                "are decided from its recorded rows only.")
    saved = saved.set_index("claim")["verdict"].to_dict()
    differ = [f"{d.claim}: {d.verdict} here, {saved.get(d.claim, 'none')} recorded"
              for d in decisions if saved.get(d.claim) != d.verdict]
    if differ:
        return ("**These verdicts differ from the ones the reference run saved** ("
                + "; ".join(differ) + "): the rules changed since it was recorded; "
                "`make reference NB=...` records it again.")
    return ("Decided again from the reference run's rows, by the rules above: the same "
            "verdicts the reference run saved.")


def markdown_table(df: pd.DataFrame) -> str:
    """A frame as a Markdown table, never truncated (pandas' display cuts long cells)."""
    cols = [df.index.name or ""] + [str(c) for c in df.columns]
    cell = lambda v: str(v).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + ":---|" * len(cols)]  # left-aligned
    for idx, row in df.iterrows():
        lines.append("| " + " | ".join([cell(idx)] + [cell(v) for v in row]) + " |")
    return "\n".join(lines)


def time_to_run(notebook: str, mode: str) -> str:
    """How long this notebook took in ``mode`` when it was last run by ``make reproduce`` (or
    ``make notebook``) and saved with the results, as a sentence."""
    from scalelab.results import reference
    from scalelab.publishing.execution import measured_time

    if mode == "reference":
        m = reference.machine()
        seconds = measured_time(notebook, m.get("mode", "full"))
        took = ("" if seconds is None else f", which took {seconds / 60:.1f} minutes"
                if seconds >= 120 else f", which took {seconds:.0f} s")
        env = m.get("environment", {})
        return (f"**Reference mode**: this page shows the lab's reference run ({m.get('mode')} "
                f"mode, recorded {m.get('recorded', '?')[:10]} on {env.get('cores', '?')} cores, "
                f"{env.get('cpu_model', '?')}{took}). Nothing is started or measured, so it "
                "runs in seconds; set `MODE = \"quick\"` to measure on this machine.")
    seconds = measured_time(notebook, mode)
    said = (f"No run time measured yet in {mode} mode: `make reproduce` records one."
            if seconds is None else
            f"Time to run in {mode} mode, as last measured with the saved results: "
            f"**{_duration(seconds)}**.")
    full = measured_time(notebook, "full", reference_only=True)
    if mode == "quick" and full is not None:  # what MODE = "full" would cost, measured too
        said += f" Full mode took {_duration(full)} in the reference run."
    return said


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} minutes"
