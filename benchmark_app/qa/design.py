"""Database design variants of the site's pages and writes (notebook 07).

- ``/d/home/naive/``: the home page as it is often first written, without ``select_related``
  and ``prefetch_related``: the template then runs a query for each question's author and one
  for its tags (the N+1 pattern). Same HTML as ``/``.
- ``/d/vote/<way>/<pk>/`` (POST): an up-vote done one of four ways, each one transaction
  that records the vote and changes the score:
  ``rmw`` reads the score into Python and writes it back (read-modify-write: concurrent
  votes overwrite each other); ``f`` adds in the database (``F("score") + 1``); ``locked``
  reads with ``select_for_update`` (the row stays locked until commit), then writes;
  ``append`` appends a ``PendingVote`` row and locks nothing, and a roll-up adds them later.
- ``/d/rollup/`` (POST): the roll-up, what a periodic task would run: moves every pending
  vote into ``Vote`` and adds them to the scores, in one statement.
"""

from django.db import connection, transaction
from django.db.models import F
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .models import Member, PendingVote, Question, Vote
from .views import HOME_QUESTIONS, _sidebar_tags

WAYS = ("rmw", "f", "locked", "append")
_member_id = None


def home_naive(request):
    """The home page's questions without joining their authors or fetching their tags."""
    questions = Question.objects.order_by("-score", "id")[:HOME_QUESTIONS]
    return render(request, "qa/home.html",
                  {"questions": questions, "sidebar_tags": _sidebar_tags()})


def _voter() -> int:
    global _member_id
    if _member_id is None:
        _member_id = Member.objects.order_by("id").values_list("id", flat=True).first()
    return _member_id


@csrf_exempt
@require_POST
def vote(request, way, pk):
    if way not in WAYS:
        return JsonResponse({"error": f"way must be one of {', '.join(WAYS)}"}, status=404)
    now, member = timezone.now(), _voter()
    with transaction.atomic():
        if way == "append":
            if not Question.objects.filter(pk=pk).exists():
                return JsonResponse({"error": f"no question {pk}"}, status=404)
            PendingVote.objects.create(member_id=member, question_id=pk, value=1, created=now)
            return JsonResponse({"id": pk, "way": way})
        if way == "f":
            if not Question.objects.filter(pk=pk).update(score=F("score") + 1):
                return JsonResponse({"error": f"no question {pk}"}, status=404)
        else:
            rows = Question.objects.filter(pk=pk).only("id", "score")
            question = (rows.select_for_update() if way == "locked" else rows).first()
            if question is None:
                return JsonResponse({"error": f"no question {pk}"}, status=404)
            question.score += 1
            question.save(update_fields=["score"])
        Vote.objects.create(member_id=member, question_id=pk, value=1, created=now)
    return JsonResponse({"id": pk, "way": way})


ROLL_UP = """
WITH moved AS (
    DELETE FROM qa_pendingvote RETURNING member_id, question_id, value, created
), recorded AS (
    INSERT INTO qa_vote (member_id, question_id, value, created)
    SELECT member_id, question_id, value, created FROM moved
), totals AS (
    SELECT question_id, sum(value) AS total, count(*) AS votes FROM moved GROUP BY question_id
), scored AS (
    UPDATE qa_question q SET score = q.score + t.total FROM totals t WHERE q.id = t.question_id
)
SELECT coalesce(sum(votes), 0) FROM totals
"""


def roll_up() -> int:
    """Move every pending vote into Vote and add it to its question's score, atomically (one
    statement: a vote appended meanwhile waits for the next roll-up). Returns the votes moved."""
    with connection.cursor() as cursor:
        cursor.execute(ROLL_UP)
        return int(cursor.fetchone()[0])


@csrf_exempt
@require_POST
def rollup(request):
    return JsonResponse({"rolled": roll_up()})
