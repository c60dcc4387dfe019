"""A seeded data set (``Dataset``): its size and seed name a database of its own in the
cluster, seeded once (migrate, cache table, deterministic COPY seeding); its popularity order
for the load generator, and the statement counts PostgreSQL keeps for it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scalelab.plumbing import paths
from scalelab.servers import AppConfig, Postgres, ServiceError

MAX_QUESTIONS = 2_000_000
DROPPED_TABLE = ("CREATE TABLE IF NOT EXISTS scalelab_dropped_index "
                 "(name text PRIMARY KEY, definition text NOT NULL)")
SEED_TIMEOUT = 900


def _format_version() -> int:
    sys.path.insert(0, str(paths.APP_DIR))
    try:
        from qa.seeding import FORMAT_VERSION  # the app's own constant, no Django needed
    finally:
        sys.path.remove(str(paths.APP_DIR))
    return FORMAT_VERSION


@dataclass(frozen=True)
class Dataset:
    """A seeded data set: its size and seed name a database of its own."""

    questions: int = 10_000
    seed: int = 42

    def __post_init__(self) -> None:
        if isinstance(self.questions, bool) or not isinstance(self.questions, int) \
                or not 1 <= self.questions <= MAX_QUESTIONS:
            raise ValueError(f"questions must be a whole number from 1 to {MAX_QUESTIONS:,}, "
                             f"not {self.questions!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a whole number 0 or more, not {self.seed!r}")

    @property
    def db_name(self) -> str:
        return f"qa_q{self.questions}_s{self.seed}_v{_format_version()}"

    def ensure_seeded(self, db: Postgres, log: Path) -> bool:
        """Seed the data set's database unless it is already complete; True if it seeded."""
        name = self.db_name
        if not db.ensure_database(name) and self.seed_complete(db):
            return False
        env = dict(os.environ)
        env.update(AppConfig(db_port=db.port, db_name=name, conn_max_age=0).env())
        with open(log, "a") as out:
            for args in (["migrate", "--no-input", "-v", "0"], ["createcachetable"],
                         ["seed", "--questions", str(self.questions),
                          "--seed", str(self.seed), "--force"]):
                try:
                    result = subprocess.run([sys.executable, "manage.py", *args],
                                            cwd=paths.APP_DIR, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, timeout=SEED_TIMEOUT)
                except subprocess.TimeoutExpired:
                    raise ServiceError(f"manage.py {args[0]} took more than {SEED_TIMEOUT} s; "
                                       f"see {log}") from None
                if result.returncode != 0:
                    tail = "\n".join(log.read_text().splitlines()[-20:])
                    raise ServiceError(f"manage.py {' '.join(args)} failed "
                                       f"(exit {result.returncode}); last lines of {log}:\n{tail}")
        return True

    def seed_complete(self, db: Postgres) -> bool:
        """Migrated, seeded to the end, with its cache table: nothing left to do."""
        name = self.db_name
        migrations = {p.stem for p in (paths.APP_DIR / "qa" / "migrations").glob("0*.py")}
        try:
            applied = {r[0] for r in db.query(
                "SELECT name FROM django_migrations WHERE app = 'qa'", dbname=name)}
            done = db.query("SELECT count(*) FROM qa_seedinfo", dbname=name)
            cache_table = db.query("SELECT to_regclass('qa_cache_table')", dbname=name)
        except Exception:
            return False
        return migrations <= applied and done[0][0] > 0 and cache_table[0][0] is not None

    def drop_index(self, db: Postgres, table: str, column: str) -> list[str]:
        """Drop every index on ``table`` that covers ``column`` alone (an experiment on a page
        without its index), after noting each one's definition in ``scalelab_dropped_index``
        so that :meth:`restore_indexes` puts them back, even after a run killed meanwhile.
        Returns the names dropped."""
        name = self.db_name
        found = db.query(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] "
            "WHERE t.relname = %s AND a.attname = %s AND x.indnatts = 1 "
            "AND NOT x.indisprimary AND NOT x.indisunique", (table, column), dbname=name)
        if not found and not db.query("SELECT 1 FROM information_schema.columns WHERE "
                                      "table_name = %s AND column_name = %s", (table, column),
                                      dbname=name):
            raise ValueError(f"no column {column!r} in table {table!r} of {name}")
        db.query(DROPPED_TABLE, dbname=name)
        for index, definition in found:
            db.query("INSERT INTO scalelab_dropped_index VALUES (%s, %s) ON CONFLICT DO NOTHING",
                     (index, definition), dbname=name)
            db.query(f'DROP INDEX IF EXISTS "{index}"', dbname=name)
        return [index for index, _ in found]

    def restore_indexes(self, db: Postgres) -> list[str]:
        """Create again every index :meth:`drop_index` dropped; returns their names."""
        name = self.db_name
        if db.query("SELECT to_regclass('scalelab_dropped_index')", dbname=name)[0][0] is None:
            return []
        rows = db.query("SELECT name, definition FROM scalelab_dropped_index", dbname=name)
        for index, definition in rows:
            if db.query("SELECT to_regclass(%s)", (index,), dbname=name)[0][0] is None:
                db.query(definition, dbname=name)
            db.query("DELETE FROM scalelab_dropped_index WHERE name = %s", (index,),
                     dbname=name)
        return [index for index, _ in rows]

    def enable_statement_stats(self, db: Postgres) -> None:
        """pg_stat_statements in the data set's database, where the server preloads it."""
        if "shared_preload_libraries=pg_stat_statements" not in " ".join(db.command()):
            return
        db.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", dbname=self.db_name)

    def statement_calls(self, db: Postgres) -> dict[str, float]:
        """Statement calls in the data set's database: all, and the vote-counting query
        (the expensive one of the stampede experiment). Empty without pg_stat_statements."""
        try:
            row = db.query(
                "SELECT coalesce(sum(calls), 0), coalesce(sum(calls) FILTER (WHERE query "
                "ILIKE '%count(%qa_vote%'), 0) FROM pg_stat_statements WHERE dbid = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                dbname=self.db_name)[0]
        except Exception:
            return {}
        return {"statements": float(row[0]), "vote_count_queries": float(row[1])}

    def popularity(self, db: Postgres) -> dict[str, list]:
        """Question ids by popularity (views) and tag names by use, most popular first.

        The load generator draws from these with a Zipf law, so the traffic follows the
        seeded data's own popularity.
        """
        name = self.db_name
        qids = [r[0] for r in db.query(
            "SELECT id FROM qa_question ORDER BY view_count DESC, id", dbname=name)]
        tags = [r[0] for r in db.query(
            "SELECT name FROM qa_tag ORDER BY question_count DESC, id", dbname=name)]
        return {"question_ids": qids, "tags": tags}
