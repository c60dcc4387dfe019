"""The question API as a plain WSGI function on the same data (notebook 08): no Django
request, middleware, URL routing, ORM or JsonResponse; psycopg and json only. The WSGI entry
(``qa_site/wsgi.py``) hands it ``/bare/...`` before Django sees the request. Same JSON as
``/api/questions/<pk>/``."""

import json
import re
import threading

import psycopg
from django.conf import settings

PATH = re.compile(r"^/bare/api/questions/(\d+)/$")
_local = threading.local()

QUESTION_SQL = """
SELECT q.id, q.title, q.body, q.score, q.view_count, q.created, q.author_id, m.display_name,
       m.reputation
FROM qa_question q JOIN qa_member m ON m.id = q.author_id WHERE q.id = %s"""
TAGS_SQL = """
SELECT t.name FROM qa_tag t JOIN qa_question_tags qt ON qt.tag_id = t.id
WHERE qt.question_id = %s"""
ANSWERS_SQL = """
SELECT a.id, a.score, a.accepted, m.display_name, a.body
FROM qa_answer a JOIN qa_member m ON m.id = a.author_id WHERE a.question_id = %s
ORDER BY a.accepted DESC, a.score DESC, a.id ASC"""


def _connection():
    """One connection per thread, kept (as CONN_MAX_AGE does), opened again if it broke."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        db = settings.DATABASES["default"]
        conn = psycopg.connect(host=db["HOST"], port=db["PORT"], dbname=db["NAME"],
                               user=db["USER"], password=db["PASSWORD"] or None,
                               autocommit=True, prepare_threshold=None)
        _local.conn = conn
    return conn


def _respond(start_response, status, payload):
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    match = PATH.match(environ.get("PATH_INFO", ""))
    if not match:
        return _respond(start_response, "404 Not Found", {"error": "not found"})
    pk = int(match.group(1))
    try:
        conn = _connection()
        q = conn.execute(QUESTION_SQL, (pk,)).fetchone()
        if q is None:
            return _respond(start_response, "404 Not Found", {"error": f"no question {pk}"})
        tags = [r[0] for r in conn.execute(TAGS_SQL, (pk,))]
        answers = conn.execute(ANSWERS_SQL, (pk,)).fetchall()
    except psycopg.OperationalError:
        _local.conn = None
        raise
    qid, title, body, score, views, created, author_id, name, rep = q
    return _respond(start_response, "200 OK", {
        "id": qid, "title": title, "body": body, "score": score, "views": views,
        "created": created.isoformat(),
        "author": {"id": author_id, "name": name, "reputation": rep},
        "tags": tags,
        "answers": [{"id": a, "score": s, "accepted": acc, "author": n, "body": b}
                    for a, s, acc, n, b in answers]})
