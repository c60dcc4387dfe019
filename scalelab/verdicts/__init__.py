"""Floor 6, models and verdicts: the arithmetic (queueing, the USL, the capacity model,
projections) and the rules that decide each claim, one module per notebook."""
