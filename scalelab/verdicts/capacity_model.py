"""The capacity model: from traffic to load, from load to cores (notebook 09's arithmetic).

Plain functions, each a line of the model, with the thread's numbers and the think-time range
they are read against; tested against hand-computed cases (tests/unit/test_capacity.py, through
``scalelab.experiments.capacity``, which re-exports them for the notebook). 09's rules
(``scalelab.verdicts.rules.capacity``) decide with the same functions:

- traffic to load: daily users × session length ÷ the day = average concurrent users; × a
  peak factor = the peak; users ÷ (think time + response time) = page views a second; plus
  the assets each page view asks for; monthly page views ÷ the seconds of a month, × the peak
  factor, for the cited sites;
- load to cores: requests a second × CPU-seconds per request ÷ the target utilisation (70%:
  headroom, as *High Performance Django* advises), per component, then servers.
"""

from __future__ import annotations

import math

from scalelab.plumbing.checks import check_int

# --- the thread's numbers (docs/claims.md C15 to C17) ------------------------------------
THREAD_DAILY_USERS = 100_000   # "100,000 users daily"
THREAD_SESSION_HOURS = 2.0     # "each visiting the site for a couple of hours"
THREAD_PEAK_USERS = 20_000     # "meaning max of 20K+ concurrent users"
THREAD_SERVERS = 30            # "expect at least 30 servers"
THREAD_USERS_PER_SERVER = 1_000
HITS_A_DAY = 100_000           # C16: "Django can certainly do 100k hits/day and more"
SITES = {  # C17: name -> (what the thread counts, per month)
    "Disqus": ("page views", 8e9),
    "curse.com (low)": ("page views", 60e6),
    "curse.com (high)": ("page views", 90e6),
    "Mahalo": ("uniques", 10e6),
}
DAY_S = 86_400
MONTH_S = 30 * DAY_S           # a 30-day month
# The peak factor the thread's own answer implies: 100,000 users × 2 h spread over 24 h are
# 8,333 at once on average; its "max of 20K+" is 2.4 times that. Used for the thread's
# scenarios and the cited sites' monthly figures (shown, not decided); C16's decided load
# uses an independent one (below).
PEAK_FACTOR = THREAD_PEAK_USERS / (THREAD_DAILY_USERS * THREAD_SESSION_HOURS / 24)
# Peak factors measured elsewhere, independent of the thread: a global audience's peak-to-mean
# ratio is typically 1.6 to 1.7 (B. Brazil, "Do you know your peak to mean ratio?", Robust
# Perception, 2015); a site used only in working hours gets a month's traffic in 168 of its
# 730 hours, 4.3 times the mean (Real Numeracy, "Estimating peak load from average load",
# 2012). C16's load is planned at the top of that range (``C16_PEAK_FACTOR``).
PEAK_RANGE = (1.7, 4.3)
C16_PEAK_FACTOR = PEAK_RANGE[1]
UTILISATION = 0.7              # plan cores for 70% busy at the peak (High Performance Django)
THINK_S = 30.0                 # seconds between a reader's page views (stated, see notebook)
THINK_RANGE = (7.0, 60.0)      # TPC-W's browsing think time (7 s) to a minute a page: the
                               # range C15 is decided over (rules.capacity) and 09 plots
ASSETS_PER_VIEW = 4            # the app's CSS, JS and images: every view a first visit
PAGES_PER_UNIQUE = 10          # Mahalo counts uniques: page views each, assumed (a slider)


def _positive(name: str, value, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                         f"number, not {value!r}")
    return float(value)


def _share(name: str, value, low_open: bool = False) -> float:
    v = _positive(name, value, allow_zero=not low_open)
    if v > 1:
        raise ValueError(f"{name} must be a share from 0 to 1, not {value!r}")
    return v


# --- 1. from traffic to load ----------------------------------------------------------------
def average_concurrency(daily_users: float, session_hours: float, day_hours: float = 24
                        ) -> float:
    """Users on the site at once, on average: each of ``daily_users`` stays
    ``session_hours`` within a day of ``day_hours``."""
    users = _positive("daily_users", daily_users)
    hours = _positive("session_hours", session_hours)
    day = _positive("day_hours", day_hours)
    if hours > day:
        raise ValueError(f"session_hours ({session_hours}) cannot exceed day_hours ({day_hours})")
    return users * hours / day


def peak_concurrency(daily_users: float, session_hours: float,
                     peak_factor: float = PEAK_FACTOR, day_hours: float = 24) -> float:
    """Users at once at the busiest time: the average × ``peak_factor``."""
    factor = _positive("peak_factor", peak_factor)
    if factor < 1:
        raise ValueError(f"peak_factor must be at least 1 (the peak is no less than the "
                         f"average), not {peak_factor!r}")
    return average_concurrency(daily_users, session_hours, day_hours) * factor


