"""Two kinds of endpoint for the worker-count notebook (03, claim C19).

- ``/w/cpu/``: CPU-bound. It renders the home page's template from data kept in memory, with
  no database and no waiting, so a worker is busy computing for the whole request.
- ``/w/io/?ms=N`` (sync) and ``/w/io-async/?ms=N`` (async): IO-bound. The view waits N ms on
  a slow upstream (QA_UPSTREAM_URL) and does almost no work itself.
"""

import asyncio
import functools
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from types import SimpleNamespace

from django.conf import settings
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render

MAX_MS = 2000


class _Tags(list):
    def all(self):
        return self


@functools.lru_cache(maxsize=1)
def _page_data():
    when = datetime(2020, 1, 1, tzinfo=timezone.utc)
    author = SimpleNamespace(display_name="user7", reputation=1234)
    tags = [SimpleNamespace(name=f"tag{i}", question_count=1000 - i) for i in range(20)]
    questions = [SimpleNamespace(
        pk=i, title=f"How do I scale question number {i} with Django and PostgreSQL?",
        body=("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 12), score=100 - i,
        answer_count=i % 7, view_count=1000 * i, created=when, author=author,
        tags=_Tags(tags[i % 5: i % 5 + 4])) for i in range(1, 31)]
    return questions, tags


def cpu(request):
    """Render the home page template from memory: pure CPU, no database."""
    questions, tags = _page_data()
    return render(request, "qa/home.html", {"questions": questions, "sidebar_tags": tags})


def _ms(request):
    raw = request.GET.get("ms", "50")
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_MS:
        return None, HttpResponseBadRequest(f"ms must be a whole number from 0 to {MAX_MS}")
    if not settings.UPSTREAM_URL:
        return None, HttpResponseBadRequest("QA_UPSTREAM_URL is not set: no upstream to wait on")
    return int(raw), None


def io(request):
    """Wait on the upstream with a blocking call: the worker (or thread) waits with it."""
    ms, error = _ms(request)
    if error:
        return error
    with urllib.request.urlopen(f"{settings.UPSTREAM_URL}/?ms={ms}", timeout=30) as resp:
        body = resp.read()
    return HttpResponse(b"upstream said " + body, content_type="text/plain")


async def io_async(request):
    """Wait on the upstream without blocking: the event loop serves others meanwhile."""
    ms, error = _ms(request)
    if error:
        return error
    url = urllib.parse.urlparse(settings.UPSTREAM_URL)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(f"GET /?ms={ms} HTTP/1.1\r\nHost: {url.hostname}\r\n"
                     "Connection: close\r\n\r\n".encode())
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
    return HttpResponse(b"upstream said " + data.rsplit(b"\r\n\r\n", 1)[-1],
                        content_type="text/plain")
