"""Reads to the replica, writes to the primary (notebook 06), and read-your-writes.

``PrimaryReplicaRouter`` is installed when a replica is configured (``QA_DB_REPLICA_PORT``).
A request that writes reads from the primary for the rest of the request; with
``QA_READ_YOUR_WRITES_S`` > 0, ``ReadYourWritesMiddleware`` also marks the visitor who wrote
(a cookie that lives that many seconds) and sends their reads to the primary until it
expires: they see their own answer at once, however far the replica lags, at the cost of
those reads landing on the primary.
"""

import contextvars

from django.conf import settings

_READ_PRIMARY = contextvars.ContextVar("qa_read_primary", default=False)
COOKIE = "qa_wrote"


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        return "default" if _READ_PRIMARY.get() else "replica"

    def db_for_write(self, model, **hints):
        _READ_PRIMARY.set(True)  # this request's later reads see its write
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies of it

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"  # the replica follows the primary's schema


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
