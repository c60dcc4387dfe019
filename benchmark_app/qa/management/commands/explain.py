"""manage.py explain [--analyze] PAGE...: each page's main query and its plan, as JSON.

PAGE is ``home`` (the top questions by score) or ``tag`` (the most used tag's first page).
Prints ``{page: {"sql": ..., "plan": ...}}``. With --analyze the queries run (EXPLAIN
(ANALYZE, BUFFERS)): the plan says what each step cost and how many pages it read. Notebook
07 takes the SQL and sets its plans beside the throughput.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from qa.models import Tag
from qa.views import TAG_PAGE_SIZE, home_questions, tag_questions

PAGES = ("home", "tag")


class Command(BaseCommand):
    help = "Print the query plan of each page's main query as JSON."

    def add_arguments(self, parser):
        parser.add_argument("pages", nargs="+", help=f"one or more of: {', '.join(PAGES)}")
        parser.add_argument("--analyze", action="store_true",
                            help="run the queries: EXPLAIN (ANALYZE, BUFFERS)")

    def handle(self, *args, pages, analyze, **options):
        bad = [p for p in pages if p not in PAGES]
        if bad:
            raise CommandError(f"unknown page(s) {', '.join(bad)}; use: {', '.join(PAGES)}")
        out = {}
        for page in pages:
            if page == "home":
                qs = home_questions()
            else:
                tag = Tag.objects.order_by("-question_count", "id").first()
                if tag is None:
                    raise CommandError("no tags: seed the database first (manage.py seed)")
                qs = tag_questions(tag)[:TAG_PAGE_SIZE]
            extra = {"analyze": True, "buffers": True} if analyze else {}
            out[page] = {"sql": str(qs.query), "plan": qs.explain(**extra)}
        self.stdout.write(json.dumps(out))
