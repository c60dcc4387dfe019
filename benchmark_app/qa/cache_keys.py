"""The names of the app's cached entries, and what a write must drop: shared by the pages
that cache (``caching.py``) and the view that writes (``views.api_vote``), so neither imports
the other."""

from django.core.cache import caches

TTLS = (0, 1, 2, 5, 10, 30, 60, 300, 3600)  # the TTLs a request may ask for (?ttl=); 0 keeps
# nothing: every read misses, and pays the store as a miss does
NAMESPACES = ("", "a", "b", "c", "d", "e", "f", "g", "h")  # separate sets of entries (?ns=)


def question_key(pk, ttl, ns=""):
    return f"question:{pk}:ttl{ttl}:{ns}"


def api_key(pk):
    return f"api:question:{pk}"


def invalidate_question(pk, alias="default", ns=""):
    """What a write must do: drop every cached copy of the question it changed."""
    caches["default"].delete_many([question_key(pk, t, ns) for t in TTLS])
    caches[alias].delete(api_key(pk))
    if alias != "default":
        caches["default"].delete(api_key(pk))
