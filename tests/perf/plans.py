"""Which dashboard and API reads would scan a whole big table, asked of PostgreSQL itself.

`seq_scans(client, urls)` requests each URL through the test client, captures every SQL
query the page runs (the real queries of the real selectors and FilterSets, parameters
bound), asks PostgreSQL for each query's plan with EXPLAIN (FORMAT JSON) and returns the
sequential scans of the pool, request and lease tables it finds. Used by
test_explain.py on generated data; `python -m tests.perf.plans` runs it against the
database DATABASE_URL names (the scale data) and prints what it finds.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

BIG_TABLES = {"leasing_poolaccount", "leasing_leaserequest", "leasing_lease"}


@dataclass(frozen=True)
class SeqScan:
    url: str
    table: str
    sql: str

    def __str__(self) -> str:
        return f"{self.url}: Seq Scan on {self.table} in {self.sql[:300]}"


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


def explain(sql: str, params: Sequence[Any] | None = None) -> dict[str, Any]:
    """The plan of `sql`: as captured (values inline) when params is None."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        row = cursor.fetchone()
    assert row is not None
    document = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    plan: dict[str, Any] = document[0]["Plan"]
    return plan


def page_queries(client: Client, url: str) -> list[str]:
    """The SELECTs a page runs, as sent to the database."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if response.streaming:
            for _ in response.streaming_content:  # type: ignore[attr-defined]
                pass
    assert response.status_code in (200, 302), (url, response.status_code)
    return [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().startswith("SELECT")]


def scanned_tables(sql: str, params: Sequence[Any] | None = None) -> list[str]:
    """The big tables a query's plan reads from end to end."""
    return [
        node["Relation Name"]
        for node in plan_nodes(explain(sql, params))
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in BIG_TABLES
    ]


def seq_scans(client: Client, urls: Iterable[str]) -> list[SeqScan]:
    found = []
    for url in urls:
        for sql in page_queries(client, url):
            found += [SeqScan(url=url, table=t, sql=sql) for t in scanned_tables(sql)]
    return found


def next_link(client: Client, url: str, number: int) -> str | None:
    """The Next link of page `number - 1` of the list at `url`: page `number` as a person
    reaches it, with the cursor of the row it continues from."""
    joiner = "&" if "?" in url else "?"
    body = client.get(f"{url}{joiner}page={number - 1}").content.decode()
    found = re.search(rf'href="([^"]*page={number}&amp;after=[^"]*)"', body)
    return html.unescape(found.group(1)) if found else None


def deep_lists(*, partner: str, rare_vertical: str, **_: Any) -> list[str]:
    """Lists whose deep pages are reached by Next links."""
    every = "&".join(
        f"status={s}" for s in ("requested", "in_progress", "assigned", "partial", "rejected")
    )
    queue = [
        "",
        "vertical=coffee",
        f"vertical={rare_vertical}",
        "country=US",
        f"partner={partner}",
        "sort=newest",
        "sort=count",
        "sort=partner",
    ]
    pool = ["", "state=ready", "vertical=coffee", "country=US", "sort=handle", "sort=newest"]
    return (
        [f"/?{every}&{q}" for q in queue]
        + ["/"]
        + [f"/pool/?{q}" for q in pool]
        + ["/audit/", "/partners/?sort=burn"]
        + [f"/partners/{partner}/leases/?status={s}" for s in ("active", "ended")]
        + [f"/partners/{partner}/projects/"]
    )


