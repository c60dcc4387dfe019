"""Results: the store of tidy rows with their metadata (``store``), the machine they were
measured on (``machine``), and the reference run as a source of rows (``reference``).

Notebooks use ``results.saver``, ``results.load`` and the rest of the store from here."""

from scalelab.results.store import (NAME_RE, ResultWriter, check_writable, consistency, done,
                                    finished, keep, list_results, load, load_reference,
                                    reference_meta, result_path, save, saver, session)
from scalelab.results.machine import cpu_model, environment, git_commit

__all__ = ["NAME_RE", "ResultWriter", "check_writable", "consistency", "cpu_model", "done",
           "environment", "finished", "git_commit", "keep", "list_results", "load",
           "load_reference", "reference_meta", "result_path", "save", "saver", "session"]
