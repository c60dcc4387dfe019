"""The Jinja2 environment of notebook 08's pages: Django's own helpers under the names the
templates use, so the Jinja2 page renders the same HTML as the Django one."""

from django.templatetags.static import static
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.text import Truncator
from django.utils.timesince import timesince
from jinja2 import Environment


def _url(name, *args):
    return reverse(name, args=args)


def _now(fmt):
    return dateformat.format(timezone.now(), fmt)


def _truncatechars(value, length):
    return Truncator(value).chars(length)


def environment(**options):
    options.setdefault("keep_trailing_newline", True)  # as Django keeps an include's last newline
    env = Environment(**options)
    env.globals.update(static=static, url=_url, now=_now)
    env.filters.update(truncatechars=_truncatechars, timesince=timesince)
    return env
