"""Deterministic data for the Q&A site: the same (questions, seed) always gives the same rows.

Shapes follow a real Q&A site: question popularity (views) and tag use are Zipf-like, a few
members ask most questions, answers per question are over-dispersed, body lengths lognormal.
Rows are produced as plain tuples; :func:`load` writes them with COPY on PostgreSQL (100k
questions in well under 30 s) and with bulk_create elsewhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

FORMAT_VERSION = 1  # bump when the generated data changes, so harnesses reseed
EPOCH = datetime(2008, 9, 15, tzinfo=timezone.utc)  # StackOverflow's public launch
SPAN_SECONDS = 15 * 365 * 24 * 3600

WORDS = (
    "django python query cache redis nginx gunicorn postgres index model view template "
    "form request response session middleware worker thread process async database table "
    "migration field foreign key join filter order limit page static file upload user login "
    "password token api json rest serializer test fixture deploy server load balance scale "
    "memory cpu latency throughput error exception timeout connection pool replica write read "
    "transaction lock deadlock signal task queue celery schedule log debug settings secret "
    "admin url route pattern slug unicode encode decode date time zone locale translate"
).split()
TAG_PARTS = (
    "python django postgresql redis nginx celery orm rest api docker linux javascript html "
    "css sql caching performance testing deployment security async json forms admin auth "
    "templates migrations gunicorn uwsgi memcached uvicorn asgi wsgi sessions logging"
).split()


@dataclass(frozen=True)
class Shape:
    """How big each table is, derived from the number of questions."""

    questions: int

    @property
    def members(self) -> int:
        return max(50, self.questions // 4)

    @property
    def tags(self) -> int:
        return int(min(3000, max(30, self.questions // 40)))

    @property
    def votes(self) -> int:
        return self.questions


def zipf_weights(n: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** s
    return w / w.sum()


def _text_pool(rng: np.random.Generator, count: int, median_chars: float) -> list[str]:
    """Bodies of lognormal length made of sentences of the site's vocabulary."""
    words = np.array(WORDS)
    lengths = rng.lognormal(np.log(median_chars), 0.6, size=count).astype(int) + 40
    pool = []
    for target in lengths:
        sentences, size = [], 0
        while size < target:
            n = int(rng.integers(6, 16))
            s = " ".join(rng.choice(words, size=n)).capitalize() + "."
            sentences.append(s)
            size += len(s) + 1
            if rng.random() < 0.25:
                sentences.append("\n\n")
        pool.append(" ".join(sentences).replace(" \n\n ", "\n\n").strip())
    return pool


def _tag_names(rng: np.random.Generator, count: int) -> list[str]:
    names: list[str] = list(TAG_PARTS)
    seen = set(names)
    while len(names) < count:
        name = "-".join(rng.choice(TAG_PARTS, size=2)) + (
            "" if rng.random() < 0.5 else f"-{int(rng.integers(1, 6))}.{int(rng.integers(0, 10))}")
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names[:count]