def page_views_per_s(users: float, think_s: float, response_s: float = 0.0) -> float:
    """Each user views a page, reads for ``think_s``, views the next: users ÷ (think time +
    response time) page views a second (Little's law for the users' cycle)."""
    return _positive("users", users, allow_zero=True) / (
        _positive("think_s", think_s) + _positive("response_s", response_s, allow_zero=True))


def requests_per_s(page_views: float, assets_per_view: float = ASSETS_PER_VIEW) -> float:
    """HTTP requests a second: each page view is the page and its assets."""
    return _positive("page_views", page_views, allow_zero=True) * (
        1 + _positive("assets_per_view", assets_per_view, allow_zero=True))


def per_month_to_peak_per_s(per_month: float, peak_factor: float = PEAK_FACTOR) -> float:
    """A monthly count (page views, hits) as a rate at the peak: ÷ the seconds of a 30-day
    month, × ``peak_factor``."""
    return _positive("per_month", per_month, allow_zero=True) / MONTH_S * \
        _positive("peak_factor", peak_factor)


def per_day_to_peak_per_s(per_day: float, peak_factor: float = PEAK_FACTOR) -> float:
    """A daily count as a rate at the peak: ÷ 86,400 s, × ``peak_factor``."""
    return _positive("per_day", per_day, allow_zero=True) / DAY_S * \
        _positive("peak_factor", peak_factor)


def implied_peak_factor(daily_users: float = THREAD_DAILY_USERS,
                        session_hours: float = THREAD_SESSION_HOURS,
                        peak_users: float = THREAD_PEAK_USERS) -> float:
    """The peak factor at which the average concurrency reaches ``peak_users``."""
    return _positive("peak_users", peak_users) / average_concurrency(daily_users, session_hours)


# --- 2. from load to cores -----------------------------------------------------------------
def cores(rate_per_s: float, cpu_ms_per_request: float, utilisation: float = UTILISATION
          ) -> float:
    """Cores busy ``utilisation`` of the time serving ``rate_per_s`` requests of
    ``cpu_ms_per_request`` each (the utilisation law, U = X × D, solved for the cores)."""
    return _positive("rate_per_s", rate_per_s, allow_zero=True) * \
        _positive("cpu_ms_per_request", cpu_ms_per_request, allow_zero=True) / 1000 / \
        _share("utilisation", utilisation, low_open=True)


def servers(n_cores: float, cores_per_server: int = 1) -> int:
    """Whole servers of ``cores_per_server`` cores for ``n_cores``."""
    check_int("cores_per_server", cores_per_server, 1, 1024)
    return int(math.ceil(_positive("n_cores", n_cores, allow_zero=True) / cores_per_server
                         - 1e-9))


def rate_per_core(cpu_ms_per_request: float, utilisation: float = UTILISATION) -> float:
    """Requests a second one core serves at ``utilisation``."""
    return _share("utilisation", utilisation, low_open=True) * 1000 / \
        _positive("cpu_ms_per_request", cpu_ms_per_request)


def users_per_core(cpu_ms_per_view: float, think_s: float = THINK_S,
                   utilisation: float = UTILISATION) -> float:
    """Concurrent users one core carries at ``utilisation``: page views a second it serves ×
    each user's seconds between page views."""
    return rate_per_core(cpu_ms_per_view, utilisation) * _positive("think_s", think_s)


def break_even_think_s(cpu_ms_per_view: float, users: float = THREAD_PEAK_USERS,
                       n_servers: float = THREAD_SERVERS, cores_per_server: int = 1,
                       utilisation: float = UTILISATION) -> float:
    """The think time at which ``users`` need exactly ``n_servers`` servers: users who view
    a page more often than this need more servers, users who read longer need fewer."""
    check_int("cores_per_server", cores_per_server, 1, 1024)
    capacity = _positive("n_servers", n_servers) * cores_per_server * \
        rate_per_core(cpu_ms_per_view, utilisation)
    return _positive("users", users) / capacity


def hit_mix(miss_ms: float, hit_ms: float, hit_ratio: float) -> float:
    """CPU per page with a cache that hits ``hit_ratio`` of the time: hits cost the cached
    page, misses the uncached one (the cost of filling the entry is in the miss)."""
    h = _share("hit_ratio", hit_ratio)
    return h * _positive("hit_ms", hit_ms, allow_zero=True) + \
        (1 - h) * _positive("miss_ms", miss_ms, allow_zero=True)
