"""A logged-in visitor, for notebook 05: a session made at login and used on every request.

``/s/login/?user=N`` starts a session for user N (no password: the lab measures where the
session lives, not authentication). ``/s/me/`` reads it and writes it back (a view count, as a
last-seen time or a basket would), answering 403 when the request's session is not found:
what a visitor sees as being logged out. Each answer names the process that served it.
"""

import os

from django.http import JsonResponse


def login(request):
    try:
        user = int(request.GET.get("user", ""))
    except ValueError:
        return JsonResponse({"error": "user must be a whole number"}, status=400)
    request.session.cycle_key()
    request.session["user"] = user
    request.session["views"] = 0
    return JsonResponse({"user": user, "pid": os.getpid()})


def me(request):
    user = request.session.get("user")
    if user is None:
        return JsonResponse({"user": None, "pid": os.getpid()}, status=403)
    request.session["views"] = request.session.get("views", 0) + 1
    return JsonResponse({"user": user, "views": request.session["views"], "pid": os.getpid()})
