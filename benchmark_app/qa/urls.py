from django.conf import settings
from django.urls import path, re_path
from django.views.static import serve

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("q/<int:pk>/", views.question_detail, name="question"),
    path("tags/<str:name>/", views.tag_page, name="tag"),
    path("api/questions/<int:pk>/", views.api_question, name="api_question"),
    path("api/questions/<int:pk>/vote/", views.api_vote, name="api_vote"),
    path("health/", views.health, name="health"),
]

if settings.STATIC_MODE == "django":
    # Django serving its own static files, as a site that skipped nginx would (claim C8).
    urlpatterns.append(re_path(r"^static/(?P<path>.*)$", serve,
                               {"document_root": settings.STATIC_ROOT}))
