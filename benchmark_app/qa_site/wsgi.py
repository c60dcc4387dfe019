"""WSGI entry point: gunicorn qa_site.wsgi:application

``/bare/...`` goes to a plain WSGI function (``qa/bare.py``, notebook 08) before Django sees
the request; everything else to Django.
"""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qa_site.settings")
django_application = get_wsgi_application()

from qa import bare  # noqa: E402  (needs the settings configured above)


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/bare/"):
        return bare.app(environ, start_response)
    return django_application(environ, start_response)
