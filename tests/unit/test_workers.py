"""Worker-count configurations and the USL fit."""

import math

import numpy as np
import pytest

from scalelab import workers


def test_configurations_follow_the_cores_and_name_the_recipes():
    for cores in (1, 2, 4):
        configs = workers.configurations(cores, "full")
        sync = [c.workers for c in configs if c.worker_class == "sync" and c.server == "gunicorn"]
        assert max(sync) == 4 * cores and 2 * cores + 1 in sync
        recipes = {c.recipe: c for c in configs if c.recipe}
        assert recipes["(2 x cores) + 1"].workers == 2 * cores + 1
        assert recipes["cores x 4 threads"].workers == cores and recipes["cores x 4 threads"].threads == 4
        assert any(c.server == "uvicorn" for c in configs)
    with pytest.raises(ValueError, match="cores must be 1 or more"):
        workers.configurations(0)


def test_usl_fit_recovers_known_parameters():
    n = np.array([1, 2, 4, 8, 16, 32], dtype=float)
    x = workers.usl(n, 100.0, 0.05, 0.002)
    fit = workers.fit_usl(n, x)
    assert fit.lam == pytest.approx(100, rel=0.01)
    assert fit.sigma == pytest.approx(0.05, abs=0.005)
    assert fit.kappa == pytest.approx(0.002, abs=0.0005)
    assert fit.peak_n == pytest.approx(math.sqrt(0.95 / 0.002), rel=0.05)


def test_usl_fit_of_linear_scaling_has_no_peak():
    n = np.array([1, 2, 3, 4], dtype=float)
    fit = workers.fit_usl(n, 20 * n)
    assert fit.kappa == pytest.approx(0, abs=1e-6) and math.isinf(fit.peak_n)


def test_usl_needs_three_worker_counts():
    with pytest.raises(ValueError, match="at least 3 distinct"):
        workers.fit_usl([1, 2, 2], [1, 2, 2])
