"""One small seeded site for every app test: seeded once per session into the SQLite test
database. Each test runs in a transaction that is rolled back, so every test sees the same
data, whatever the one before it wrote."""

import os

import pytest
from django.core.management import call_command

SITE = {"questions": 300, "seed": 7}  # the one data set size of the app tests


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), open(os.devnull, "w") as quiet:
        call_command("seed", **SITE, stdout=quiet)


@pytest.fixture
def seeded(db):
    """The seeded site; returns its number of questions."""
    from qa.models import Question

    return Question.objects.count()
