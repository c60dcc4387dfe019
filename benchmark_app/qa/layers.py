"""The home page with its layers swapped (notebook 08): the same page, the same content.

- ``/l/home/raw/``: raw SQL through Django's connection instead of the ORM, rendered by the
  same Django templates (rows as plain dicts).
- ``/l/home/jinja/``: the ORM, rendered by Jinja2 (``qa/jinja2/qa/``: the same HTML).
- ``/l/home/raw-jinja/``: both layers swapped.

``/`` is the page as written, the ORM and Django's templates. ``qa/bare.py`` answers the JSON
API without Django at all.
"""

from django.db import connection
from django.shortcuts import render

from .views import HOME_QUESTIONS, SIDEBAR_TAGS, _sidebar_tags, home_questions

HOME_SQL = """
SELECT q.id, q.title, q.body, q.score, q.view_count, q.answer_count, q.created,
       m.display_name, m.reputation
FROM qa_question q JOIN qa_member m ON m.id = q.author_id
ORDER BY q.score DESC, q.id ASC LIMIT %s"""
TAGS_SQL = """
SELECT qt.question_id, t.name FROM qa_tag t JOIN qa_question_tags qt ON qt.tag_id = t.id
WHERE qt.question_id = ANY(%s)"""
SIDEBAR_SQL = "SELECT name, question_count FROM qa_tag ORDER BY question_count DESC LIMIT %s"


def _raw_context():
    """The page's data from three SQL queries, as dicts shaped like the model objects the
    templates read (``q.tags.all`` for Django's, ``q.tag_list`` for Jinja2's)."""
    with connection.cursor() as cur:
        cur.execute(HOME_SQL, [HOME_QUESTIONS])
        rows = cur.fetchall()
        cur.execute(TAGS_SQL, [[r[0] for r in rows]])
        tags = {}
        for qid, name in cur.fetchall():
            tags.setdefault(qid, []).append({"name": name})
        cur.execute(SIDEBAR_SQL, [SIDEBAR_TAGS])
        sidebar = [{"name": n, "question_count": c} for n, c in cur.fetchall()]
    questions = []
    for qid, title, body, score, views, answers, created, author, rep in rows:
        tag_list = tags.get(qid, [])
        questions.append({"pk": qid, "title": title, "body": body, "score": score,
                          "view_count": views, "answer_count": answers, "created": created,
                          "author": {"display_name": author, "reputation": rep},
                          "tags": {"all": tag_list}, "tag_list": tag_list})
    return {"questions": questions, "sidebar_tags": sidebar}


def _orm_context_for_jinja():
    questions = list(home_questions())
    for q in questions:
        q.tag_list = list(q.tags.all())  # Jinja2 does not call methods for you
    return {"questions": questions, "sidebar_tags": _sidebar_tags()}


def home_raw(request):
    return render(request, "qa/home.html", _raw_context(), using="django")


def home_jinja(request):
    return render(request, "qa/home.html", _orm_context_for_jinja(), using="jinja2")


def home_raw_jinja(request):
    return render(request, "qa/home.html", _raw_context(), using="jinja2")
