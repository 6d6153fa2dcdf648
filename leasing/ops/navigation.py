"""Where an action sends the browser afterwards.

Actions answer with 303 See Other (post/redirect/get). htmx follows the redirect inside its
XMLHttpRequest, keeping the HX-Target header, so the page view it lands on renders just the
region that was asked for: one code path with and without JavaScript.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme


class HttpResponseSeeOther(HttpResponseRedirect):
    status_code = 303


def safe_next(request: HttpRequest) -> str | None:
    """The form's `next` target when it is a path on this site."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponseSeeOther:
    return HttpResponseSeeOther(safe_next(request) or fallback)
