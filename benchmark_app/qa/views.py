"""The pages of the Q&A site. Each does the queries a real page of its kind would."""

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .cache_keys import invalidate_question
from .models import Answer, Member, Question, Tag, Vote

HOME_QUESTIONS = 30
TAG_PAGE_SIZE = 30
SIDEBAR_TAGS = 20


def _sidebar_tags():
    return list(Tag.objects.order_by("-question_count")[:SIDEBAR_TAGS])


def home_questions():
    """The home page's questions: top by score, each with its author and tags."""
    return (Question.objects.select_related("author").prefetch_related("tags")
            .order_by("-score", "id")[:HOME_QUESTIONS])


def tag_questions(tag):
    """A tag page's questions, by score (the page shows TAG_PAGE_SIZE of them)."""
    return (tag.questions.select_related("author").prefetch_related("tags")
            .order_by("-score", "id"))


def home(request):
    """Top questions by score, each with its author and tags, plus the popular tags."""
    questions = home_questions()
    return render(request, "qa/home.html",
                  {"questions": questions, "sidebar_tags": _sidebar_tags()})


def question_detail(request, pk):
    """One question with its tags and every answer (accepted first, then by score)."""
    question = get_object_or_404(Question.objects.select_related("author")
                                 .prefetch_related("tags"), pk=pk)
    answers = (Answer.objects.filter(question=question).select_related("author")
               .order_by("-accepted", "-score", "id"))
    return render(request, "qa/question.html", {"question": question, "answers": answers})


def tag_page(request, name):
    """Questions with one tag, by score, 30 a page (?page=N)."""
    if "\x00" in name:  # PostgreSQL refuses NUL in text: no tag can have it
        raise Http404("no such tag")
    tag = get_object_or_404(Tag, name=name)
    page = Paginator(tag_questions(tag), TAG_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "qa/tag.html", {"tag": tag, "page": page,
                                           "sidebar_tags": _sidebar_tags()})


def api_question(request, pk):
    """The question and its answers as JSON."""
    question = get_object_or_404(Question.objects.select_related("author")
                                 .prefetch_related("tags"), pk=pk)
    answers = (Answer.objects.filter(question=question).select_related("author")
               .order_by("-accepted", "-score", "id"))
    return JsonResponse({
        "id": question.pk,
        "title": question.title,
        "body": question.body,
        "score": question.score,
        "views": question.view_count,
        "created": question.created.isoformat(),
        "author": {"id": question.author_id, "name": question.author.display_name,
                   "reputation": question.author.reputation},
        "tags": [t.name for t in question.tags.all()],
        "answers": [{"id": a.pk, "score": a.score, "accepted": a.accepted,
                     "author": a.author.display_name, "body": a.body} for a in answers],
    })


@csrf_exempt
@require_POST
def api_vote(request, pk):
    """Up-vote (or ?value=-1 down-vote) a question: one write to Vote, one update of the score."""
    value = request.GET.get("value", "1")
    if value not in ("1", "-1"):
        return JsonResponse({"error": "value must be 1 or -1"}, status=400)
    member_id = Member.objects.order_by("id").values_list("id", flat=True).first()
    updated = Question.objects.filter(pk=pk).update(score=F("score") + int(value))
    if not updated:
        return JsonResponse({"error": f"no question {pk}"}, status=404)
    Vote.objects.create(member_id=member_id, question_id=pk, value=int(value),
                        created=timezone.now())
    # a write drops the cached copies it changed
    alias = request.GET.get("backend", "default")
    ns = request.GET.get("ns", "")
    invalidate_question(pk, alias if alias in settings.CACHES else "default", ns if ns.isalpha() else "")
    return JsonResponse({"id": pk, "score": Question.objects.values_list("score", flat=True)
                         .get(pk=pk)})


def health(request):
    """'ok' without touching the database; ?db=1 also runs SELECT 1."""
    if request.GET.get("db"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
