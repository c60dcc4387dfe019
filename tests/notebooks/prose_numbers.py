"""The numbers a notebook's markdown cells type by hand, for ``test_prose_numbers``.

Markdown is read as a reader sees it, without what cannot be a claim about this lab's data:
code, link targets, HTML tags, maths, quotes from the thread (``*"..."*``), reference lists,
list numbers, claim ids, notebook numbers, section and exercise numbers, years."""

from __future__ import annotations

import re

NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_DROP = [
    (re.compile(r"```.*?```", re.S), " "),
    (re.compile(r"`[^`]*`"), " "),
    (re.compile(r"\]\([^)]*\)"), "]"),
    (re.compile(r"<[^>]+>"), " "),
    (re.compile(r"\$[^$]*\$"), " "),
    (re.compile(r"\*\"[^\"]*\"\*", re.S), " "),                    # the thread's words
    (re.compile(r"^\s*\d+\.\s", re.M), " "),                        # list numbers
    (re.compile(r"\b(?:Experiments?|[Ss]ection|[Ee]xercise|Part|Step|solution to)\s+\d+"
                r"(?:\s*(?:to|and|-|–)\s*\d+)?"), " "),
    (re.compile(r"\bC\d+\b"), " "),                                  # claim ids
    (re.compile(r"\b(?:19|20)\d\d\b"), " "),                         # years
    (re.compile(r"\b0\d\b"), " "),                                  # notebooks 00 to 09
    (re.compile(r"127\.0\.0\.1|M/M/1|HTTP/\d|p50|p90|p99|N\+1|Python 3\.\d+|Django \d\.\d"), " "),
]
REFERENCES = re.compile(r"^#+ (?:References|Further reading|Sources)", re.M)


def typed_numbers(markdown: str) -> list[str]:
    """The numbers left in a markdown cell once what cannot be a measurement is dropped, as
    written (``100,000``); none in a list of references."""
    if REFERENCES.search(markdown):
        return []
    for pattern, by in _DROP:
        markdown = pattern.sub(by, markdown)
    return [m.group(0).rstrip(",") for m in NUMBER.finditer(markdown)]


def code_literals(source: str) -> set[str]:
    """Every number written in code, normalised (``10_000`` and ``10,000`` as ``10000``)."""
    return {m.group(0).replace("_", "") for m in re.finditer(r"\d[\d_]*(?:\.\d+)?", source)}


def normal(number: str) -> str:
    return number.replace(",", "")
