"""Floor 1, plumbing: paths, processes and the reaper, run folders, binaries, interpreters, CPU
sets, the hosts of the scale model (CPU quotas), the loopback rule. Nothing here knows about notebooks or reference mode; what a floor
above wants changed (another results folder, a fixed layout, no new processes) it sets
through a function here."""
