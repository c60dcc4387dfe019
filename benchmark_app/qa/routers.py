"""Reads to the replicas, writes to the primary (notebook 06), and read-your-writes.

``PrimaryReplicaRouter`` is installed when replicas are configured (``QA_DB_REPLICA_PORT``,
one port or several: aliases ``replica``, ``replica2``, ...). Each read goes to one of the
replicas that are up, picked at random (as Django's documentation does it), so a tier of
replicas shares the reads evenly; a request's queries may land on different replicas.
A request that writes reads from the primary for the rest of the request; with
``QA_READ_YOUR_WRITES_S`` > 0, ``ReadYourWritesMiddleware`` also marks the visitor who wrote
(a cookie that lives that many seconds) and sends their reads to the primary until it
expires: they see their own answer at once, however far the replica lags, at the cost of
those reads landing on the primary.

When a replica cannot be reached, its reads go elsewhere: a request that fails on a
replica's connection (Django's ``got_request_exception``) marks it down in this process, and
from then on reads go to the other replicas, or to the primary when none is up. While it is
down, the router tries a connection to it at most every ``QA_REPLICA_RETRY_S`` seconds (1 by
default); the first that works sends reads back to it. What it costs: the requests that were on the replica when it failed, one or
more per process, and the primary doing every read meanwhile.
"""

import contextvars
import random
import threading
import time

import psycopg
from django.conf import settings
from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError, connections

_READ_PRIMARY = contextvars.ContextVar("qa_read_primary", default=False)
COOKIE = "qa_wrote"


class ReplicaHealth:
    """Whether this process reads from replica ``alias``: up until a request fails on it,
    then down until a connection to it works again (tried at most every ``retry_s``
    seconds)."""

    def __init__(self, alias: str, retry_s: float):
        self.alias = alias
        self.retry_s = retry_s
        self.down = False
        self._next_try = 0.0
        self._lock = threading.Lock()

    def usable(self) -> bool:
        if not self.down:
            return True
        with self._lock:
            now = time.monotonic()
            if self.down and now >= self._next_try:
                self._next_try = now + self.retry_s
                self.down = not _reachable(self.alias)
        return not self.down

    def mark_down(self) -> None:
        with self._lock:
            if not self.down:
                self.down = True
                self._next_try = time.monotonic() + self.retry_s


def _reachable(alias: str) -> bool:
    db = settings.DATABASES[alias]
    try:
        psycopg.connect(host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=db["USER"],
                        password=db["PASSWORD"] or None, connect_timeout=1).close()
        return True
    except psycopg.Error:
        return False


REPLICAS = [alias for alias in settings.DATABASES if alias.startswith("replica")]
HEALTH = {alias: ReplicaHealth(alias, getattr(settings, "REPLICA_RETRY_S", 1.0))
          for alias in REPLICAS}


def _replica_failed(sender, request=None, **kwargs) -> None:
    """A request raised: if the error is a lost or refused connection, each replica whose
    connection saw an error is down."""
    import sys

    error = sys.exc_info()[1]
    if not isinstance(error, (OperationalError, InterfaceError)):
        return
    for alias in REPLICAS:
        if connections[alias].errors_occurred:
            HEALTH[alias].mark_down()


class PrimaryReplicaRouter:
    def __init__(self):
        got_request_exception.connect(_replica_failed, dispatch_uid="qa-replica-health")

    def db_for_read(self, model, **hints):
        if _READ_PRIMARY.get():
            return "default"
        up = [alias for alias in REPLICAS if HEALTH[alias].usable()]
        return random.choice(up) if up else "default"

    def db_for_write(self, model, **hints):
        _READ_PRIMARY.set(True)  # this request's later reads see its write
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, several copies of it

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"  # the replicas follow the primary's schema


class ReadYourWritesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.seconds = getattr(settings, "READ_YOUR_WRITES_S", 0)

    def __call__(self, request):
        token = _READ_PRIMARY.set(bool(self.seconds) and request.COOKIES.get(COOKIE) == "1")
        try:
            response = self.get_response(request)
        finally:
            _READ_PRIMARY.reset(token)
        if (self.seconds and request.method not in ("GET", "HEAD", "OPTIONS")
                and response.status_code < 400):
            response.set_cookie(COOKIE, "1", max_age=self.seconds, httponly=True,
                                samesite="Lax")
        return response
