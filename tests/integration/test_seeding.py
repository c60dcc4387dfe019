"""Seeding on PostgreSQL: the foreign keys that ``seeding.load`` drops for its COPY come back
as Django's migrations made them, checked, and a row that breaks one fails the seed."""

import os
import subprocess
import sys

import pytest

from scalelab import Stack
from scalelab.plumbing import paths
from scalelab.servers import AppConfig

pytestmark = [pytest.mark.servers, pytest.mark.unmeasured]  # behaviour only

KEYS = ("SELECT conrelid::regclass::text, conname, convalidated, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE contype = 'f' ORDER BY 1, 2")
BROKEN_SEED = """
import django
django.setup()
from django.db import connection, transaction
from qa import seeding
tables = seeding.generate(20, 1)
columns, rows = tables["qa_vote"]
rows[0] = (rows[0][0], 10**6, *rows[0][2:])  # a vote by a member who does not exist
try:
    with transaction.atomic():
        seeding.load(tables, connection)
except Exception as exc:
    print("refused:", type(exc).__name__, exc)
else:
    print("seeded")
"""


@pytest.fixture
def scratch():
    """An empty database in a running cluster, migrated; the database and how to reach it."""
    with Stack(questions=2_000, label="test-seeding") as stack:
        db = stack.services["db"]
        name = f"qa_test_seeding_{os.getpid()}"
        db.ensure_database(name)
        env = {**os.environ, **AppConfig(db_port=db.port, db_name=name, conn_max_age=0).env()}

        def manage(*args):
            done = subprocess.run([sys.executable, *args], cwd=paths.APP_DIR, env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout

        manage("manage.py", "migrate", "--no-input", "-v", "0")
        try:
            yield db, name, manage
        finally:
            db.query(f'DROP DATABASE IF EXISTS "{name}"')


def test_the_foreign_keys_come_back_as_migrated_and_a_broken_row_fails(scratch):
    db, name, manage = scratch
    migrated = db.query(KEYS, dbname=name)
    assert len(migrated) >= 9 and all(valid for _, _, valid, _ in migrated)

    out = manage("-c", BROKEN_SEED)
    assert "refused:" in out and "qa_vote" in out, out
    assert db.query(KEYS, dbname=name) == migrated, "the keys are back after the rollback"
    assert db.query("SELECT count(*) FROM qa_member", dbname=name)[0][0] == 0

    out = manage("manage.py", "seed", "--questions", "50", "--seed", "1")
    assert "seeded 50 questions" in out
    assert db.query(KEYS, dbname=name) == migrated
    assert db.query("SELECT count(*) FROM qa_vote", dbname=name)[0][0] == 50
