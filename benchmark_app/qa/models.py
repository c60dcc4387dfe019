"""A small StackOverflow: members ask questions, others answer, everyone votes, tags group them."""

from django.db import models


class Member(models.Model):
    display_name = models.CharField(max_length=60)
    reputation = models.IntegerField(default=1)
    created = models.DateTimeField()

    def __str__(self):
        return self.display_name


class Tag(models.Model):
    name = models.CharField(max_length=40, unique=True)
    question_count = models.IntegerField(default=0, db_index=True)

    def __str__(self):
        return self.name


class Question(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField()
    author = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="questions")
    created = models.DateTimeField()
    score = models.IntegerField(default=0, db_index=True)
    view_count = models.IntegerField(default=0)
    answer_count = models.IntegerField(default=0)
    tags = models.ManyToManyField(Tag, related_name="questions")

    def __str__(self):
        return self.title


class Answer(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    author = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="answers")
    body = models.TextField()
    created = models.DateTimeField()
    score = models.IntegerField(default=0)
    accepted = models.BooleanField(default=False)


class Vote(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="votes")
    value = models.SmallIntegerField()
    created = models.DateTimeField()


class SeedInfo(models.Model):
    """One row once ``manage.py seed`` has finished: what was seeded, so reseeding is skipped."""

    questions = models.IntegerField()
    seed = models.IntegerField()
    format_version = models.IntegerField()
    seconds = models.FloatField()
    finished = models.DateTimeField(auto_now_add=True)


class PendingVote(models.Model):
    """A vote appended on its own, no row locked (notebook 07's append-only way): a roll-up
    (``qa.design.roll_up``) moves pending votes into ``Vote`` and adds them to the scores."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE)
    question = models.ForeignKey(Question, on_delete=models.CASCADE)
    value = models.SmallIntegerField()
    created = models.DateTimeField()
