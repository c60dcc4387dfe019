"""The Universal Scalability Law: X(N) = λN / (1 + σ(N − 1) + κN(N − 1)), and its fit to
measured throughput with standard errors (``fit_usl``)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np


def usl(n, lam, sigma, kappa):
    """X(N) = lambda N / (1 + sigma (N - 1) + kappa N (N - 1))."""
    n = np.asarray(n, dtype=float)
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


@dataclass
class UslFit:
    lam: float
    sigma: float
    kappa: float
    lam_se: float
    sigma_se: float
    kappa_se: float
    peak_n: float          # inf when kappa is 0: no peak within the law
    peak_x: float
    points: int

    def as_dict(self) -> dict:
        return asdict(self)


def fit_usl(n: Sequence[float], x: Sequence[float]) -> UslFit:
    """Fit the USL by least squares (scipy), with standard errors from the covariance.

    sigma (contention) and kappa (coherency) are bounded to [0, 1] and [0, 1]; the peak is at
    N* = sqrt((1 - sigma) / kappa), reported only when kappa is at least 2 standard errors
    from zero (else ``inf``: the data show no peak)."""
    from scipy.optimize import curve_fit

    n = np.asarray(n, dtype=float)
    x = np.asarray(x, dtype=float)
    if len(n) < 3 or len(set(n)) < 3:
        raise ValueError("the USL needs at least 3 distinct worker counts")
    lam0 = float(x[n == n.min()].mean() / n.min())
    params, cov = curve_fit(usl, n, x, p0=[lam0, 0.1, 0.01],
                            bounds=([0, 0, 0], [np.inf, 1, 1]), maxfev=20_000)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(np.diag(cov)) if np.all(np.isfinite(cov)) else np.full(3, math.nan)
    lam, sigma, kappa = (float(p) for p in params)
    # A peak only where kappa is told apart from zero (at least 2 standard errors); sigma near
    # 1 (nothing runs in parallel) puts it at one worker, not below.
    kappa_known = kappa > 1e-9 and not (math.isfinite(se[2]) and kappa < 2 * se[2])
    peak_n = max(1.0, math.sqrt((1 - sigma) / kappa)) if kappa_known else math.inf
    if math.isfinite(peak_n):
        peak_x = float(usl(max(peak_n, 1.0), lam, sigma, kappa))
    else:  # no coherency cost: throughput approaches lambda / sigma, or grows without bound
        peak_x = lam / sigma if sigma > 1e-6 else math.inf
    return UslFit(lam, sigma, kappa, float(se[0]), float(se[1]), float(se[2]), peak_n,
                  peak_x, len(n))
