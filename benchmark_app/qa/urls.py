from django.conf import settings
from django.urls import path, re_path
from django.views.static import serve

from . import caching, design, layers, sessions, views, workers

urlpatterns = [
    path("", views.home, name="home"),
    path("q/<int:pk>/", views.question_detail, name="question"),
    path("tags/<str:name>/", views.tag_page, name="tag"),
    path("api/questions/<int:pk>/", views.api_question, name="api_question"),
    path("api/questions/<int:pk>/vote/", views.api_vote, name="api_vote"),
    path("health/", views.health, name="health"),
    # caching variants (notebook 02)
    path("c/queryset/", caching.home_queryset, name="home_queryset"),
    path("c/fragment/", caching.home_fragment, name="home_fragment"),
    path("c/view/", caching.home_view, name="home_view"),
    path("c/q/<int:pk>/", caching.question_cached, name="question_cached"),
    path("c/api/q/<int:pk>/", caching.api_question_cached, name="api_question_cached"),
    path("c/probe/", caching.probe, name="cache_probe"),
    path("c/toptags/naive/", caching.top_tags_naive, name="top_tags_naive"),
    path("c/toptags/locked/", caching.top_tags_locked, name="top_tags_locked"),
    # CPU-bound and IO-bound endpoints (notebook 03)
    path("w/cpu/", workers.cpu, name="work_cpu"),
    path("w/io/", workers.io, name="work_io"),
    path("w/io-async/", workers.io_async, name="work_io_async"),
    # a logged-in visitor's session (notebook 05)
    path("s/login/", sessions.login, name="session_login"),
    path("s/me/", sessions.me, name="session_me"),
    # database design variants (notebook 07)
    path("d/home/naive/", design.home_naive, name="home_naive"),
    path("d/vote/<str:way>/<int:pk>/", design.vote, name="design_vote"),
    path("d/rollup/", design.rollup, name="design_rollup"),
    # the home page with its layers swapped (notebook 08; /bare/ is served before Django)
    path("l/home/raw/", layers.home_raw, name="home_raw"),
    path("l/home/jinja/", layers.home_jinja, name="home_jinja"),
    path("l/home/raw-jinja/", layers.home_raw_jinja, name="home_raw_jinja"),
]

if settings.STATIC_MODE == "django":
    # Django serving its own static files, as a site that skipped nginx would (claim C8).
    urlpatterns.append(re_path(r"^static/(?P<path>.*)$", serve,
                               {"document_root": settings.STATIC_ROOT}))
