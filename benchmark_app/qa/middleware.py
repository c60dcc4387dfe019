"""Count the SQL queries each request runs and report them in an X-DB-Queries header.

Tests use it to assert behaviour (queries per page, cache hits issue none); notebooks use it
for queries per request. Off with QA_QUERY_COUNT_HEADER=0.
"""

from django.conf import settings
from django.db import connections


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.enabled = settings.QUERY_COUNT_HEADER

    def __call__(self, request):
        if not self.enabled:
            return self.get_response(request)
        counts = {}

        def counter(alias):
            def wrapper(execute, sql, params, many, context):
                counts[alias] = counts.get(alias, 0) + 1
                return execute(sql, params, many, context)
            return wrapper

        wrappers = [(c, counter(c.alias)) for c in connections.all()]
        for conn, wrapper in wrappers:
            conn.execute_wrappers.append(wrapper)
        try:
            response = self.get_response(request)
        finally:
            for conn, wrapper in wrappers:
                conn.execute_wrappers.remove(wrapper)
        response["X-DB-Queries"] = str(sum(counts.values()))
        if counts:
            response["X-DB-Queries-By-Alias"] = ",".join(f"{a}={n}" for a, n in sorted(counts.items()))
        return response
