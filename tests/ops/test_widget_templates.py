"""The form renderer's flattened widget templates write Django's own HTML, byte for byte."""

from __future__ import annotations

import pytest
from django import forms
from django.forms.renderers import Jinja2
from django.http import QueryDict

from leasing.filters import PoolFilter, QueueFilter
from leasing.renderers import OURS, FormRenderer

HOSTILE = "\"><script>alert('x')</script>&amp;"
CHOICES = [("", "Any"), ("a", "Alpha"), ("b", HOSTILE), ("<c>", "C & D")]
GROUPED = [("", "None"), ("Fruit", [("apple", "Apple"), ("pear", "<Pear>")]), ("x", "X")]


class Everything(forms.Form):
    text = forms.CharField(widget=forms.TextInput(attrs={"placeholder": HOSTILE}))
    search = forms.CharField(
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True, "hidden": False})
    )
    plain = forms.CharField(required=False)
    choice = forms.ChoiceField(choices=CHOICES)
    grouped = forms.ChoiceField(choices=GROUPED, required=False)
    many = forms.MultipleChoiceField(choices=CHOICES, required=False)
    boxes = forms.MultipleChoiceField(
        choices=CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )
    radios = forms.ChoiceField(choices=CHOICES, widget=forms.RadioSelect, required=False)
    flag = forms.NullBooleanField()
    number = forms.IntegerField(required=False)
    day = forms.DateField(required=False)


DATA = [
    {},
    {"text": HOSTILE, "search": "x", "choice": "b", "grouped": "pear"},
    {"many": ["a", "<c>"], "boxes": ["b", "<c>"], "radios": "a", "flag": "true"},
    {"text": "", "choice": "nope", "boxes": ["nope"], "number": "1e9", "day": "2026-13-01"},
]


def html_of(form: forms.BaseForm) -> list[str]:
    written = []
    for field in form:
        written.append(str(field))
        written.extend(str(sub) for sub in field.subwidgets)
    return written


@pytest.mark.parametrize("data", DATA)
def test_same_html_as_djangos_templates(data):
    # Django's own Jinja2 renderer, which this one replaces. (Its template-language
    # renderer escapes quotes as &quot; rather than &#34;: the same text in a browser.)
    ours = html_of(Everything(data or None, renderer=FormRenderer()))
    theirs = html_of(Everything(data or None, renderer=Jinja2()))
    assert ours == theirs
    assert len(ours) > 20


@pytest.mark.parametrize("data", ["", "status=requested&claimed=mine&sort=newest&q=<b>"])
def test_the_queue_filters_are_unchanged(data):
    def filters(renderer: object) -> list[str]:
        form = QueueFilter(QueryDict(data)).form
        form.renderer = renderer
        return html_of(form)

    assert filters(FormRenderer()) == filters(Jinja2())
    assert filters(FormRenderer()) != []


def test_pool_filters_are_unchanged():
    def filters(renderer: object) -> list[str]:
        form = PoolFilter({"state": ["ready"], "followers_min": "10"}).form
        form.renderer = renderer
        return html_of(form)

    assert filters(FormRenderer()) == filters(Jinja2())


def test_the_flattened_templates_are_the_ones_used():
    renderer = FormRenderer()
    for name in ("text.html", "select.html", "checkbox_option.html"):
        template = renderer.get_template(f"django/forms/widgets/{name}")
        assert template.origin.name == str(OURS / "django/forms/widgets" / name)
