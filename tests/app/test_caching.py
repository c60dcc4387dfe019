"""The caching variants of the app: hits are hits, writes invalidate, bad input is refused."""

import json

import pytest
from django.core.cache import caches

from qa.models import Question

LOCMEM = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t"},
    "locmem": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "t2"},
}


@pytest.fixture
def cached(seeded, settings):
    settings.CACHES = LOCMEM
    for alias in LOCMEM:
        caches[alias].clear()
    yield
    for alias in LOCMEM:
        caches[alias].clear()


@pytest.mark.parametrize("path", ["/c/queryset/", "/c/fragment/", "/c/view/"])
def test_second_request_is_a_hit_with_no_queries(client, cached, path):
    first = client.get(path)
    second = client.get(path)
    assert first.status_code == second.status_code == 200
    assert int(first["X-DB-Queries"]) > 0
    assert second["X-DB-Queries"] == "0"
    assert first.content.count(b"question-summary") == second.content.count(b"question-summary") == 30


def test_a_vote_invalidates_the_cached_question(client, cached):
    q = Question.objects.order_by("id").first()
    url = f"/c/q/{q.pk}/?ttl=60&ns=a"
    client.get(url)
    assert client.get(url)["X-DB-Queries"] == "0"
    client.post(f"/api/questions/{q.pk}/vote/?ns=a")
    after = client.get(url)
    assert int(after["X-DB-Queries"]) > 0, "the write must drop the cached page"
    assert f"<strong>{q.score + 1}</strong>".encode() in after.content


def test_a_ttl_of_zero_keeps_nothing_so_every_read_misses(client, cached):
    q = Question.objects.order_by("id").first()
    url = f"/c/q/{q.pk}/?ttl=0"
    first, second = client.get(url), client.get(url)
    assert first.status_code == second.status_code == 200
    assert int(first["X-DB-Queries"]) > 0 and second["X-DB-Queries"] == first["X-DB-Queries"]
    assert first.content == second.content


def test_namespaces_keep_separate_entries(client, cached):
    q = Question.objects.order_by("id").first()
    client.get(f"/c/q/{q.pk}/?ttl=60&ns=a")
    assert int(client.get(f"/c/q/{q.pk}/?ttl=60&ns=b")["X-DB-Queries"]) > 0


def test_api_cache_follows_the_backend_and_invalidates(client, cached):
    q = Question.objects.order_by("id").first()
    url = f"/c/api/q/{q.pk}/?backend=locmem"
    assert json.loads(client.get(url).content)["score"] == q.score
    client.post(f"/api/questions/{q.pk}/vote/?backend=locmem")
    assert json.loads(client.get(url).content)["score"] == q.score + 1


@pytest.mark.parametrize("path", ["/c/probe/?op=hit&n=5", "/c/probe/?op=miss&n=5",
                                  "/c/probe/?op=none", "/c/toptags/naive/?ttl=1",
                                  "/c/toptags/locked/?ttl=1"])
def test_probe_and_stampede_pages_answer(client, cached, path):
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200


@pytest.mark.parametrize("path, message", [
    ("/c/probe/?op=maybe", b"op must be hit, miss or none"),
    ("/c/probe/?op=hit&n=1000", b"n from 1 to"),
    ("/c/probe/?backend=varnish", b"backend must be one of"),
    ("/c/q/1/?ttl=7", b"ttl must be one of"),
    ("/c/q/1/?ns=zz", b"ns must be one of"),
])
def test_bad_parameters_are_refused(client, cached, path, message):
    resp = client.get(path)
    assert resp.status_code == 400 and message in resp.content


def test_locked_refresh_serves_stale_while_one_recomputes(cached):
    from qa import caching

    from django.test import RequestFactory
    from qa.models import Tag

    cache = caches["default"]
    stale = [Tag(name="stale-tag", question_count=0)]
    cache.set("toptags:locked:1", {"tags": stale, "fresh_until": 0}, 60)
    cache.add("toptags:locked:1:lock", 1, 30)  # another request is recomputing
    resp = caching.top_tags_locked(RequestFactory().get("/c/toptags/locked/?ttl=1"))
    assert resp.status_code == 200 and b"stale-tag" in resp.content  # the stale copy
    cache.delete("toptags:locked:1:lock")  # the lock is free: this request recomputes
    resp = caching.top_tags_locked(RequestFactory().get("/c/toptags/locked/?ttl=1"))
    assert b"stale-tag" not in resp.content
