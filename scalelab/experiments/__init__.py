"""Experiment helpers, one module per notebook, so its cells stay one line each.

- ``baseline``: 01, arithmetic on the baseline sweep (the generator's headroom)
- ``caching``: 02, the caching variants as Workloads, cost per cache operation, stale reads
- ``workers``: 03, worker-count configurations, each measured on its own stack, the USL fit

A new notebook's helpers go in a new module here; the app's variants live in
``benchmark_app/qa/`` and the rules that decide its claims in ``scalelab/rules.py``.
"""
