"""The header search: an exact id opens its page; anything else lists what matches.

Two URLs for two answers: `search/` is where the form goes on Enter (it redirects on an
exact id, or shows every group in full), `search/suggest/` is the drop-down htmx fills as
you type (an exact id shows as the first suggestion instead of moving the page).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from leasing.forms import SearchForm
from leasing.ops.access import DeskRequest, role_required
from leasing.ops.render import render_page
from leasing.selectors import (
    SearchHit,
    SearchResults,
    find_by_id,
    partner_suggestions,
    search_everything,
)

SUGGEST_LIMIT = 5
PAGE_LIMIT = 25


def hit_url(hit: SearchHit) -> str:
    if hit.kind == "partner":
        return reverse("ops:partner", args=[hit.pk])
    if hit.kind == "project" and hit.organization_id:
        return reverse("ops:partner", args=[hit.organization_id]) + f"#project-{hit.pk}"
    if hit.kind == "account":
        return reverse("ops:pool-account", args=[hit.pk])
    if hit.kind == "request":
        return reverse("ops:request", args=[hit.pk])
    if hit.kind == "api_call" and hit.organization_id:
        query = urlencode({"request_id": hit.pk})
        return reverse("ops:partner", args=[hit.organization_id]) + f"?{query}#api-calls"
    # An API call without a partner (no valid key): the search page describes it.
    return reverse("ops:search") + "?" + urlencode({"q": hit.pk, "show": "1"})


def _query(request: DeskRequest) -> str:
    form = SearchForm(request.GET)
    return str(form.cleaned_data["q"]) if form.is_valid() else ""


@dataclass(frozen=True)
class Link:
    hit: SearchHit
    url: str


def _links(results: SearchResults) -> dict[str, object]:
    """What the templates draw: each hit with the URL it opens."""
    return {
        "exact": Link(results.exact, hit_url(results.exact)) if results.exact else None,
        "groups": [
            (label, [Link(hit, hit_url(hit)) for hit in hits]) for label, hits in results.groups
        ],
    }


@require_GET
@role_required()
def search_view(request: DeskRequest) -> HttpResponseBase:
    query = _query(request)
    exact = find_by_id(user=request.user, text=query) if query else None
    if exact is not None and request.GET.get("show") != "1":
        url = hit_url(exact)
        if not url.startswith(reverse("ops:search")):
            return HttpResponseRedirect(url)
    results = search_everything(user=request.user, text=query, limit=PAGE_LIMIT)
    context = {"nav": "search", "q": query, "results": results, **_links(results)}
    return render_page(request, "search/results.html", context)


@require_GET
@role_required()
def search_suggest_view(request: DeskRequest) -> HttpResponse:
    query = _query(request)
    results = search_everything(user=request.user, text=query, limit=SUGGEST_LIMIT)
    context = {"q": query, "results": results, **_links(results)}
    return render_page(request, "search/suggest.html", context)


@require_GET
@role_required()
def partner_suggest_view(request: DeskRequest) -> HttpResponse:
    """The <option>s of a partner filter's <datalist>, for what is typed in the box.

    The box is a filter's `partner` field, so that is the parameter htmx sends.
    """
    text = str(request.GET.get("partner", ""))[:200]
    names = partner_suggestions(user=request.user, text=text)
    response = render(request, "search/partner_options.html", {"names": names})
    add_never_cache_headers(response)
    return response
