"""The caching variants of the site's pages, for the caching notebook (claims C1, C2, C3, C18).

Each variant serves the same page as its uncached twin in views.py, cached a different way:
the expensive queryset (low-level ``get_or_set``), template fragments, the whole view
(``cache_page``). The per-site cache (middleware) and nginx's microcache need no view: they are
switched on in settings and in front of the app. Votes invalidate the entries they change.
"""

import time
import uuid

from django.core.cache import caches
from django.db.models import Count
from django.http import HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.conf import settings
from django.views.decorators.cache import cache_page

from . import views
from .cache_keys import NAMESPACES, TTLS, api_key, question_key
from .models import Answer, Question, Tag

PROBE_MAX_OPS = 100


def _alias(request):
    alias = request.GET.get("backend", "default")
    if alias not in settings.CACHES:
        return None, HttpResponseBadRequest(
            f"backend must be one of {', '.join(settings.CACHES)}, not {alias!r}")
    return caches[alias], None


def _ttl(request, default=None):
    raw = request.GET.get("ttl")
    if raw is None:
        return default if default is not None else settings.CACHE_TIMEOUT, None
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in TTLS:
        return None, HttpResponseBadRequest(f"ttl must be one of {TTLS}, not {raw!r}")
    return int(raw), None


# --- where to cache: the home page, four ways -------------------------------------------
def home_queryset(request):
    """Cache the expensive querysets' results (model instances, prefetched tags included)."""
    cache = caches["default"]
    questions = cache.get_or_set("home:top", lambda: list(
        Question.objects.select_related("author").prefetch_related("tags")
        .order_by("-score", "id")[:views.HOME_QUESTIONS]))
    sidebar = cache.get_or_set("home:sidebar", views._sidebar_tags)
    return render(request, "qa/home.html", {"questions": questions, "sidebar_tags": sidebar})


def home_fragment(request):
    """Cache rendered template fragments; the querysets stay lazy and run only on a miss."""
    questions = (Question.objects.select_related("author").prefetch_related("tags")
                 .order_by("-score", "id")[:views.HOME_QUESTIONS])
    sidebar = Tag.objects.order_by("-question_count")[:views.SIDEBAR_TAGS]
    return render(request, "qa/home_fragment.html",
                  {"questions": questions, "sidebar_tags": sidebar,
                   "ttl": settings.CACHE_TIMEOUT})


home_view = cache_page(None, key_prefix="view")(views.home)  # None: the cache's TIMEOUT


# --- popular questions: cached with an explicit key, invalidated by votes ---------------
def _ns(request):
    ns = request.GET.get("ns", "")
    if ns not in NAMESPACES:
        return None, HttpResponseBadRequest(f"ns must be one of {NAMESPACES[1:]} or absent")
    return ns, None


def question_cached(request, pk):
    """A question page whose data (question, tags, answers) is cached for ?ttl= seconds.

    ?ns= keeps a separate set of entries, so experiments can start each variant cold."""
    ttl, error = _ttl(request)
    ns, ns_error = _ns(request)
    if error or ns_error:
        return error or ns_error
    cache = caches["default"]
    key = question_key(pk, ttl, ns)
    data = cache.get(key)
    if data is None:
        question = get_object_or_404(Question.objects.select_related("author")
                                     .prefetch_related("tags"), pk=pk)
        answers = list(Answer.objects.filter(question=question).select_related("author")
                       .order_by("-accepted", "-score", "id"))
        data = (question, answers)
        cache.set(key, data, ttl)
    question, answers = data
    return render(request, "qa/question.html", {"question": question, "answers": answers})


def api_question_cached(request, pk):
    """The question's JSON, cached in ?backend= (default, locmem, redis, ...)."""
    cache, error = _alias(request)
    if error:
        return error
    data = cache.get(api_key(pk))
    if data is None:
        q = get_object_or_404(Question, pk=pk)
        data = {"id": q.pk, "title": q.title, "score": q.score}
        cache.set(api_key(pk), data)
    return JsonResponse(data)


# --- cost of one cache operation --------------------------------------------------------
def probe(request):
    """?op=hit|miss|none&n=20&backend=...: n cache reads that hit, miss, or nothing at all.

    CPU per request of op=hit minus op=none, divided by n, is the cost of one hit."""
    cache, error = _alias(request)
    if error:
        return error
    op = request.GET.get("op", "none")
    raw_n = request.GET.get("n", "20")
    if op not in ("hit", "miss", "none") or not (raw_n.isascii() and raw_n.isdigit()) or \
            not 1 <= int(raw_n) <= PROBE_MAX_OPS:
        return HttpResponseBadRequest(f"op must be hit, miss or none and n from 1 to "
                                      f"{PROBE_MAX_OPS}")
    n = int(raw_n)
    if op == "hit":
        value = "x" * 1000
        if cache.get("probe:hit") is None:
            cache.set("probe:hit", value, None)
        for _ in range(n):
            cache.get("probe:hit")
    elif op == "miss":
        miss = uuid.uuid4().hex
        for i in range(n):
            cache.get(f"probe:miss:{miss}:{i}")
    return HttpResponse("ok", content_type="text/plain")


# --- a hot, expensive entry: the stampede -----------------------------------------------
def _top_tags():
    """An expensive query: tags ranked by the votes their questions received."""
    return list(Tag.objects.annotate(votes=Count("questions__votes"))
                .order_by("-votes", "id")[:20])


def top_tags_naive(request):
    """get_or_set with a TTL: when the entry expires, every request in flight recomputes."""
    ttl, error = _ttl(request, default=2)
    if error:
        return error
    tags = caches["default"].get_or_set(f"toptags:naive:{ttl}", _top_tags, ttl)
    return render(request, "qa/top_tags.html", {"top_tags": tags})


def top_tags_locked(request):
    """Early refresh under a lock: one request recomputes, the others serve the stale copy."""
    ttl, error = _ttl(request, default=2)
    if error:
        return error
    cache = caches["default"]
    key = f"toptags:locked:{ttl}"
    entry = cache.get(key)
    now = time.time()
    if entry is None or (now >= entry["fresh_until"] and cache.add(key + ":lock", 1, 30)):
        try:
            entry = {"tags": _top_tags(), "fresh_until": time.time() + ttl}
            cache.set(key, entry, ttl * 10)  # kept long after it is stale, to serve meanwhile
        finally:
            cache.delete(key + ":lock")
    return render(request, "qa/top_tags.html", {"top_tags": entry["tags"]})
