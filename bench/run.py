"""Lease Desk at scale: server time and SQL queries per page, CSV export, and the API
under gunicorn, measured on the data `generate_scale_data` makes. Writes
docs/performance.md.

    createdb -h 127.0.0.1 -U root lease_scale
    export DATABASE_URL=postgres://root@127.0.0.1:5432/lease_scale
    .venv/bin/python manage.py migrate
    .venv/bin/python manage.py generate_scale_data
    .venv/bin/python bench/run.py

Dashboard and admin pages are timed in-process through django.test.Client (the whole
middleware stack and template rendering, no network), warm, as the median and p95 of
repeated requests. The CSV export runs in a fresh child process so its memory growth is
its own. The API runs under gunicorn on 127.0.0.1 with concurrent keep-alive-less
clients, next to a bare view that serves the same list from one query.

Timings are printed and written, never asserted: correctness lives in tests/.
"""

from __future__ import annotations

import argparse
import html
import http.client
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count, F, Q  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import NoReverseMatch, reverse  # noqa: E402

from leasing.management.commands.generate_scale_data import MARKER_ACTION  # noqa: E402
from leasing.models import (  # noqa: E402
    ApiCallLog,
    ApiKey,
    AuditEvent,
    IdempotencyRecord,
    Lease,
    LeaseRequest,
    LedgerEntry,
    Organization,
    PoolAccount,
    PoolAccountTag,
    Project,
)
from leasing.services.totals import open_request_totals_rebuild  # noqa: E402

PAGE_TARGET_MS = 50.0
REQUEST_PAGE_TARGET_MS = 100.0
QUERY_TARGET = 12
ADMIN_FACTOR = 5.0
API_RATIO = 0.5
CSV_TTFB_S = 1.0
CSV_ROWS_PER_S = 100_000
CSV_MEMORY_MB = 50.0
DEEP_PAGE = 1000
BENCH_KEY_NAME = "bench"
BENCH_REQUEST_PREFIX = "bench-"


# ----------------------------------------------------------------------------- helpers


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def dashboard_beside(admin: PageResult, by_name: dict[str, PageResult]) -> float:
    """The median of the dashboard page an admin page is compared with: the one timed
    alternately with it, else (results saved before pairs were timed) its own."""
    if admin.versus_ms > 0:
        return admin.versus_ms
    mine = by_name.get(admin.admin_of)
    return mine.median_ms if mine is not None else 0.0


def status_kib(field_name: str) -> int:
    """VmRSS / VmHWM of this process, in KiB, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


@dataclass
class PageResult:
    group: str
    name: str
    url: str
    target_ms: float
    median_ms: float = 0.0
    p95_ms: float = 0.0
    queries: int = 0
    status: int = 0
    samples: int = 0
    admin_of: str = ""  # for an admin page: the dashboard page it is compared with
    # For an admin page: that dashboard page's median, timed in turn with the admin page
    # (one request of each, alternately), so both saw the machine in the same state.
    versus_ms: float = 0.0
    note: str = ""

    @property
    def met(self) -> bool:
        return (
            self.status == 200 and self.median_ms <= self.target_ms and self.queries <= QUERY_TARGET
        )


@dataclass
class Report:
    pages: list[PageResult] = field(default_factory=list)
    admin: list[PageResult] = field(default_factory=list)
    typed: list[PageResult] = field(default_factory=list)
    # An empty dashboard page (bench/urls.py): what every page costs before its own work.
    floor: list[PageResult] = field(default_factory=list)
    csv: list[dict[str, Any]] = field(default_factory=list)
    api: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def timed_get(client: Client, url: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get(url)
    if response.streaming:
        for _ in response.streaming_content:  # type: ignore[attr-defined]
            pass
    else:
        _ = response.content
    return (time.perf_counter() - started) * 1000, response.status_code


def measure(
    client: Client,
    group: str,
    name: str,
    url: str,
    *,
    target_ms: float = PAGE_TARGET_MS,
    repeat: int,
    budget_s: float = 20.0,
    beside: tuple[Client, str, str] | None = None,
) -> PageResult:
    """The page's server time over `repeat` warm requests, and its queries.

    `beside` (a client, a page and its name) is requested after each timed request of
    this page and its median kept as `versus_ms`. Pages measured minutes apart on a
    shared machine drift apart by 10 to 40 %; timed alternately, both see the machine in
    the same state, so their ratio is the pages' own."""
    result = PageResult(group=group, name=name, url=url, target_ms=target_ms)
    for _ in range(2):  # warm: templates, plans, caches
        timed_get(client, url)
        if beside is not None:
            timed_get(beside[0], beside[1])
    samples: list[float] = []
    others: list[float] = []
    started = time.perf_counter()
    while len(samples) < repeat:
        elapsed, result.status = timed_get(client, url)
        samples.append(elapsed)
        if beside is not None:
            others.append(timed_get(beside[0], beside[1])[0])
        if time.perf_counter() - started > budget_s and len(samples) >= 5:
            break
    with CaptureQueriesContext(connection) as queries:
        timed_get(client, url)
    result.median_ms = statistics.median(samples)
    result.p95_ms = percentile(samples, 0.95)
    result.queries = len(queries.captured_queries)
    result.samples = len(samples)
    print(
        f"  {name:<46} {result.median_ms:8.1f} ms  p95 {result.p95_ms:8.1f}  "
        f"{result.queries:3d} q  {result.status}",
        flush=True,
    )
    if beside is not None:
        result.versus_ms = statistics.median(others)
        print(
            f"    alternately with {beside[2]}: {result.versus_ms:.1f} ms ({len(others)} of each)",
            flush=True,
        )
    return result


