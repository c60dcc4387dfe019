"""Floor 3, measurement: the CPU sampler, a measured point's columns and figures, what limited
a point, and the profiler."""
