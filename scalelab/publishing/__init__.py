"""Floor 8, publishing: executing notebooks, reference mode, the exported site, the ledger, the
helpers notebooks call, and the command line."""
