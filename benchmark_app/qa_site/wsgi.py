"""WSGI entry point: gunicorn qa_site.wsgi:application"""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qa_site.settings")
application = get_wsgi_application()
