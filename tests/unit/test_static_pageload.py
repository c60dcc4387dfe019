"""The page-load client's pure parts: which assets a page links, how long a response lives."""

from email.message import Message

from scalelab.experiments.static import assets_of, lifetime


def _headers(**kv):
    m = Message()
    for k, v in kv.items():
        m[k.replace("_", "-")] = v
    return m


def test_assets_are_the_linked_css_js_and_images_each_once():
    html = ('<link rel="stylesheet" href="/static/a.css"><link rel="icon" href="/static/l.png">'
            '<img src="/static/l.png"><script src="b.js" defer></script><a href="/q/1/">q</a>')
    assert assets_of(html, "http://127.0.0.1:8000/") == [
        "http://127.0.0.1:8000/static/a.css", "http://127.0.0.1:8000/static/l.png",
        "http://127.0.0.1:8000/b.js"]


def test_a_lifetime_comes_from_max_age_else_expires_minus_date():
    assert lifetime(_headers(Cache_Control="public, max-age=3600")) == 3600
    assert lifetime(_headers(Cache_Control="max-age=60, no-cache")) == 0
    assert lifetime(_headers(Date="Fri, 27 Nov 2026 12:00:00 GMT",
                             Expires="Fri, 27 Nov 2026 13:00:00 GMT")) == 3600
    assert lifetime(_headers(Last_Modified="Fri, 27 Nov 2026 12:00:00 GMT")) == 0
