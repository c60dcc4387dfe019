"""No input reaches a 500: every page's parameters swept with arbitrary text (Hypothesis)."""

import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

# {} is where the generated text goes, quoted as a client would send it
TEMPLATES = [
    "/tags/{}/", "/tags/python/?page={}", "/q/1/?page={}", "/api/questions/{}/",
    "/c/q/1/?ttl={}", "/c/q/1/?ns={}", "/c/q/1/?ttl=5&ns={}", "/c/view/?x={}",
    "/c/probe/?op={}&n=1", "/c/probe/?op=hit&n={}", "/c/probe/?backend={}&op=hit&n=1",
    "/c/api/q/1/?backend={}", "/c/toptags/naive/?ttl={}", "/c/toptags/locked/?ttl={}",
    "/w/io/?ms={}", "/w/io-async/?ms={}", "/w/cpu/?x={}", "/health/?x={}",
]


@pytest.mark.parametrize("template", TEMPLATES)
@hsettings(max_examples=25, deadline=None,
           suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=12) | st.sampled_from(["\x00", "²", "٣", "-1", "1e3", "99999999999999999999", " 5", "5 "]))
def test_no_input_reaches_a_500(client, seeded, settings, template, text):
    settings.UPSTREAM_URL = ""  # the IO views answer 400 instead of waiting on an upstream
    url = template.format(urllib.parse.quote(text, safe=""))
    status = client.get(url).status_code
    assert status < 500, f"{url} answered {status}"
