"""manage.py seed --questions N [--seed S] [--force]: build the deterministic data set.

Skips the work when the database already holds the same (questions, seed, format version);
refuses to mix data sets unless --force, which empties the tables first.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from qa import seeding
from qa.models import Answer, Member, Question, SeedInfo, Tag, Vote

MAX_QUESTIONS = 5_000_000


class Command(BaseCommand):
    help = "Fill the database with a deterministic Q&A data set (same seed, same data)."

    def add_arguments(self, parser):
        parser.add_argument("--questions", type=int, default=1000,
                            help=f"number of questions, 1 to {MAX_QUESTIONS:,} (default 1000)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument("--force", action="store_true",
                            help="empty the tables first if they hold another data set")

    def handle(self, *args, questions, seed, force, **options):
        if not 1 <= questions <= MAX_QUESTIONS:
            raise CommandError(f"--questions must be from 1 to {MAX_QUESTIONS:,}, not {questions}")
        if seed < 0:
            raise CommandError(f"--seed must be 0 or more, not {seed}")
        done = SeedInfo.objects.order_by("-id").first()
        if done and (done.questions, done.seed, done.format_version) == (
                questions, seed, seeding.FORMAT_VERSION):
            self.stdout.write(f"already seeded: {questions} questions, seed {seed}")
            return
        has_data = Question.objects.exists() or Member.objects.exists()
        if has_data and not force:
            raise CommandError(
                "the database already holds another data set"
                + (f" ({done.questions} questions, seed {done.seed})" if done else "")
                + "; pass --force to replace it")
        start = time.perf_counter()
        tables = seeding.generate(questions, seed)
        generated = time.perf_counter() - start
        with transaction.atomic():
            if has_data or done:
                for model in (Vote, Answer, Question.tags.through, Question, Tag, Member,
                              SeedInfo):
                    model.objects.all().delete()
            timings = seeding.load(tables, connection)
            seconds = time.perf_counter() - start
            SeedInfo.objects.create(questions=questions, seed=seed,
                                    format_version=seeding.FORMAT_VERSION, seconds=seconds)
        rows = ", ".join(f"{t.removeprefix('qa_')} {len(r):,}" for t, (_, r) in tables.items())
        self.stdout.write(f"seeded {questions:,} questions (seed {seed}) in {seconds:.1f} s "
                          f"(generate {generated:.1f} s, write {sum(timings.values()):.1f} s): "
                          f"{rows}")
