"""Bearer API keys and scopes."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from leasing.api.errors import FORBIDDEN_SCOPE, UNAUTHENTICATED, ApiError
from leasing.models import ApiKey
from leasing.services.partners import KEY_PREFIX, api_key_authenticate

LEASED_WRITE = "leased:write"
SOCIAL_READ = "social:read"

# last_used_at is shown to staff with minute precision; refreshing it at most once a
# minute keeps the common call free of writes.
LAST_USED_RESOLUTION = timedelta(seconds=60)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="lease-desk"'}


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, UNAUTHENTICATED, message, headers=_CHALLENGE)


def bearer_key(request: HttpRequest) -> ApiKey:
    """The live API key named by the Authorization header, or a 401."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        raise _unauthenticated("missing Authorization header; send 'Authorization: Bearer <key>'")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthenticated("the Authorization header must be 'Bearer <key>'")
    if not token.startswith(KEY_PREFIX):
        raise _unauthenticated(f"malformed API key; keys look like {KEY_PREFIX}<keyid>_<secret>")
    api_key = api_key_authenticate(token)
    if api_key is None:
        raise _unauthenticated("unknown or revoked API key")
    api_key_touch(api_key, now=timezone.now())
    return api_key


def api_key_touch(api_key: ApiKey, *, now: datetime) -> None:
    """Record use of the key, writing only when the stored time is a minute old or more.

    The UPDATE repeats the age test so concurrent calls write the row at most once.
    """
    stale_before = now - LAST_USED_RESOLUTION
    if api_key.last_used_at is not None and api_key.last_used_at > stale_before:
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale_before)
    ).update(last_used_at=now)
    api_key.last_used_at = now


def require_scope(api_key: ApiKey, scope: str) -> None:
    if not api_key.has_scope(scope):
        raise ApiError(
            403,
            FORBIDDEN_SCOPE,
            f"this API key lacks the {scope} scope",
            details={"requiredScope": scope},
        )