def dashboard_urls(
    *,
    partner: str,
    small_partner: str,
    request: str,
    handle: str,
    partner_word: str,
    request_key: str,
    rare_vertical: str,
) -> list[str]:
    """Every list page with each filter and sort it supports, and the other pages."""
    every = "&".join(
        f"status={s}" for s in ("requested", "in_progress", "assigned", "partial", "rejected")
    )
    queue_filters = [
        "",
        "status=requested",
        "status=in_progress",
        "status=assigned",
        "status=partial",
        "status=rejected",
        "vertical=coffee",
        f"vertical={rare_vertical}",
        "language=en",
        "language=pt",
        "country=US",
        "country=CR",
        f"partner={partner}",
        f"partner={small_partner}",
        "claimed=mine",
        "claimed=unclaimed",
        "older_than=24h",
        "older_than=48h",
        "sort=newest",
        "sort=count",
        "sort=partner",
        f"q={partner_word}",
        f"q={request_key}",
    ]
    # Deep pages are checked as the dashboard reaches them, through Next links (see
    # deep_lists and next_link); a page number typed by hand skips its offset instead.
    urls = []
    for query in queue_filters:
        urls.append(f"/?{query}")
        urls.append(f"/?{every}&{query}")
    pool_filters = [
        "",
        "state=ready",
        "state=warming",
        "state=leased",
        "state=retired",
        "state=ready&state=warming",
        "vertical=coffee",
        f"vertical={rare_vertical}",
        "vertical=coffee&state=ready",
        "language=en",
        "language=sv",
        "country=US",
        "country=CR",
        "followers_min=10000&followers_max=50000",
        "followers_min=1000000",
        f"q={handle}",
        "sort=handle",
        "sort=newest",
        "sort=warmed",
    ]
    for query in pool_filters:
        urls.append(f"/pool/?{query}")
    for query in ["", "sort=burn", "sort=runway", "sort=renewal", "sort=open", "view=at_risk"]:
        urls.append(f"/partners/?{query}")
    urls += [
        f"/partners/{partner}/",
        f"/partners/{small_partner}/",
        f"/partners/{partner}/leases/?status=active",
        f"/partners/{partner}/leases/?status=ended",
        f"/partners/{partner}/projects/",
        f"/requests/{request}/",
        f"/requests/{request}/?any_language=1",
        f"/requests/{request}/?vertical=&any_language=1",
        f"/search/?q={partner_word}",
        f"/search/?q={handle}",
        f"/search/suggest/?q={handle[:3]}",
        f"/search/?q={request_key}&show=1",
        "/renewals/",
        "/audit/",
        f"/audit/?partner={partner}",
    ]
    return urls


def scale_fixtures() -> dict[str, Any]:
    """The arguments of dashboard_urls, picked from generated data."""
    from django.db.models import Count

    from leasing.models import LeaseRequest, LeaseTotals, PoolAccount, PoolAccountTag

    by_size = LeaseTotals.objects.order_by("-active_leases")
    big = by_size.values_list("organization_id", flat=True).first()
    small = by_size.filter(active_leases__gte=1).order_by("active_leases")
    small_id = small.values_list("organization_id", flat=True).first()
    open_requests = LeaseRequest.objects.filter(status__in=LeaseRequest.OPEN_STATUSES)
    request = (
        open_requests.filter(vertical="coffee").exclude(geo=[]).order_by("pk").first()
        or open_requests.order_by("pk").first()
    )
    assert big
    assert small_id
    assert request
    rare = (
        PoolAccountTag.objects.filter(kind="vertical")
        .values("value")
        .annotate(n=Count("*"))
        .order_by("n", "value")
        .values_list("value", flat=True)
        .first()
    )
    handle = PoolAccount.objects.order_by("pk").values_list("handle", flat=True).first() or "da"
    from leasing.models import Organization

    name = Organization.objects.get(pk=big).name
    return {
        "partner": big,
        "small_partner": small_id,
        "request": request.pk,
        "handle": handle[:6],
        "partner_word": name.split()[0][:6].lower(),
        "request_key": request.request_key,
        "rare_vertical": (rare or "tea").replace(" ", "+"),
    }


def main() -> None:
    import os
    import sys

    import django

    sys.path.insert(0, os.getcwd())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    django.setup()
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.get(username="scale_ops_01"))
    fixtures = scale_fixtures()
    urls = dashboard_urls(**fixtures)
    for url in deep_lists(**fixtures):
        link = next_link(client, url, 1000)
        if link:
            urls.append(link)
    found = seq_scans(client, urls)
    print(f"{len(urls)} pages checked, {len(found)} sequential scans of big tables")
    for scan in found:
        print(f"- {scan}")


if __name__ == "__main__":
    main()