def url_for(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


# ----------------------------------------------------------------------------- the data


@dataclass
class Fixtures:
    ops_username: str
    admin_username: str
    big_partner: Organization
    small_partner: Organization
    open_request: LeaseRequest
    rare_request: LeaseRequest
    handle_prefix: str
    partner_word: str
    request_key: str


def fixtures() -> Fixtures:
    User = get_user_model()
    ops = User.objects.filter(username__startswith="scale_ops").order_by("username").first()
    admin = User.objects.filter(username__startswith="scale_admin").order_by("username").first()
    if ops is None or admin is None:
        sys.exit("No scale staff users: run manage.py generate_scale_data first.")
    busiest = (
        Lease.objects.filter(status=Lease.Status.ASSIGNED)
        .values("organization")
        .annotate(n=Count("*"))
        .order_by("-n")
        .first()
    )
    assert busiest is not None
    big = Organization.objects.get(pk=busiest["organization"])
    small = (
        Organization.objects.filter(leases__status=Lease.Status.ASSIGNED)
        .annotate(n=Count("leases"))
        .filter(n__lte=5)
        .order_by("pk")
        .first()
    ) or big
    open_requests = LeaseRequest.objects.filter(status__in=LeaseRequest.OPEN_STATUSES)
    # The hard case for ranking: the most common vertical, a language and countries.
    popular = (
        open_requests.filter(vertical="coffee", language__startswith="en")
        .exclude(geo=[])
        .order_by("submitted_at")
        .first()
    ) or open_requests.order_by("submitted_at").first()
    assert popular is not None
    common = set(
        PoolAccountTag.objects.filter(kind="vertical")
        .values("value")
        .annotate(n=Count("*"))
        .order_by("-n")
        .values_list("value", flat=True)[:20]
    )
    rare = open_requests.exclude(vertical__in=common).order_by("submitted_at").first() or popular
    handle = PoolAccount.objects.order_by("pk").values_list("handle", flat=True).first() or "da"
    return Fixtures(
        ops_username=ops.get_username(),
        admin_username=admin.get_username(),
        big_partner=big,
        small_partner=small,
        open_request=popular,
        rare_request=rare,
        handle_prefix=handle[:5],
        partner_word=big.name.split()[0][:6].lower(),
        request_key=popular.request_key,
    )


def dataset() -> dict[str, Any]:
    marker = AuditEvent.objects.filter(action=MARKER_ACTION).order_by("-created_at").first()
    if marker is None:
        sys.exit(
            "This database was not made by generate_scale_data; run it first "
            "(see the top of bench/run.py)."
        )
    counts = {
        "pool accounts": PoolAccount.objects.count(),
        "pool tags": PoolAccountTag.objects.count(),
        "partners": Organization.objects.count(),
        "projects": Project.objects.count(),
        "lease requests": LeaseRequest.objects.count(),
        "open requests": LeaseRequest.objects.filter(status__in=LeaseRequest.OPEN_STATUSES).count(),
        "leases": Lease.objects.count(),
        "active leases": Lease.objects.filter(status=Lease.Status.ASSIGNED).count(),
        "ledger entries": LedgerEntry.objects.count(),
        "audit events": AuditEvent.objects.count(),
    }
    return {"generated_at": marker.created_at, "after": marker.after or {}, "counts": counts}


def machine() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        row = cursor.fetchone()
        version = str(row[0]).split(" on ")[0] if row else "?"
        cursor.execute("SHOW shared_buffers")
        buffers = cursor.fetchone()
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "postgres": f"{version} (shared_buffers {buffers[0] if buffers else '?'}, stock config)",
        "python": platform.python_version(),
        "django": django.get_version(),
    }


# ----------------------------------------------------------------------------- dashboard


