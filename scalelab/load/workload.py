"""What simulated users do (``Workload``: pages, mix, think time, popularity) and the checks
on the URLs they may request: only {qid} and {tag} in a path, only this machine as a host."""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import asdict, dataclass, field

from scalelab.plumbing.loopback import check_url

PAGES: dict[str, tuple[str, str]] = {
    "home": ("GET", "/"),
    "question": ("GET", "/q/{qid}/"),
    "tag": ("GET", "/tags/{tag}/"),
    "api": ("GET", "/api/questions/{qid}/"),
    "health": ("GET", "/health/"),
    "static": ("GET", "/static/qa/site.css"),
    "vote": ("POST", "/api/questions/{qid}/vote/"),
}


@dataclass
class Workload:
    """What the simulated users do: which pages, in what mix, with what pause in between.

    mix: page name -> weight (see ``PAGES``). think_time: seconds a user waits between
    requests, a number or a (min, max) range; 0 is a closed loop at full speed. zipf_s: the
    exponent of the Zipf law by which questions and tags are picked (0 = uniform).
    """

    name: str = "home"
    mix: dict[str, float] = field(default_factory=lambda: {"home": 1.0})
    think_time: float | tuple[float, float] = 0.0
    zipf_s: float = 1.0
    pages: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, not {self.name!r}")
        if not isinstance(self.pages, dict):
            raise ValueError(f"pages must be a dict of name -> (method, path), not "
                             f"{type(self.pages).__name__}")
        for page, spec in self.pages.items():
            if not (isinstance(spec, (tuple, list)) and len(spec) == 2
                    and spec[0] in ("GET", "POST") and isinstance(spec[1], str)):
                raise ValueError(f"pages[{page!r}] must be (method, path), method GET or POST, "
                                 f"path like '/q/{{qid}}/' (or an absolute loopback URL)")
            check_template(page, spec[1])
            if spec[1].startswith(("http://", "https://")):
                check_page_url(page, spec[1])
            elif not spec[1].startswith("/"):
                raise ValueError(f"pages[{page!r}] path must start with / or http://")
        known = {**PAGES, **self.pages}
        if not isinstance(self.mix, dict) or not self.mix:
            raise ValueError(f"mix must be a non-empty dict of page -> weight; pages: "
                             f"{', '.join(known)}")
        unknown = set(self.mix) - set(known)
        if unknown:
            raise ValueError(f"mix has unknown page(s) {sorted(unknown)}; pages: "
                             f"{', '.join(known)}")
        if any(isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w)
               or w < 0 for w in self.mix.values()) or sum(self.mix.values()) <= 0:
            raise ValueError(f"mix weights must be finite numbers >= 0 with a positive sum, "
                             f"not {self.mix!r}")
        tt = self.think_time
        if isinstance(tt, bool) or not (isinstance(tt, (int, float)) or (
                isinstance(tt, (tuple, list)) and len(tt) == 2
                and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in tt))):
            raise ValueError(f"think_time must be seconds from 0 to 3600, or a (min, max) "
                             f"range within that, not {tt!r}")
        lo, hi = (tt, tt) if isinstance(tt, (int, float)) else tuple(tt)
        if not (0 <= lo <= hi <= 3600):
            raise ValueError(f"think_time must be seconds from 0 to 3600, or a (min, max) "
                             f"range within that, not {tt!r}")
        self._think = (float(lo), float(hi))
        if isinstance(self.zipf_s, bool) or not isinstance(self.zipf_s, (int, float)) \
                or not 0 <= self.zipf_s <= 5:
            raise ValueError(f"zipf_s must be from 0 (uniform) to 5, not {self.zipf_s!r}")

    @property
    def mean_think_time(self) -> float:
        return sum(self._think) / 2

    def all_pages(self) -> dict[str, tuple[str, str]]:
        return {**PAGES, **{k: tuple(v) for k, v in self.pages.items()}}

    def describe(self) -> dict:
        d = asdict(self)
        d["think_time"] = list(self._think)
        return d


TEMPLATE_FIELDS = ("qid", "tag")  # what the locustfile fills into a page's path


def check_template(page: str, path: str) -> None:
    """Only {qid} and {tag} may stand in a path: anything else would fail every request."""
    import string

    try:
        fields = {f for _, f, spec, conv in string.Formatter().parse(path) if f is not None}
    except ValueError as exc:
        raise ValueError(f"pages[{page!r}]: {path!r} is not a valid template ({exc})") from None
    unknown = fields - set(TEMPLATE_FIELDS)
    if unknown:
        raise ValueError(f"pages[{page!r}]: unknown field(s) {sorted(unknown)} in {path!r}; "
                         f"a path may use {{qid}} and {{tag}} only")


def check_page_url(page: str, url: str) -> None:
    """An absolute page URL is checked as it will be sent: no template and no user info in
    its host part (``http://127.0.0.1{tag}@elsewhere/`` would send every request elsewhere)."""
    netloc = urllib.parse.urlsplit(url.replace("{", "%7B").replace("}", "%7D")).netloc
    if "%7B" in netloc or "%7D" in netloc or "@" in netloc:
        raise ValueError(f"pages[{page!r}]: the host part of {url!r} may not contain a "
                         "template field or user info ('@'); only the path may vary")
    for sample in (url.format(qid=1, tag="t"), url):
        if "{" not in sample:
            check_url(sample)
            break
