"""Who may open which dashboard page.

Every dashboard view is wrapped in `role_required`: anonymous visitors go to the login page
(htmx requests get an HX-Redirect, so a poll after the session expired does not swap the
login form into a table), signed-in staff without the permission get the friendly 403 page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import resolve_url
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from leasing.services.audit import Actor

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Everyone who may open the dashboard has this; actions add their own permission on top.
DASHBOARD = "leasing.view_dashboard"
TRIAGE = "leasing.triage_request"
INTERNAL_NOTE = "leasing.add_internal_note"
PARTNER_NOTE = "leasing.add_partner_note"
RELEASE = "leasing.release_lease"
POOL = "leasing.manage_pool"
EXPORT = "leasing.export_reports"
WALLET = "leasing.manage_wallet"
PRICE = "leasing.set_price"
API_KEYS = "leasing.manage_api_keys"

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class DeskRequest(HttpRequest):
    """The request a dashboard view sees: signed in, with django-htmx's details."""

    htmx: HtmxDetails
    user: User


def actor_for(request: DeskRequest) -> Actor:
    return Actor.for_user(request.user)


def role_required(*perms: str) -> Callable[[View], View]:
    """Require a signed-in user with the dashboard permission and every one of `perms`."""
    needed = (DASHBOARD, *perms)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                htmx: HtmxDetails | None = getattr(request, "htmx", None)
                if htmx:
                    # Come back to the page the fragment was on, not to the fragment.
                    back = htmx.current_url_abs_path or request.get_full_path()
                    login = resolve_url(settings.LOGIN_URL)
                    return HttpResponseClientRedirect(f"{login}?{urlencode({'next': back})}")
                return redirect_to_login(request.get_full_path())
            if not request.user.has_perms(needed):
                raise PermissionDenied("Your role does not allow this.")
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
