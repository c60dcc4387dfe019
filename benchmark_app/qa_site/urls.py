from django.urls import include, path

urlpatterns = [path("", include("qa.urls"))]
