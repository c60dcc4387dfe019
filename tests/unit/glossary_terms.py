"""The glossary's terms as the notebooks' prose says them, and where a notebook first uses
one: read by ``test_site``, which wants that first use linked to the term."""

import re

# the glossary's anchor -> how a notebook's markdown says the term
TERMS = {
    "knee": r"(?i)\bknee\b",
    "closed-and-open-load": r"(?i)\b(closed|open) loads?\b",
    "server-bound": r"(?i)\bserver-bound\b",
    "cpu-ms-per-request": r"\bCPU-ms (a|per) request",
    "page-view": r"(?i)\bpage views?\b",
    "utilisation-law": r"(?i)\butilisation law",
    "little-s-law": r"\bLittle's law",
    "queue-models": r"\bM/[MDG]/1\b",
    "coordinated-omission": r"(?i)\bcoordinated omission",
    "percentile-of-a-window": r"\bp99\b",
    "cv": r"\bCV\b",
    "hit-ratio": r"(?i)\bhit ratios?\b",
    "ttl": r"\bTTLs?\b",
    "stampede": r"(?i)\bstampedes?\b",
    "rss-vs-pss": r"\bPSS\b",
    "usl-sigma-and-kappa": r"\bUSL\b",
    "throughput-elasticity": r"(?i)\bthroughput elasticity",
    "n-1-queries": r"\bN\+1\b",
    "lost-update": r"(?i)\blost updates?\b",
    "flame-graph": r"(?i)\bflame graphs?\b",
    "think-time": r"(?i)\bthink time",
    "peak-factor": r"(?i)\bpeak factor",
    "headroom": r"(?i)\bheadroom\b",
}


def prose(source: str) -> str:
    """``source`` with what is not running prose masked (same length, so positions hold):
    headings, inline code, and links, but for the text of a link to the glossary."""
    mask = lambda m: " " * len(m.group(0))  # noqa: E731
    out = re.sub(r"(?m)^#.*$", mask, source)
    out = re.sub(r"`[^`\n]*`", mask, out)

    def link(m):
        if "glossary.md#" in m.group(2):
            return " " + m.group(1) + " " * (len(m.group(2)) + 3)
        return mask(m)

    return re.sub(r"\[([^\]]*)\]\(([^)]*)\)", link, out)


def first_use(cells, pattern: str):
    """The index of the first markdown cell whose prose uses the term, or None."""
    return next((i for i, c in enumerate(cells) if re.search(pattern, prose(c.source))), None)
