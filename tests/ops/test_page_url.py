"""`page_url`: the header's links say what `{% url %}` says, under any script prefix and
URLconf, though each is looked up once."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.urls import clear_script_prefix, path, set_script_prefix

from leasing.ops.urls import urlpatterns as ops_urlpatterns

NAMES = ["ops:queue", "ops:partners", "ops:pool", "ops:search", "ops:report-queue", "ops:login"]


def both(name: str) -> tuple[str, str]:
    context = Context({"name": name})
    ours = Template("{% load desk %}{% page_url name %}").render(context)
    djangos = Template("{% url name %}").render(context)
    return ours, djangos


@pytest.mark.parametrize("name", NAMES)
def test_same_url_as_the_url_tag(name):
    ours, djangos = both(name)
    assert ours == djangos
    assert ours.startswith("/")


def test_follows_the_script_prefix():
    before, _ = both("ops:pool")
    set_script_prefix("/desk/")
    try:
        ours, djangos = both("ops:pool")
    finally:
        clear_script_prefix()
    assert ours == djangos == "/desk" + before
    assert both("ops:pool")[0] == before


# A URLconf that mounts the dashboard somewhere else, as a test may.
urlpatterns = [path("elsewhere/", (ops_urlpatterns, "ops", "ops"))]


def test_a_swapped_urlconf_is_not_answered_from_the_cache():
    before, _ = both("ops:pool")
    with override_settings(ROOT_URLCONF=__name__):
        ours, djangos = both("ops:pool")
        assert ours == djangos == "/elsewhere" + before
    assert both("ops:pool")[0] == before


def test_as_variable():
    text = Template("{% load desk %}{% page_url 'ops:queue' as home %}[{{ home }}]").render(
        Context()
    )
    assert text == f"[{both('ops:queue')[1]}]"
