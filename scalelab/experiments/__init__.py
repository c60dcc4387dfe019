"""Experiment helpers, one module per notebook, so its cells stay one line each.

- ``baseline``: 01, arithmetic on the baseline sweep (the generator's headroom)
- ``caching``: 02, the caching variants as Workloads, cost per cache operation, stale reads
- ``workers``: 03, worker-count configurations, each measured on its own stack, the USL fit
- ``static``: 04, who serves the assets, page loads through an emulated link
- ``replicas``: 05, app servers behind nginx, projections, a crash, sessions
- ``db_replicas``: 06, a streaming replica: reads and writes, lag, read-your-writes
- ``db_design``: 07, indexes, N+1, connections, PostgreSQL's settings, four ways to vote
- ``time_split``: 08, CPU by component, a profile, layer swaps, the floor, interpreters
- ``capacity``: 09, the capacity model, the reference costs, scenarios, the open-load check
- ``primer``: the primer's simulated queues

A new notebook's helpers go in a new module here; the app's variants live in
``benchmark_app/qa/`` and the rules that decide its claims in ``scalelab/verdicts/rules/``.
"""
