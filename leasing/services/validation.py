"""Checks on niche values, shared by lease requests, the pool import and the API."""

from __future__ import annotations

import re

import langcodes
import pycountry

_BCP47_CHARS = re.compile(r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$")


def language_problem(tag: str) -> str | None:
    """Why `tag` is not a BCP-47 language tag, or None when it is one."""
    if not _BCP47_CHARS.match(tag) or not langcodes.tag_is_valid(tag):
        return f"{tag!r} is not a BCP-47 language tag (for example en, en-US, pt-BR)"
    return None


def language_primary(tag: str) -> str:
    """The primary language subtag, lower-case: en-US -> en. Empty for an empty tag."""
    if not tag:
        return ""
    return tag.split("-", 1)[0].lower()


def country_code(code: str) -> str | None:
    """The upper-case ISO 3166-1 alpha-2 code, or None when `code` is not one."""
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        return None
    country = pycountry.countries.get(alpha_2=code.upper())
    return country.alpha_2 if country is not None else None


def normalize_vertical(value: str) -> str:
    return " ".join(value.split()).lower()