def generate(questions: int, seed: int = 42):
    """Return a dict of table name -> (columns, rows). Rows are lists of tuples."""
    if questions < 1:
        raise ValueError(f"questions must be 1 or more, not {questions}")
    rng = np.random.default_rng(seed)
    shape = Shape(questions)
    words = np.array(WORDS)

    def when(offsets):
        return [EPOCH + timedelta(seconds=int(s)) for s in offsets]

    # Members: reputation is heavy-tailed.
    m = shape.members
    member_created = when(np.sort(rng.uniform(0, SPAN_SECONDS * 0.9, size=m)))
    reputation = (rng.pareto(1.2, size=m) * 50 + 1).astype(int)
    members = [(i + 1, f"user{i + 1}", int(reputation[i]), member_created[i]) for i in range(m)]

    # Tags: Zipf-like use.
    t = shape.tags
    tag_names = _tag_names(rng, t)
    tag_weights = zipf_weights(t, 1.05)

    # Questions: a few members ask most of them; popularity (views) is Zipf over a random order.
    q = questions
    author = rng.choice(m, size=q, p=zipf_weights(m, 0.8)) + 1
    created = when(np.sort(rng.uniform(SPAN_SECONDS * 0.05, SPAN_SECONDS, size=q)))
    popularity_rank = rng.permutation(q) + 1
    views = (200_000 / popularity_rank ** 0.9 + rng.integers(5, 60, size=q)).astype(int)
    score = np.maximum(-5, (rng.poisson(np.sqrt(views) / 3) - rng.poisson(0.8, size=q))).astype(int)
    answers_per_q = rng.negative_binomial(2, 2 / (2 + 1.2 + np.log10(views) / 3)).astype(int)
    title_len = rng.integers(5, 12, size=q)
    body_pool = _text_pool(rng, 4000, 500)
    body_idx = rng.integers(0, len(body_pool), size=q)
    question_rows, qt_rows = [], []
    qt_id = 0
    tag_counts = np.zeros(t, dtype=int)
    for i in range(q):
        title = " ".join(rng.choice(words, size=int(title_len[i]))).capitalize() + "?"
        question_rows.append((i + 1, title, body_pool[body_idx[i]], int(author[i]), created[i],
                              int(score[i]), int(views[i]), int(answers_per_q[i])))
    n_tags = rng.integers(1, 6, size=q)
    tag_draws = rng.choice(t, size=int(n_tags.sum()) * 2, p=tag_weights)
    pos = 0
    for i in range(q):
        chosen = []
        while len(chosen) < n_tags[i]:
            if pos >= len(tag_draws):
                tag_draws = rng.choice(t, size=1000, p=tag_weights)
                pos = 0
            tag = int(tag_draws[pos])
            pos += 1
            if tag not in chosen:
                chosen.append(tag)
        for tag in chosen:
            qt_id += 1
            qt_rows.append((qt_id, i + 1, tag + 1))
            tag_counts[tag] += 1
    tags = [(i + 1, tag_names[i], int(tag_counts[i])) for i in range(t)]

    # Answers.
    total_answers = int(answers_per_q.sum())
    answer_q = np.repeat(np.arange(1, q + 1), answers_per_q)
    answer_author = rng.choice(m, size=total_answers, p=zipf_weights(m, 0.9)) + 1
    answer_pool = _text_pool(rng, 3000, 350)
    answer_body = rng.integers(0, len(answer_pool), size=total_answers)
    answer_score = rng.poisson(2.0, size=total_answers) - rng.poisson(0.3, size=total_answers)
    q_created = np.array([(c - EPOCH).total_seconds() for c in created])
    answer_created = when(q_created[answer_q - 1] + rng.exponential(86400 * 3, size=total_answers))
    first_of_q = np.r_[0, np.cumsum(answers_per_q)[:-1]]
    accepted = np.zeros(total_answers, dtype=bool)
    has = answers_per_q > 0
    accept = has & (rng.random(q) < 0.6)
    accepted[first_of_q[accept]] = True
    answers = [(j + 1, int(answer_q[j]), int(answer_author[j]), answer_pool[answer_body[j]],
                answer_created[j], int(answer_score[j]), bool(accepted[j]))
               for j in range(total_answers)]

    # Votes: on popular questions more often.
    v = shape.votes
    vote_q = rng.choice(q, size=v, p=zipf_weights(q, 0.9)[np.argsort(popularity_rank)]) + 1
    vote_member = rng.integers(1, m + 1, size=v)
    vote_value = np.where(rng.random(v) < 0.9, 1, -1)
    vote_created = when(rng.uniform(SPAN_SECONDS * 0.5, SPAN_SECONDS, size=v))
    votes = [(k + 1, int(vote_member[k]), int(vote_q[k]), int(vote_value[k]), vote_created[k])
             for k in range(v)]

    return {
        "qa_member": (("id", "display_name", "reputation", "created"), members),
        "qa_tag": (("id", "name", "question_count"), tags),
        "qa_question": (("id", "title", "body", "author_id", "created", "score", "view_count",
                         "answer_count"), question_rows),
        "qa_question_tags": (("id", "question_id", "tag_id"), qt_rows),
        "qa_answer": (("id", "question_id", "author_id", "body", "created", "score", "accepted"),
                      answers),
        "qa_vote": (("id", "member_id", "question_id", "value", "created"), votes),
    }


# the foreign keys of the tables being written, each as ALTER TABLE puts it back
_FOREIGN_KEYS = ("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                 "FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s) "
                 "ORDER BY conrelid::regclass::text, conname")


def load(tables, connection, stdout=None) -> dict[str, float]:
    """Write generated tables through a Django connection; returns seconds per table.

    On PostgreSQL each foreign key is checked once for the whole table instead of row by row:
    dropped before the COPY and added back after it, with its name and definition, in the
    caller's transaction (``seed`` runs in one). Django's keys are deferred, so the row-by-row
    checks all ran at commit: 5 of the 12 s that 100k questions took. Adding a key back
    checks every row (one join), so a row that breaks one still fails the seed."""
    timings = {}
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        raw = connection.connection
        with raw.cursor() as cur:
            cur.execute(_FOREIGN_KEYS, (list(tables),))
            keys = cur.fetchall()
            for table, name, _ in keys:
                cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for table, (columns, rows) in tables.items():
                start = time.perf_counter()
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT COALESCE(MAX(id), 1) FROM {table}))")
                timings[table] = time.perf_counter() - start
            start = time.perf_counter()
            for table, name, definition in keys:
                cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            timings["foreign keys"] = time.perf_counter() - start
            cur.execute("ANALYZE")
    else:
        from django.apps import apps

        models = {m._meta.db_table: m for m in apps.get_app_config("qa").get_models()}
        models["qa_question_tags"] = models["qa_question"].tags.through
        for table, (columns, rows) in tables.items():
            start = time.perf_counter()
            model = models[table]
            fields = [model._meta.get_field(c.removesuffix("_id") if c.endswith("_id") and c != "id"
                                            else c).attname for c in columns]
            model.objects.bulk_create((model(**dict(zip(fields, r))) for r in rows),
                                      batch_size=2000)
            timings[table] = time.perf_counter() - start
    return timings
