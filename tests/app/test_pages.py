"""The bundled app: every page, on a small seeded data set (SQLite test database)."""

import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command

from qa import seeding
from qa.models import Question, SeedInfo, Tag, Vote

APP_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "benchmark_app")


def test_home_lists_top_questions_with_tags_in_three_queries(client, seeded):
    resp = client.get("/")
    assert resp.status_code == 200
    top = Question.objects.order_by("-score", "id").first()
    assert top.title.encode() in resp.content
    assert resp.content.count(b'class="question-summary"') == 30
    # questions+authors, their tags (prefetch), sidebar tags: no N+1
    assert resp["X-DB-Queries"] == "3"
    assert b"/static/qa/site.css" in resp.content


def test_question_page_shows_answers(client, seeded):
    q = Question.objects.filter(answer_count__gt=1).first()
    resp = client.get(f"/q/{q.pk}/")
    assert resp.status_code == 200
    assert resp.content.count(b'class="answer') == q.answers.count()
    assert client.get("/q/999999/").status_code == 404


def test_tag_page_paginates(client, seeded):
    tag = Tag.objects.order_by("-question_count").first()
    resp = client.get(f"/tags/{tag.name}/")
    assert resp.status_code == 200
    assert f"{tag.questions.count()} questions".encode() in resp.content
    assert client.get(f"/tags/{tag.name}/?page=2").status_code == 200
    assert client.get("/tags/no-such-tag/").status_code == 404


def test_api_question_json(client, seeded):
    q = Question.objects.first()
    data = json.loads(client.get(f"/api/questions/{q.pk}/").content)
    assert data["id"] == q.pk and data["title"] == q.title
    assert sorted(data["tags"]) == sorted(t.name for t in q.tags.all())
    assert len(data["answers"]) == q.answers.count()


def test_vote_writes_a_vote_and_the_score(client, seeded):
    q = Question.objects.first()
    before, votes = q.score, Vote.objects.count()
    resp = client.post(f"/api/questions/{q.pk}/vote/")
    assert resp.status_code == 200 and json.loads(resp.content)["score"] == before + 1
    assert Vote.objects.count() == votes + 1
    assert client.post(f"/api/questions/{q.pk}/vote/?value=5").status_code == 400
    assert client.get(f"/api/questions/{q.pk}/vote/").status_code == 405
    assert client.post("/api/questions/999999/vote/").status_code == 404


def test_health_and_static(client, db):
    assert client.get("/health/").content == b"ok"
    assert client.get("/health/?db=1").status_code == 200
    css = client.get("/static/qa/site.css")
    assert css.status_code == 200
    assert len(b"".join(css.streaming_content)) > 10_000


def test_seed_is_idempotent_and_refuses_to_mix(db, capsys):
    call_command("seed", questions=50, seed=1, force=True)  # replaces the shared site (rolled back)
    call_command("seed", questions=50, seed=1)
    assert "already seeded" in capsys.readouterr().out
    from django.core.management.base import CommandError
    with pytest.raises(CommandError, match="another data set"):
        call_command("seed", questions=60, seed=1)
    call_command("seed", questions=60, seed=1, force=True)
    assert Question.objects.count() == 60 and SeedInfo.objects.count() == 1
    with pytest.raises(CommandError, match="--questions must be from 1"):
        call_command("seed", questions=0)


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = seeding.generate(200, 3), seeding.generate(200, 3), seeding.generate(200, 4)
    assert a == b
    assert a["qa_question"][1] != c["qa_question"][1]
    views = sorted((r[6] for r in a["qa_question"][1]), reverse=True)
    assert views[0] > 20 * views[len(views) // 2]  # Zipf-like: the head dwarfs the median


@pytest.mark.parametrize("var, value, message", [
    ("QA_DB", "mysql", "QA_DB='mysql' is not allowed; use one of: sqlite, postgres"),
    ("QA_CACHE", "varnish", "QA_CACHE='varnish' is not allowed"),
    ("QA_DB_CONN_MAX_AGE", "soon", "QA_DB_CONN_MAX_AGE='soon' must be a whole number"),
    ("QA_DEBUG", "maybe", "QA_DEBUG='maybe' must be 1 or 0"),
])
def test_bad_settings_name_the_variable(var, value, message):
    env = dict(os.environ, **{var: value})
    out = subprocess.run([sys.executable, "manage.py", "check"], cwd=APP_DIR, env=env,
                         capture_output=True, text=True)
    assert out.returncode != 0 and message in out.stderr


def test_worker_endpoints(client, settings):
    assert client.get("/w/cpu/").status_code == 200
    settings.UPSTREAM_URL = ""
    resp = client.get("/w/io/?ms=10")
    assert resp.status_code == 400 and b"QA_UPSTREAM_URL" in resp.content
    settings.UPSTREAM_URL = "http://127.0.0.1:9"
    assert client.get("/w/io/?ms=99999").status_code == 400


@pytest.mark.parametrize("extra, message", [
    ({"QA_DB": "postgres", "QA_DB_CONN_MAX_AGE": "0", "QA_DB_POOL": "1", "QA_DB_POOL_MIN": "5",
      "QA_DB_POOL_MAX": "2"}, "QA_DB_POOL_MIN=5 must not exceed QA_DB_POOL_MAX=2"),
    ({"QA_CACHE": "redis", "QA_CACHE_LOCATION": "localhost"}, "must look like redis://"),
    ({"QA_CACHE_MEMCACHED_LOCATION": "redis://127.0.0.1:6379/0"}, "must look like HOST:PORT"),
])
def test_inconsistent_settings_are_refused_at_start_up(extra, message):
    env = dict(os.environ, **extra)
    out = subprocess.run([sys.executable, "manage.py", "check"], cwd=APP_DIR, env=env,
                         capture_output=True, text=True)
    assert out.returncode != 0 and message in out.stderr


@pytest.mark.parametrize("url, status", [
    ("/tags/%00/", 404),
    ("/c/q/1/?ttl=%C2%B2", 400),       # "²".isdigit() is True, int("²") fails
    ("/c/probe/?op=hit&n=%C2%B2", 400),
    ("/w/io/?ms=%C2%B2", 400),
])
def test_harmless_input_is_never_a_500(client, seeded, settings, url, status):
    settings.UPSTREAM_URL = "http://127.0.0.1:9"
    assert client.get(url).status_code == status


@pytest.mark.parametrize("env,message", [
    ({"QA_STATIC_MODE": "whitenoise"}, "QA_STATIC_MODE=whitenoise needs QA_STATIC_ROOT"),
    ({"QA_STATIC_MODE": "cdn"}, "QA_STATIC_MODE")])
def test_a_bad_static_setting_stops_start_up_naming_the_variable(env, message):
    """Settings are read in a fresh interpreter: the app refuses to start, and says why."""
    from scalelab.plumbing import paths

    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"],
                          cwd=paths.APP_DIR, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "qa_site.settings", **env})
    assert done.returncode != 0 and message in done.stderr
