"""Housekeeping: drop API bookkeeping rows nobody can need any more.

Run by the renewal job (`run_renewals`) and by `purge_expired`; the API may call it too.
Each purge is one indexed DELETE (idempotency_expiry, rate_window_purge, apicall_time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from leasing.models import ApiCallLog, IdempotencyRecord, RateLimitWindow

# A fixed one-minute window is finished once the next one starts; one more minute of
# slack keeps a window a slow request is still counting against.
RATE_WINDOW_RETENTION = timedelta(minutes=2)
# Support answers "why did my call fail" for the last 30 days.
API_CALL_RETENTION = timedelta(days=30)


@dataclass(frozen=True)
class PurgeCounts:
    idempotency_keys: int
    rate_limit_windows: int
    api_calls: int

    @property
    def total(self) -> int:
        return self.idempotency_keys + self.rate_limit_windows + self.api_calls


def purge_expired(*, now: datetime | None = None) -> PurgeCounts:
    """Delete expired idempotency keys, finished rate-limit windows and old API call logs."""
    now = now or timezone.now()
    with transaction.atomic():
        idempotency, _ = IdempotencyRecord.objects.filter(expires_at__lt=now).delete()
        windows, _ = RateLimitWindow.objects.filter(
            window_start__lt=now - RATE_WINDOW_RETENTION
        ).delete()
        calls, _ = ApiCallLog.objects.filter(created_at__lt=now - API_CALL_RETENTION).delete()
    return PurgeCounts(idempotency_keys=idempotency, rate_limit_windows=windows, api_calls=calls)
