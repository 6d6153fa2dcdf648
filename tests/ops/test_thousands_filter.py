"""`thousands`: what humanize's intcomma says for a whole number, in English."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from leasing.templatetags.desk import thousands

NUMBERS = [0, 7, 999, 1_000, 12_345, 999_999, 1_000_000, 1_234_567_890, -1, -1_234, -1_000_000]


def intcomma_says(value: object) -> str:
    return Template("{% load humanize %}{{ value|intcomma }}").render(Context({"value": value}))


@pytest.mark.parametrize("value", NUMBERS)
def test_same_text_as_intcomma(value):
    assert thousands(value) == intcomma_says(value)


def test_in_a_template():
    text = Template("{% load desk %}{{ n|thousands }}").render(Context({"n": 1_234_567}))
    assert text == "1,234,567"
