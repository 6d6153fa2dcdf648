"""The API's cross-process guarantees under real parallel connections (PostgreSQL only).

Each thread has its own Django test client and database connection, waits at a barrier
so all start together, and closes its connection at the end.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client

from leasing.models import IdempotencyRecord, LeaseRequest, RateLimitWindow
from tests import factories
from tests.api.conftest import request_body, request_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def work(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"
    return results


def test_twenty_simultaneous_posts_with_one_key_make_one_request():
    org = factories.make_org("Brewline")
    project = factories.make_project(org)
    _, raw = factories.make_key(org, tier="pilot")
    body = request_body(project)
    headers = {"Authorization": f"Bearer {raw}", "Idempotency-Key": "one-key"}

    def post() -> Any:
        return Client().post(
            request_url(project.pk), data=body, content_type="application/json", headers=headers
        )

    responses = in_parallel([post] * 20)

    assert not [r for r in responses if isinstance(r, BaseException)], responses
    assert LeaseRequest.objects.count() == 1
    statuses = Counter(
        (
            r.status_code,
            r.headers.get("Idempotent-Replayed"),
            (r.json().get("error") or {}).get("details", {}).get("reason"),
        )
        for r in responses
    )
    originals = [r for r in responses if r.status_code == 202 and "Idempotent-Replayed" not in r]
    print(f"\n[figures] 20 POSTs, one Idempotency-Key: {dict(statuses)}")
    assert len(originals) == 1, statuses
    for response in responses:
        if response.status_code == 202:
            assert response.content == originals[0].content
        else:
            assert response.status_code == 409, statuses
            assert response.json()["error"]["details"] == {"reason": "in_progress"}
    record = IdempotencyRecord.objects.get()
    assert record.state == "completed"
    assert record.response_body is not None
    assert bytes(record.response_body) == originals[0].content


def test_concurrent_writers_never_exceed_the_budget():
    org = factories.make_org("Brewline", balance_cents=150_000)
    project = factories.make_project(org)
    api_key, raw = factories.make_key(org)  # standard: 60 writes a minute
    headers = {"Authorization": f"Bearer {raw}"}

    def two_posts() -> list[int]:
        client = Client()
        return [
            client.post(
                request_url(project.pk),
                data=request_body(project),
                content_type="application/json",
                headers=headers,
            ).status_code
            for _ in range(2)
        ]

    # Fifty writers on their own connections, a hundred calls, all inside one window.
    with time_machine.travel(datetime(2026, 4, 20, 16, 12, 5, tzinfo=UTC), tick=False):
        results = in_parallel([two_posts] * 50)

    assert not [r for r in results if isinstance(r, BaseException)], results
    statuses = Counter(status for batch in results for status in batch)
    print(f"\n[figures] 50 writers x 2 calls on a 60/min budget: {dict(statuses)}")
    assert statuses == {202: 60, 429: 40}
    assert LeaseRequest.objects.count() == 60
    window = RateLimitWindow.objects.get(api_key=api_key, endpoint_class="write-light")
    assert window.count == 60
