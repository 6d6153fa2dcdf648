"""Idempotency-Key for POST: one outcome per key and organization for 24 hours.

The key's row is inserted and committed before the call runs, so the unique constraint
(organization, key) picks exactly one winner among simultaneous calls; the others see
the row and answer 409 in_progress, or replay it once it holds a stored response. Only
2xx outcomes are kept: any other outcome deletes the row, so the partner can fix the
cause and retry with the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from leasing.api.calls import ApiCall
from leasing.api.errors import (
    CONFLICT,
    JSON_CONTENT_TYPE,
    VALIDATION,
    ApiError,
    service_error,
)
from leasing.models import ApiKey, IdempotencyRecord
from leasing.services.errors import ServiceError

HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
TTL = timedelta(hours=24)
# A row still in progress after this long belongs to a call whose worker died (a
# request never runs this long: gunicorn kills it first); the next call may take it over.
ABANDONED_AFTER = timedelta(minutes=2)
_CLAIM_ATTEMPTS = 3


def idempotency_key(request: HttpRequest) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not KEY_RE.match(raw):
        problem = "must be 1-255 visible ASCII characters (no spaces)"
        raise ApiError(
            422,
            VALIDATION,
            f"{HEADER} {problem}",
            details={"fields": [{"field": HEADER, "problem": problem}]},
        )
    return raw


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """Equal for requests that mean the same: key order and whitespace don't count."""
    canonical = json.dumps(
        [method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _in_progress() -> ApiError:
    return ApiError(
        409,
        CONFLICT,
        f"a call with this {HEADER} is still in progress; retry once it has finished",
        details={"reason": "in_progress"},
    )


def _replay(record: IdempotencyRecord) -> HttpResponse:
    assert record.response_status is not None
    assert record.response_body is not None
    response = HttpResponse(
        bytes(record.response_body),
        status=record.response_status,
        content_type=JSON_CONTENT_TYPE,
    )
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(organization_id: str, key: str, fingerprint: str) -> IdempotencyRecord | HttpResponse:
    """The in-progress row this call now owns, or the stored response to replay."""
    for _ in range(_CLAIM_ATTEMPTS):
        now = timezone.now()
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    organization_id=organization_id,
                    key=key,
                    request_fingerprint=fingerprint,
                    state=IdempotencyRecord.State.IN_PROGRESS,
                    created_at=now,
                    expires_at=now + TTL,
                )
        except IntegrityError:
            pass
        existing = IdempotencyRecord.objects.filter(
            organization_id=organization_id, key=key
        ).first()
        if existing is None:
            continue  # its call failed and let go of the key meanwhile
        if existing.expires_at <= now:
            # Expired keys are absent, whether or not the purge job has run yet.
            IdempotencyRecord.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
            continue
        if existing.request_fingerprint != fingerprint:
            raise ApiError(
                409,
                CONFLICT,
                f"this {HEADER} was already used with a different request; "
                "send a new key for a new request",
                details={"reason": "key_reused"},
            )
        if existing.state == IdempotencyRecord.State.COMPLETED:
            return _replay(existing)
        if existing.created_at > now - ABANDONED_AFTER:
            raise _in_progress()
        taken = IdempotencyRecord.objects.filter(
            pk=existing.pk,
            state=IdempotencyRecord.State.IN_PROGRESS,
            created_at=existing.created_at,
        ).update(created_at=now, expires_at=now + TTL)
        if taken:
            return existing
    raise _in_progress()


def idempotent(
    call: ApiCall,
    request: HttpRequest,
    api_key: ApiKey,
    body: Any,
    run: Callable[[], HttpResponse],
) -> HttpResponse:
    """Run `run` once per Idempotency-Key (when the request has one)."""
    key = idempotency_key(request)
    if key is None:
        return run()
    fingerprint = request_fingerprint(request.method or "", request.path, body)
    claimed = _claim(api_key.organization_id, key, fingerprint)
    if isinstance(claimed, HttpResponse):
        return claimed
    try:
        try:
            response = run()
        except ApiError as exc:
            response = exc.response(call)
        except ServiceError as exc:
            response = service_error(exc).response(call)
    except BaseException:
        IdempotencyRecord.objects.filter(pk=claimed.pk).delete()
        raise
    if 200 <= response.status_code < 300:
        IdempotencyRecord.objects.filter(pk=claimed.pk).update(
            state=IdempotencyRecord.State.COMPLETED,
            response_status=response.status_code,
            response_body=response.content,
        )
    else:
        IdempotencyRecord.objects.filter(pk=claimed.pk).delete()
    return response
