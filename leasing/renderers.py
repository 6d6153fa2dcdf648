"""The form renderer: Django's Jinja2 widget templates, a few of them flattened."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import django.forms
from django.forms.renderers import Jinja2

DJANGOS_WIDGETS = Path(django.forms.__file__).parent / "jinja2"
OURS = Path(__file__).parent / "jinja2"


class FormRenderer(Jinja2):
    """Django's Jinja2 form renderer, looking in leasing/jinja2 first.

    There, the text box, the select and the checkbox option write the markup Django's
    templates write, in one template each: Django's include attrs.html, input.html and a
    template per option, and an include costs about as much as the markup it adds. The
    queue redraws nine filters on every visit (2.2 ms of its page).
    tests/ops/test_widget_templates.py checks the HTML is Django's, byte for byte.
    """

    @cached_property
    def engine(self) -> Any:
        return self.backend(
            {
                "APP_DIRS": False,
                "DIRS": [OURS, DJANGOS_WIDGETS],
                "NAME": "leasing-forms",
                "OPTIONS": {},
            }
        )