def dashboard(report: Report, fx: Fixtures, repeat: int) -> None:
    User = get_user_model()
    client = Client()
    client.force_login(User.objects.get(username=fx.ops_username))
    all_statuses = "&".join(f"status={s}" for s in LeaseRequest.Status.values)

    def page(group: str, name: str, url: str | None, target: float = PAGE_TARGET_MS) -> None:
        if url is None:
            report.notes.append(f"{group}: {name} does not exist yet; not measured.")
            return
        report.pages.append(measure(client, group, name, url, target_ms=target, repeat=repeat))

    def deep(group: str, name: str, url: str) -> None:
        """Page 1,000 as a person reaches it: the Next link of page 999 (which carries
        the cursor of its last row). The same page typed as ?page=1000 is measured too."""
        joiner = "&" if "?" in url else "?"
        html_page = client.get(f"{url}{joiner}page={DEEP_PAGE - 1}").content.decode()
        found = re.search(rf'href="([^"]*page={DEEP_PAGE}&amp;after=[^"]*)"', html_page)
        if found:
            page(group, f"{name}, page 1,000 (Next link)", html.unescape(found.group(1)))
        else:
            report.notes.append(
                f"{group}: {name} has fewer than {DEEP_PAGE:,} pages; no page {DEEP_PAGE:,} to "
                "reach by Next (the typed page is measured, and empty)."
            )
        typed = measure(
            client,
            group,
            f"{name}, page 1,000 typed (?page=1000)",
            f"{url}{joiner}page={DEEP_PAGE}",
            repeat=max(5, repeat // 2),
        )
        report.typed.append(typed)

    print("Dashboard (in-process, warm):", flush=True)
    queue = url_for("ops:queue") or "/"
    partner_id = fx.big_partner.pk
    page("queue", "default (open requests)", queue)
    deep("queue", "all statuses", f"{queue}?{all_statuses}")
    page("queue", "all statuses", f"{queue}?{all_statuses}")
    for status in LeaseRequest.Status.values:
        page("queue", f"status={status}", f"{queue}?status={status}")
    filters = [
        ("vertical=coffee", "vertical=coffee"),
        ("language=en", "language=en"),
        ("country=US", "country=US"),
        ("partner (biggest)", f"partner={partner_id}"),
        ("claimed=mine", "claimed=mine"),
        ("claimed=unclaimed", "claimed=unclaimed"),
        ("older_than=24h", "older_than=24h"),
        ("sort=newest", "sort=newest"),
        ("sort=count", "sort=count"),
        ("sort=partner", "sort=partner"),
        ("q=partner name", f"q={fx.partner_word}"),
        ("q=request id", f"q={fx.request_key}"),
    ]
    for name, query in filters:
        page("queue", name, f"{queue}?{query}")
        page("queue", f"{name}, all statuses", f"{queue}?{all_statuses}&{query}")
    for name, query in filters[:4] + filters[7:10]:
        deep("queue", f"{name}, all statuses", f"{queue}?{all_statuses}&{query}")

    request_url = url_for("ops:request", fx.open_request.pk)
    page(
        "request page",
        f"with ranked candidates ({fx.open_request.vertical}, "
        f"{fx.open_request.language or 'any language'}, {','.join(fx.open_request.geo) or 'any'})",
        request_url,
        REQUEST_PAGE_TARGET_MS,
    )
    if request_url:
        page(
            "request page",
            "candidates widened to any language",
            f"{request_url}?any_language=1",
            REQUEST_PAGE_TARGET_MS,
        )
        page(
            "request page",
            "candidates in every vertical",
            f"{request_url}?vertical=&any_language=1",
            REQUEST_PAGE_TARGET_MS,
        )
    page(
        "request page",
        f"rare vertical ({fx.rare_request.vertical})",
        url_for("ops:request", fx.rare_request.pk),
        REQUEST_PAGE_TARGET_MS,
    )

    partners = url_for("ops:partners")
    page("partners", "partner list", partners)
    if partners:
        for sort in ("burn", "runway", "renewal", "open"):
            page("partners", f"sort={sort}", f"{partners}?sort={sort}")
        page("partners", "at risk", f"{partners}?view=at_risk")
        page("partners", "search by name", f"{partners}?q={fx.partner_word}")
        page("partners", "last page", f"{partners}?page=100")
    page(
        "partners",
        f"partner page (biggest, {fx.big_partner.name})",
        url_for("ops:partner", partner_id),
    )
    page("partners", "partner page (small)", url_for("ops:partner", fx.small_partner.pk))

    pool = url_for("ops:pool")
    page("pool", "pool list", pool)
    if pool:
        pool_filters = [
            ("state=ready", "state=ready"),
            ("state=leased", "state=leased"),
            ("vertical=coffee", "vertical=coffee"),
            ("vertical=coffee, state=ready", "vertical=coffee&state=ready"),
            ("language=pt", "language=pt"),
            ("country=BR", "country=BR"),
            ("followers 10k-50k", "followers_min=10000&followers_max=50000"),
            ("q=handle", f"q={fx.handle_prefix}"),
            ("sort=handle", "sort=handle"),
            ("sort=newest", "sort=newest"),
            ("sort=warmed", "sort=warmed"),
        ]
        for name, query in pool_filters:
            page("pool", name, f"{pool}?{query}")
        deep("pool", "pool list", pool)
        for name, query in pool_filters[:4] + pool_filters[5:6] + pool_filters[8:10]:
            deep("pool", name, f"{pool}?{query}")

    search = url_for("ops:search")
    if search:
        page("search", "partner name", f"{search}?q={fx.partner_word}")
        page("search", "handle prefix", f"{search}?q={fx.handle_prefix}")
        page("search", "request id (redirect)", f"{search}?q={fx.request_key}&show=1")
        suggest = url_for("ops:search-suggest")
        if suggest:
            page("search", "suggestions as you type", f"{suggest}?q={fx.partner_word[:3]}")
    else:
        report.notes.append("search: the search page does not exist yet; not measured.")

    for name, group in (("ops:renewals", "renewals"), ("ops:audit", "audit log")):
        url = url_for(name)
        page(group, group, url)
    audit = url_for("ops:audit")
    if audit:
        deep("audit log", "audit log", audit)
        page("audit log", "partner (biggest)", f"{audit}?partner={partner_id}")
    page("supply", "supply and demand", url_for("ops:supply"))


EMPTY_PAGE = "/bench/empty/"
QUEUE_ROWS_PAGE = "/bench/queue-rows/"
QUEUE_ROWS_ONLY = "the queue's rows alone, status=requested"


def admin_pages(report: Report, fx: Fixtures, repeat: int) -> None:
    User = get_user_model()
    client = Client()
    client.force_login(User.objects.get(username=fx.admin_username))
    print("Django admin changelists (same data):", flush=True)
    requests = "/admin/leasing/leaserequest/"
    pool = "/admin/leasing/poolaccount/"
    deep_queue = "queue: all statuses, page 1,000 (Next link)"
    cases = [
        ("lease requests", requests, "queue: all statuses"),
        (
            "lease requests, status=requested",
            f"{requests}?status__exact=requested",
            "queue: status=requested",
        ),
        ("lease requests, page 1,000", f"{requests}?p={DEEP_PAGE}", deep_queue),
        (
            "lease requests, vertical search",
            f"{requests}?q=coffee",
            "queue: vertical=coffee, all statuses",
        ),
        (
            "lease requests, search partner",
            f"{requests}?q={fx.partner_word}",
            "queue: q=partner name, all statuses",
        ),
        ("pool accounts", pool, "pool: pool list"),
        ("pool accounts, state=ready", f"{pool}?state__exact=ready", "pool: state=ready"),
        (
            "pool accounts, page 1,000",
            f"{pool}?p={DEEP_PAGE}",
            "pool: pool list, page 1,000 (Next link)",
        ),
        ("pool accounts, search handle", f"{pool}?q={fx.handle_prefix}", "pool: q=handle"),
    ]
    ops = Client()
    ops.force_login(User.objects.get(username=fx.ops_username))
    dashboard_urls = {f"{r.group}: {r.name}": r.url for r in report.pages}
    for name, url, versus in cases:
        paired = versus in dashboard_urls
        result = measure(
            client,
            "admin",
            name,
            url,
            target_ms=math.inf,
            repeat=repeat if paired else min(repeat, 10),
            beside=(ops, dashboard_urls[versus], versus) if paired else None,
        )
        result.admin_of = versus
        report.admin.append(result)
    report.floor.append(
        measure(
            ops, "reference", "empty dashboard page", EMPTY_PAGE, target_ms=math.inf, repeat=repeat
        )
    )
    report.floor.append(
        measure(
            ops,
            "reference",
            QUEUE_ROWS_ONLY,
            f"{QUEUE_ROWS_PAGE}?status=requested",
            target_ms=math.inf,
            repeat=repeat,
        )
    )


# ----------------------------------------------------------------------------- CSV


def csv_child(report_name: str) -> None:
    """Runs in its own process: stream one CSV report and measure it."""
    User = get_user_model()
    client = Client()
    client.force_login(User.objects.get(username=sys.argv[sys.argv.index("--user") + 1]))
    url = reverse(f"ops:report-{report_name}")
    # Warm the code paths with a tiny export, so imports are not counted as growth.
    tiny = {"pool": "followers_min=1000000000", "ledger": "since=2999-01-01"}[report_name]
    warm = client.get(f"{url}?{tiny}")
    for _ in warm.streaming_content:  # type: ignore[attr-defined]
        pass
    before_rss = status_kib("VmRSS")
    peak = [before_rss]
    running = [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], status_kib("VmRSS"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    response = client.get(url)
    first_byte = first_row = None
    rows = -1  # the header line
    size = 0
    for chunk in response.streaming_content:  # type: ignore[attr-defined]
        now = time.perf_counter()
        if first_byte is None:
            first_byte = now - started
        lines = chunk.count(b"\n")
        if first_row is None and rows + lines > 0:
            first_row = now - started
        rows += lines
        size += len(chunk)
    total = time.perf_counter() - started
    running[0] = False
    sampler.join()
    hwm = status_kib("VmHWM")
    print(
        json.dumps(
            {
                "report": report_name,
                "url": url,
                "status": response.status_code,
                "rows": rows,
                "bytes": size,
                "seconds": total,
                "first_byte_s": first_byte,
                "first_row_s": first_row,
                "rows_per_s": rows / total if total else 0,
                "rss_growth_mb": (max(peak[0], hwm if hwm > before_rss else 0) - before_rss) / 1024,
            }
        )
    )


def csv_exports(report: Report, fx: Fixtures) -> None:
    print("CSV export (fresh process each):", flush=True)
    for name in ("pool", "ledger"):
        if url_for(f"ops:report-{name}") is None:
            report.notes.append(f"CSV: the {name} report does not exist yet; not measured.")
            continue
        out = subprocess.run(
            [sys.executable, __file__, "--csv-child", name, "--user", fx.admin_username],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if out.returncode or not lines:
            report.notes.append(f"CSV {name}: the child failed: {out.stderr[-500:]}")
            continue
        result = json.loads(lines[-1])
        report.csv.append(result)
        print(
            f"  {name:<10} {result['rows']:>9,} rows in {result['seconds']:.1f} s  "
            f"first byte {result['first_byte_s'] * 1000:.0f} ms, first row "
            f"{(result['first_row_s'] or 0) * 1000:.0f} ms, "
            f"{result['rows_per_s']:,.0f} rows/s, +{result['rss_growth_mb']:.1f} MB",
            flush=True,
        )


# ----------------------------------------------------------------------------- the API


@dataclass
class Load:
    name: str
    method: str
    paths: list[str]
    headers: list[dict[str, str]]
    body: Callable[[int], bytes | None]
    expect: int


def _client_loop(
    port: int,
    load: Load,
    deadline: float,
    max_requests: int,
    counter: list[int],
    lock: threading.Lock,
    latencies: list[float],
    failures: list[str],
) -> None:
    while time.perf_counter() < deadline:
        with lock:
            if counter[0] >= max_requests:
                return
            n = counter[0]
            counter[0] += 1
        path = load.paths[n % len(load.paths)]
        headers = dict(load.headers[n % len(load.headers)])
        body = load.body(n)
        if body is not None:
            headers["Content-Type"] = "application/json"
            headers["Idempotency-Key"] = uuid.uuid4().hex
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(load.method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
        except OSError as exc:
            failures.append(str(exc))
            continue
        elapsed = time.perf_counter() - started
        if response.status != load.expect:
            failures.append(f"{response.status} {path}")
            continue
        latencies.append(elapsed * 1000)


def run_load(
    port: int, load: Load, *, clients: int, seconds: float, max_requests: int
) -> dict[str, Any]:
    # Warm every worker's connection and code paths first.
    warm_deadline = time.perf_counter() + 2
    warm: list[float] = []
    threads = [
        threading.Thread(
            target=_client_loop,
            args=(port, load, warm_deadline, 200, [0], threading.Lock(), warm, []),
        )
        for _ in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies: list[float] = []
    failures: list[str] = []
    counter = [0]
    lock = threading.Lock()
    started = time.perf_counter()
    deadline = started + seconds
    threads = [
        threading.Thread(
            target=_client_loop,
            args=(port, load, deadline, max_requests, counter, lock, latencies, failures),
        )
        for _ in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    result = {
        "name": load.name,
        "requests": len(latencies),
        "failures": len(failures),
        "first_failure": failures[0] if failures else "",
        "seconds": elapsed,
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "median_ms": statistics.median(latencies) if latencies else 0.0,
        "p95_ms": percentile(latencies, 0.95) if latencies else 0.0,
        "clients": clients,
    }
    print(
        f"  {load.name:<40} {result['rps']:8.0f} req/s  median {result['median_ms']:6.1f} ms  "
        f"p95 {result['p95_ms']:6.1f} ms  ({result['requests']} ok, {result['failures']} failed)",
        flush=True,
    )
    return result


def bench_keys(count: int) -> list[tuple[Project, str]]:
    """Partner-tier keys on the busiest partners' busiest projects (each with at least a
    page of leased accounts), issued through the service like any key."""
    from leasing.services.audit import Actor
    from leasing.services.partners import api_key_issue

    projects = (
        Project.objects.filter(
            organization__status=Organization.Status.ACTIVE,
            organization__balance_cents__gte=F("organization__monthly_price_cents"),
        )
        .annotate(
            active=Count("leases", filter=Q(leases__status=Lease.Status.ASSIGNED)),
        )
        .filter(active__gte=100)
        .select_related("organization")
        .order_by("-active")[:count]
    )
    out: list[tuple[Project, str]] = []
    seen: set[str] = set()
    for project in projects:
        if project.organization_id in seen:
            continue
        seen.add(project.organization_id)
        _, raw = api_key_issue(
            organization=project.organization,
            actor=Actor.for_system("bench"),
            scopes=["leased:write", "social:read"],
            tier=ApiKey.Tier.PARTNER,
            name=BENCH_KEY_NAME,
        )
        out.append((project, raw))
    return out


def clean_bench_writes() -> int:
    """Remove what the API loads made, so the dataset stays the generated one.

    The audit log is append-only (a trigger refuses deletes); this transaction says on
    purpose that it removes the benchmark's own synthetic requests.
    """
    made = LeaseRequest.objects.filter(request_key__startswith=BENCH_REQUEST_PREFIX)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lease_desk.rewrite_history = 'on'")
        ids = list(made.values_list("pk", flat=True))
        AuditEvent.objects.filter(object_type="lease_request", object_id__in=ids).delete()
        IdempotencyRecord.objects.filter(organization__api_keys__name=BENCH_KEY_NAME).delete()
        # The load's calls would be every partner's latest calls, the next run's partner
        # pages would read past them, and the log would grow with every run.
        ApiCallLog.objects.filter(api_key__name=BENCH_KEY_NAME).delete()
        deleted = made.delete()[0]
        # The queue's tab counts are a rollup the services keep; deleting rows behind
        # their back would leave it counting the load's requests as open.
        open_request_totals_rebuild()
    from leasing.services.audit import Actor
    from leasing.services.partners import api_key_revoke

    for key in ApiKey.objects.filter(name=BENCH_KEY_NAME, revoked_at__isnull=True):
        api_key_revoke(api_key=key, actor=Actor.for_system("bench"))
    return deleted


WRK_SCRIPT = """
local loads = {}
local n = 0
local thread_count = 0

function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  math.randomseed(os.time() + tid * 7919)
  for line in io.lines(args[1]) do
    local method, path, auth, project = line:match("^(%S+) (%S+) (%S*) ?(%S*)$")
    table.insert(loads, {method = method, path = path, auth = auth, project = project})
  end
end

function request()
  n = n + 1
  local load = loads[(n % #loads) + 1]
  local headers = {}
  if load.auth ~= "-" then headers["Authorization"] = "Bearer " .. load.auth end
  if load.method == "POST" then
    local id = string.format("bench-%d-%d-%d", tid, n, math.random(1000000000))
    headers["Content-Type"] = "application/json"
    headers["Idempotency-Key"] = id
    local body = string.format(
      '{"projectId":"%s","count":2,"requestId":"%s",' ..
      '"niche":{"vertical":"coffee","language":"en","geo":["US"]}}', load.project, id)
    return wrk.format("POST", load.path, headers, body)
  end
  return wrk.format("GET", load.path, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"median_us":%d,"p95_us":%d,' ..
    '"status_errors":%d,"socket_errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def run_wrk(
    port: int, name: str, lines: list[str], *, clients: int, seconds: float
) -> dict[str, Any]:
    """One load with wrk (C, two threads): each line is "METHOD path key project"."""
    workdir = Path(os.environ.get("TMPDIR", "/tmp"))
    script = workdir / "lease_desk_bench.lua"
    loads = workdir / "lease_desk_bench_loads.txt"
    script.write_text(WRK_SCRIPT)
    loads.write_text("\n".join(lines) + "\n")
    command = [
        "wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds:.0f}s", "--timeout", "10s",
        "-s", str(script), f"http://127.0.0.1:{port}", "--", str(loads),
    ]  # fmt: skip
    # Warm every worker first (and let the plan caches settle), then measure.
    subprocess.run([*command[:5], "-d", "2s", *command[7:]], capture_output=True, check=False)
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    found = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if not found:
        raise RuntimeError(f"wrk gave no result: {out.stdout[-500:]} {out.stderr[-500:]}")
    raw = json.loads(found[-1].removeprefix("RESULT "))
    seconds_taken = raw["duration_us"] / 1e6
    ok = raw["requests"] - raw["status_errors"]
    result = {
        "name": name,
        "requests": raw["requests"],
        "failures": raw["status_errors"],
        "socket_errors": raw["socket_errors"],
        "seconds": seconds_taken,
        "rps": ok / seconds_taken if seconds_taken else 0.0,
        "median_ms": raw["median_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "clients": clients,
        "client": "wrk",
    }
    print(
        f"  {name:<40} {result['rps']:8.0f} req/s  median {result['median_ms']:6.1f} ms  "
        f"p95 {result['p95_ms']:6.1f} ms  ({ok} ok, {result['failures']} non-2xx)",
        flush=True,
    )
    return result


def combined(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one load as one figure: requests over time, the median round's latency."""
    ok = sum(r["requests"] - r["failures"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    return {
        **runs[0],
        "requests": sum(r["requests"] for r in runs),
        "failures": sum(r["failures"] for r in runs),
        "socket_errors": sum(r["socket_errors"] for r in runs),
        "seconds": seconds,
        "rps": ok / seconds if seconds else 0.0,
        "median_ms": statistics.median(r["median_ms"] for r in runs),
        "p95_ms": statistics.median(r["p95_ms"] for r in runs),
        "rounds": len(runs),
    }


def api(report: Report, *, seconds: float, clients: int, workers: int) -> None:
    keys = bench_keys(32)
    if not keys:
        report.notes.append("API: no partner with a page of leased accounts; not measured.")
        return
    port = 8765
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="bench.settings")
    gunicorn = [
        str(Path(sys.executable).with_name("gunicorn")),
        "leasing.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    use_wrk = shutil.which("wrk") is not None
    print(
        f"API under gunicorn ({workers} sync workers, {clients} concurrent clients via "
        f"{'wrk' if use_wrk else 'Python threads'}, {seconds:.0f} s each, "
        f"{len(keys)} partners' keys):",
        flush=True,
    )
    server = subprocess.Popen(gunicorn, cwd=ROOT, env=env, start_new_session=True)
    try:
        for _ in range(100):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/v1/openapi.json")
                conn.getresponse().read()
                break
            except OSError:
                time.sleep(0.2)
        bare = [f"GET /bench/bare/projects/{p.pk}/leased-accounts - -" for p, _ in keys]
        listed = [f"GET /v1/projects/{p.pk}/leased-accounts {raw} -" for p, raw in keys]
        posted = [
            f"POST /v1/projects/{p.pk}/leased-accounts/request {raw} {p.pk}" for p, raw in keys
        ]
        names = (
            "bare view (one query, same list)",
            "GET leased accounts (API)",
            "POST request a lease (API)",
        )
        if use_wrk:
            # Interleaved rounds, so a burst of other work on the machine falls on all three
            # loads alike and the ratios hold.
            rounds = 3
            measured: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
            for _ in range(rounds):
                for name, lines in zip(names, (bare, listed, posted), strict=True):
                    measured[name].append(
                        run_wrk(port, name, lines, clients=clients, seconds=seconds / rounds)
                    )
            for name in names:
                report.api.append(combined(measured[name]))
        else:
            auth = [{"Authorization": f"Bearer {raw}"} for _, raw in keys]

            def request_body(n: int) -> bytes:
                project = keys[n % len(keys)][0]
                return json.dumps(
                    {
                        "projectId": project.pk,
                        "count": 2,
                        "requestId": f"{BENCH_REQUEST_PREFIX}{uuid.uuid4().hex[:20]}",
                        "niche": {"vertical": "coffee", "language": "en", "geo": ["US"]},
                    }
                ).encode()

            cap = int(seconds * 3000)
            loads = [
                Load(names[0], "GET", [x.split()[1] for x in bare], [{}], lambda n: None, 200),
                Load(names[1], "GET", [x.split()[1] for x in listed], auth, lambda n: None, 200),
                Load(names[2], "POST", [x.split()[1] for x in posted], auth, request_body, 202),
            ]
            for load in loads:
                report.api.append(
                    run_load(port, load, clients=clients, seconds=seconds, max_requests=cap)
                )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        removed = clean_bench_writes()
        print(f"  (removed the {removed} requests the load made; bench keys revoked)")


# ----------------------------------------------------------------------------- output


def fmt_ms(value: float) -> str:
    return f"{value:,.1f}"


def shortfall(factor: float) -> str:
    return "" if factor >= ADMIN_FACTOR else f"{ADMIN_FACTOR / factor:.1f}x short"


def verdict(ok: bool, how: str = "") -> str:
    return ("met" if ok else "**missed**") + (f" ({how})" if how else "")


def page_verdict(r: PageResult) -> str:
    if r.status != 200:
        return f"**missed** (HTTP {r.status})"
    problems = []
    if r.median_ms > r.target_ms:
        problems.append(f"{r.median_ms / r.target_ms:.1f}x the time")
    if r.queries > QUERY_TARGET:
        problems.append(f"{r.queries - QUERY_TARGET} queries over")
    return "met" if not problems else "**missed** (" + ", ".join(problems) + ")"


def summary(report: Report) -> list[str]:
    """One line per target: how many measurements meet it."""
    pages = report.pages
    missed = [r for r in pages if not r.met]
    lines = [
        "| target | met | missed |",
        "|---|---:|---:|",
        f"| dashboard pages (time and queries, page 1 and page 1,000 by Next link) | "
        f"{len(pages) - len(missed)} | {len(missed)}"
        + (f": {', '.join(f'{r.group}: {r.name}' for r in missed)}" if missed else "")
        + " |",
    ]
    typed_missed = [r for r in report.typed if not r.met]
    if report.typed:
        lines.append(
            f"| page 1,000 typed by hand (informative) | {len(report.typed) - len(typed_missed)} "
            f"| {len(typed_missed)} |"
        )
    by_name = {f"{r.group}: {r.name}": r for r in pages}
    factors = [
        (a, a.median_ms / beside)
        for a in report.admin
        if (beside := dashboard_beside(a, by_name)) > 0
    ]
    slow = [a.name for a, f in factors if f < ADMIN_FACTOR]
    lines.append(
        f"| 5x faster than the admin | {len(factors) - len(slow)} | {len(slow)}"
        + (f": {', '.join(slow)}" if slow else "")
        + " |"
    )
    bare = next((a for a in report.api if a["name"].startswith("bare")), None)
    if bare and bare["rps"]:
        api_rows = [a for a in report.api if a is not bare]
        short = [a["name"] for a in api_rows if a["rps"] / bare["rps"] < API_RATIO]
        lines.append(
            f"| API at half the bare view or better | {len(api_rows) - len(short)} | {len(short)} |"
        )
    csv_short = [
        c["report"]
        for c in report.csv
        if (c["first_byte_s"] or 99) >= CSV_TTFB_S
        or c["rows_per_s"] < CSV_ROWS_PER_S
        or c["rss_growth_mb"] > CSV_MEMORY_MB
    ]
    if report.csv:
        lines.append(
            f"| CSV of a million rows | {len(report.csv) - len(csv_short)} | {len(csv_short)}"
            + (f": {', '.join(csv_short)}" if csv_short else "")
            + " |"
        )
    lines.append(
        "| no sequential scan (tests/perf/test_explain.py) | checked by the test suite | |"
    )
    return lines


def write(report: Report, info: dict[str, Any], path: Path, command: str) -> None:
    m, data = info["machine"], info["dataset"]
    lines = [
        "# Performance at scale",
        "",
        "Lease Desk measured on a database filled by `generate_scale_data` (years of data "
        "for thousands of partners), next to the Django admin on the same data and, for the "
        "API, next to a bare Django view. Written by `bench/run.py` from one run; the figures "
        "below are that run's, not hand-edited.",
        "",
        f"Run: {info['run_at']:%Y-%m-%d %H:%M} UTC, {info['elapsed']:.0f} s.",
        "",
        "## Reproduce",
        "",
        "```bash",
        "createdb -h 127.0.0.1 -U root lease_scale",
        "export DATABASE_URL=postgres://root@127.0.0.1:5432/lease_scale",
        ".venv/bin/python manage.py migrate",
        f".venv/bin/python manage.py generate_scale_data   # {info['generator']}",
        command,
        "```",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPUs | {m['cpus']} ({m['cpu']}) |",
        f"| Memory | {m['memory']} |",
        f"| PostgreSQL | {m['postgres']} |",
        f"| Python / Django | {m['python']} / {m['django']} |",
        "| Server | PostgreSQL, the benchmark and gunicorn all share the same cores |",
        "",
        "## Dataset",
        "",
        "| rows | count |",
        "|---|---:|",
    ]
    lines += [f"| {what} | {n:,} |" for what, n in data["counts"].items()]
    lines += [
        "",
        "## Targets",
        "",
        f"- Every dashboard page: server median ≤ {PAGE_TARGET_MS:.0f} ms (the request page "
        f"with candidates ≤ {REQUEST_PAGE_TARGET_MS:.0f} ms), ≤ {QUERY_TARGET} SQL queries, "
        "the same for page 1 and page 1,000.",
        f"- ≥ {ADMIN_FACTOR:.0f}x faster than the Django admin changelist on the same data.",
        "- No sequential scan of the pool, request or lease tables for any supported filter "
        "(checked by `tests/perf/test_explain.py` on PostgreSQL, not here).",
        f"- API list and request-a-lease ≥ {API_RATIO:.0%} of the bare view's req/s.",
        f"- CSV export of 1M rows: first byte < {CSV_TTFB_S:.0f} s, ≥ {CSV_ROWS_PER_S:,} rows/s, "
        f"process memory growth ≤ {CSV_MEMORY_MB:.0f} MB.",
        "",
        "## Summary",
        "",
        *summary(report),
        "",
        "## Dashboard pages",
        "",
        "Server time in-process (django.test.Client: middleware, view, SQL, templates; no "
        "network), warm, signed in as an ops user. Median and p95 of repeated requests; "
        "queries counted on one more request.",
        "",
        "| area | page | median ms | p95 ms | queries | target | result |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for r in report.pages:
        lines.append(
            f"| {r.group} | {r.name} | {fmt_ms(r.median_ms)} | {fmt_ms(r.p95_ms)} | "
            f"{r.queries} | ≤ {r.target_ms:.0f} ms, ≤ {QUERY_TARGET} q | {page_verdict(r)} |"
        )
    if report.typed:
        lines += [
            "",
            "### Page 1,000 typed into the address bar",
            "",
            "Next and Previous links carry the position of the row they continue from, so "
            "the database seeks straight to it (the page 1,000 rows above). A page number "
            "typed by hand has no position: the rows before it are skipped with a query that "
            "reads only keys. Measured for completeness against the same target.",
            "",
            "| area | page | median ms | p95 ms | queries | target | result |",
            "|---|---|---:|---:|---:|---|---|",
        ]
        for r in report.typed:
            lines.append(
                f"| {r.group} | {r.name} | {fmt_ms(r.median_ms)} | {fmt_ms(r.p95_ms)} | "
                f"{r.queries} | ≤ {r.target_ms:.0f} ms, ≤ {QUERY_TARGET} q | "
                f"{page_verdict(r)} |"
            )
    by_name = {f"{r.group}: {r.name}": r for r in report.pages}
    lines += [
        "",
        "## Beside the Django admin",
        "",
        "The admin changelists for the same lists, signed in as a superuser "
        "(`show_full_result_count=False`, as configured), against the dashboard page that "
        "answers the same question. Each pair is timed alternately (one request of each "
        "in turn), so both pages see the machine in the same state: here the speed of a "
        "page drifts by 10 to 40 % over a run, which would move a ratio of pages timed "
        "minutes apart by as much. The dashboard medians here are those paired runs; the "
        "tables above time each page on its own.",
        "",
        "| admin changelist | median ms | p95 ms | queries | dashboard page | dashboard median ms "
        f"| admin ÷ dashboard | target ≥ {ADMIN_FACTOR:.0f}x |",
        "|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in report.admin:
        beside = dashboard_beside(r, by_name)
        if beside <= 0:
            lines.append(
                f"| {r.name} | {fmt_ms(r.median_ms)} | {fmt_ms(r.p95_ms)} | {r.queries} | "
                f"{r.admin_of} | - | - | not compared |"
            )
            continue
        factor = r.median_ms / beside
        lines.append(
            f"| {r.name} | {fmt_ms(r.median_ms)} | {fmt_ms(r.p95_ms)} | {r.queries} | "
            f"{r.admin_of} | {fmt_ms(beside)} | {factor:.1f}x | "
            f"{verdict(factor >= ADMIN_FACTOR, shortfall(factor))} |"
        )
    floor = {r.name: r for r in report.floor}
    empty, rows_only = floor.get("empty dashboard page"), floor.get(QUEUE_ROWS_ONLY)
    if empty is not None:
        quickest = min((a.median_ms for a in report.admin), default=0.0)
        lines += [
            "",
            f"For scale: an empty dashboard page (`{empty.url}`, bench/urls.py: sign-in, "
            f"session, permissions and the layout, no query of its own) answers in "
            f"{fmt_ms(empty.median_ms)} ms ({empty.queries} queries). The admin's quickest "
            f"answer above is {fmt_ms(quickest)} ms, so 5x of it is "
            f"{fmt_ms(quickest / ADMIN_FACTOR)} ms, "
            f"{quickest / ADMIN_FACTOR - empty.median_ms:.1f} ms more than an empty page for a "
            "page's own queries and rows.",
        ]
    if rows_only is not None:
        queue_requested = by_name.get("queue: status=requested")
        lines += [
            "",
            f"And the queue's 50 rows alone (`{rows_only.url}`, bench/urls.py: sign-in, "
            "session, permissions, the rows' one query and their HTML, the same code as the "
            "queue's; no filters, tabs, counts or layout) answer in "
            f"{fmt_ms(rows_only.median_ms)} ms ({rows_only.queries} queries)"
            + (
                f", against {fmt_ms(queue_requested.median_ms)} ms for the whole queue page."
                if queue_requested is not None
                else "."
            ),
        ]
    lines += [
        "",
        "## CSV export",
        "",
        "Streamed through the dashboard's report URL in a fresh process (so the memory "
        "growth is the export's own: peak RSS during the download minus RSS before it). "
        "First byte is the header line; first row is the first data row.",
        "",
        "| report | rows | MB | seconds | first byte ms | first row ms | rows/s | memory growth MB "
        "| result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in report.csv:
        problems = []
        if (c["first_byte_s"] or 99) >= CSV_TTFB_S:
            problems.append("first byte")
        if c["rows_per_s"] < CSV_ROWS_PER_S:
            problems.append(f"{1 - c['rows_per_s'] / CSV_ROWS_PER_S:.0%} short")
        if c["rss_growth_mb"] > CSV_MEMORY_MB:
            problems.append(f"+{c['rss_growth_mb'] - CSV_MEMORY_MB:.0f} MB over")
        lines.append(
            f"| {c['report']} | {c['rows']:,} | {c['bytes'] / 1e6:,.0f} | {c['seconds']:.1f} | "
            f"{(c['first_byte_s'] or 0) * 1000:,.0f} | {(c['first_row_s'] or 0) * 1000:,.0f} | "
            f"{c['rows_per_s']:,.0f} | {c['rss_growth_mb']:.1f} | "
            f"{'met' if not problems else '**missed** (' + ', '.join(problems) + ')'} |"
        )
    lines += [
        "",
        "## Partner API under gunicorn",
        "",
        "gunicorn (4 sync workers, as the README runs it, persistent database connections) on "
        "127.0.0.1, loaded by wrk (16 connections, two threads) on the same two cores; sync "
        "workers close each connection, so every request opens one. The three loads run in "
        "three interleaved rounds and each figure sums its rounds, so a burst of other work "
        "on the machine weighs on all three alike. Requests rotate over the keys (partner "
        "tier) and busiest projects of the partners that have a page (100) of leased "
        "accounts and the balance to request more. The bare view answers the same first page "
        "with the same items from one query, without authentication, rate limits, the call "
        "log or the envelope. Each request-a-lease creates a request; the benchmark deletes "
        "them afterwards.",
        "",
        "| load | req/s | median ms | p95 ms | requests | failed | ÷ bare | target | result |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    bare = next((a for a in report.api if a["name"].startswith("bare")), None)
    for a in report.api:
        share = a["rps"] / bare["rps"] if bare and bare["rps"] else 0
        is_bare = a is bare
        ok = is_bare or share >= API_RATIO
        lines.append(
            f"| {a['name']} | {a['rps']:,.0f} | {a['median_ms']:.1f} | {a['p95_ms']:.1f} | "
            f"{a['requests']:,} | {a['failures']} | {'-' if is_bare else f'{share:.0%}'} | "
            f"{'reference' if is_bare else f'≥ {API_RATIO:.0%}'} | "
            f"{'-' if is_bare else verdict(ok, '' if ok else f'{API_RATIO - share:.0%} short')} |"
        )
    if report.notes:
        lines += ["", "## Notes from this run", ""]
        lines += [f"- {note}" for note in report.notes]
    if info.get("analysis"):
        lines += ["", info["analysis"].rstrip()]
    path.write_text("\n".join(lines) + "\n")
    print(f"Wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page (20)")
    parser.add_argument(
        "--api-seconds", type=float, default=15.0, help="per API load, over 3 rounds (15)"
    )
    parser.add_argument("--api-clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument(
        "--only", default="dashboard,admin,csv,api", help="sections (dashboard,admin,csv,api)"
    )
    parser.add_argument("--output", default=str(ROOT / "docs" / "performance.md"))
    parser.add_argument(
        "--analysis",
        default=str(ROOT / "bench" / "analysis.md"),
        help="markdown appended to the report: what was changed and why figures miss",
    )
    parser.add_argument(
        "--results",
        default=str(ROOT / "bench" / "results.json"),
        help="where the run's raw figures are saved (docs can be rewritten from them)",
    )
    parser.add_argument(
        "--rewrite",
        action="store_true",
        help="rewrite the markdown from the saved figures of the last run; measure nothing",
    )
    parser.add_argument("--csv-child", help=argparse.SUPPRESS)
    parser.add_argument("--user", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.csv_child:
        csv_child(args.csv_child)
        return
    analysis = Path(args.analysis)
    if args.rewrite:
        saved = json.loads(Path(args.results).read_text())
        report = Report(
            pages=[PageResult(**r) for r in saved["report"]["pages"]],
            admin=[PageResult(**r) for r in saved["report"]["admin"]],
            typed=[PageResult(**r) for r in saved["report"]["typed"]],
            floor=[PageResult(**r) for r in saved["report"].get("floor", [])],
            csv=saved["report"]["csv"],
            api=saved["report"]["api"],
            notes=saved["report"]["notes"],
        )
        saved_info: dict[str, Any] = saved["info"]
        saved_info["run_at"] = datetime.fromisoformat(saved_info["run_at"])
        saved_info["analysis"] = analysis.read_text() if analysis.exists() else ""
        write(report, saved_info, Path(args.output), saved["command"])
        return
    if connection.vendor != "postgresql":
        sys.exit("bench/run.py measures PostgreSQL: set DATABASE_URL to the scale database.")
    started = time.perf_counter()
    info: dict[str, Any] = {
        "run_at": datetime.now(UTC),
        "machine": machine(),
        "dataset": dataset(),
    }
    sizes = info["dataset"]["after"].get("sizes", {})
    defaults = sizes.get("accounts") == 1_000_000
    info["generator"] = "default sizes" if defaults else f"sizes {sizes}"
    loaded = info["dataset"]["after"].get("load_seconds")
    if loaded:
        info["generator"] += f"; loaded in {loaded:.0f} s, then VACUUM ANALYZE"
    print(f"Machine: {info['machine']}")
    print(f"Dataset: {info['dataset']['counts']}", flush=True)
    fx = fixtures()
    report = Report()
    sections = set(args.only.split(","))
    if "dashboard" in sections:
        dashboard(report, fx, args.repeat)
    if "admin" in sections:
        admin_pages(report, fx, args.repeat)
    if "csv" in sections:
        csv_exports(report, fx)
    if "api" in sections:
        api(report, seconds=args.api_seconds, clients=args.api_clients, workers=args.workers)
    info["elapsed"] = time.perf_counter() - started
    command = ".venv/bin/python bench/run.py" + (
        f" --only {args.only}" if args.only != "dashboard,admin,csv,api" else ""
    )
    Path(args.results).write_text(
        json.dumps(
            {"info": info, "report": asdict(report), "command": command},
            default=str,
            indent=1,
        )
    )
    info["analysis"] = analysis.read_text() if analysis.exists() else ""
    write(report, info, Path(args.output), command)


if __name__ == "__main__":
    main()
