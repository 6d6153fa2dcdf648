"""Render a dashboard page, or just the region of it that htmx asked for.

A page template marks its htmx regions with `{% partialdef <id> %}` where `<id>` is also
the id of the element htmx swaps. htmx sends that id as `HX-Target`, so when it names a
partial of the page we render `page.html#<id>`; any other request (a normal visit, a
history restore, a target that is not a region) gets the whole page. Views therefore never
branch on htmx themselves: they build one context and call `render_page`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils.cache import add_never_cache_headers, patch_vary_headers


def htmx_region(request: HttpRequest, template_name: str) -> str | None:
    """The partial of `template_name` this htmx request targets, or None."""
    htmx = getattr(request, "htmx", None)
    target = htmx.target if htmx else None
    if not target:
        return None
    try:
        get_template(f"{template_name}#{target}")
    except TemplateDoesNotExist:
        return None
    return str(target)


def render_page(
    request: HttpRequest,
    template_name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HttpResponse:
    region = htmx_region(request, template_name)
    if region is None:
        response = render(request, template_name, context, status=status)
    else:
        response = render(request, f"{template_name}#{region}", context, status=status)
        if get_messages(request):
            # A fragment has no message area of its own; swap the page's one out of band.
            response.content += render_to_string(
                "includes/messages.html", {"oob": True}, request=request
            ).encode()
    # The same URL answers with a page or a fragment: caches must keep them apart.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    # Live data about partners' money: never stored, and Back asks the server again
    # (no-store also keeps the page out of the browser's back/forward cache).
    add_never_cache_headers(response)
    return response
