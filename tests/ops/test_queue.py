from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leasing import selectors
from leasing.models import LeaseRequest
from leasing.services.audit import Actor
from leasing.services.requests import lease_request_claim, request_note_add
from tests import factories
from tests.invariants import snapshot

pytestmark = pytest.mark.django_db

QUEUE = "/"


def ago(**delta) -> object:
    return timezone.now() - timedelta(**delta)


def row_ids(response) -> list[str]:
    return re.findall(r'data-request-id="([^"]+)"', response.content.decode())


# ------------------------------------------------------------------ access


def test_anonymous_is_redirected_to_login(anonymous):
    response = anonymous.get(QUEUE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_queue_is_get_only(ops_client):
    assert ops_client.post(QUEUE).status_code == 405


def test_support_sees_the_queue_without_claim_controls(support_client, project):
    factories.make_request(project)
    body = support_client.get(QUEUE).content.decode()
    assert "Brewline Coffee" in body
    assert "data-claim" not in body
    assert 'name="ids"' not in body
    assert "Claim selected" not in body
    assert "Read-only view for your role" in body


def test_ops_gets_claim_per_row_and_bulk_claim(ops_client, project):
    factories.make_request(project)
    body = ops_client.get(QUEUE).content.decode()
    assert "data-claim" in body
    assert 'name="ids"' in body
    assert "Claim selected" in body


# ------------------------------------------------------------------ what it shows


def test_default_view_is_open_requests_oldest_first(ops_client, ops_user, project):
    newer = factories.make_request(project, submitted_at=ago(hours=1))
    older = factories.make_request(project, submitted_at=ago(hours=5))
    claimed = factories.make_request(project, submitted_at=ago(hours=3))
    lease_request_claim(request=claimed, actor=Actor.for_user(ops_user))
    closed = factories.make_request(project, submitted_at=ago(hours=9))
    LeaseRequest.objects.filter(pk=closed.pk).update(status="rejected", closed_at=timezone.now())

    response = ops_client.get(QUEUE)

    assert response.status_code == 200
    assert row_ids(response) == [older.pk, claimed.pk, newer.pk]


def test_row_shows_partner_project_niche_progress_claim_and_latest_note(
    ops_client, ops_user, project
):
    req = factories.make_request(
        project, count=4, vertical="coffee", language="en-US", geo=["US", "CA"]
    )
    actor = Actor.for_user(ops_user)
    lease_request_claim(request=req, actor=actor)
    request_note_add(request=req, body="older note", actor=actor)
    request_note_add(request=req, body="Waiting on warm-up\nsecond line", actor=actor)

    body = ops_client.get(QUEUE).content.decode()

    assert "Brewline Coffee" in body
    assert "Brewline TikTok" in body
    assert "coffee" in body
    assert "en-US · US, CA" in body
    assert "0 / 4" in body
    assert ">olive_ops<" in body
    note_cell = re.search(r'class="cell-note"[^>]*>(.*?)</td>', body, re.S)
    assert note_cell is not None
    assert note_cell.group(1).strip() == "Waiting on warm-up"
    assert "older note" not in body


def test_row_cells_are_escaped(ops_client, ops_user):
    hostile = '<script>alert("x")</script>'
    org = factories.make_org(f"Evil {hostile} & Co")
    project = factories.make_project(org, name=f'Proj "{hostile}"')
    req = factories.make_request(project, vertical="coffee")
    request_note_add(request=req, body=f"{hostile}\nsecond 'line'", actor=Actor.for_user(ops_user))

    body = ops_client.get(QUEUE).content.decode()

    assert "<script>alert" not in body
    assert "Evil &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in body
    assert "Proj &quot;&lt;script&gt;" in body
    # The note's full text goes into the title attribute, quotes and newline kept escaped.
    title = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;\nsecond &#x27;line&#x27;"
    assert f'title="{title}"' in body


def test_row_marks_partner_notes_and_the_viewers_own_claims(ops_client, ops_user, project):
    mine = factories.make_request(project, submitted_at=ago(hours=2))
    open_one = factories.make_request(project, submitted_at=ago(hours=1))
    actor = Actor.for_user(ops_user)
    lease_request_claim(request=mine, actor=actor)
    request_note_add(request=mine, body="We are on it", actor=actor, visibility="partner")

    body = ops_client.get(QUEUE).content.decode()
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<tr data-request-id="([^"]+)".*?</tr>', body, re.S)
    }

    assert '<span class="chip chip-partner">Partner</span> We are on it' in rows[mine.pk]
    assert "Yours" in rows[mine.pk]
    assert "data-claim" not in rows[mine.pk]
    claim = reverse("ops:request-claim", args=[open_one.pk])
    assert f'formaction="{claim}"' in rows[open_one.pk]
    assert f'name="ids" value="{open_one.pk}"' in rows[open_one.pk]


@pytest.mark.parametrize(("hours", "level"), [(2, "age-fresh"), (30, "age-amber"), (50, "age-red")])
def test_age_chip_turns_amber_after_a_day_and_red_after_two(ops_client, project, hours, level):
    factories.make_request(project, submitted_at=ago(hours=hours))
    assert f"chip {level}" in ops_client.get(QUEUE).content.decode()


def test_status_tabs_count_open_requests(ops_client, ops_user, project):
    factories.make_request(project)
    factories.make_request(project)
    claimed = factories.make_request(project)
    lease_request_claim(request=claimed, actor=Actor.for_user(ops_user))

    body = ops_client.get(QUEUE).content.decode()

    tabs = dict(re.findall(r'class="tab"[^>]*>\s*([A-Za-z ]+?)<span class="tab-count">(\d+)', body))
    assert tabs == {"Open": "3", "Requested": "2", "In progress": "1"}


def test_open_counts_are_one_query_on_the_rollup(ops_user, project):
    made = [factories.make_request(project) for _ in range(6)]
    lease_request_claim(request=made[0], actor=Actor.for_user(ops_user))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        counts = selectors.open_request_counts(ops_user)
    # Six requests spread over the shards, one of them claimed: each shard row counted.
    assert counts == {"requested": 5, "in_progress": 1}
    assert len(ctx.captured_queries) <= 3  # permission lookups, then the rollup's rows
    sql = ctx.captured_queries[-1]["sql"].replace('"', "")
    # A few shard rows per status, not the open requests counted.
    assert "FROM leasing_openrequesttotals" in sql
    assert "leasing_leaserequest" not in sql


def test_open_counts_are_zero_without_the_dashboard_permission(project, django_user_model):
    factories.make_request(project)
    nobody = django_user_model.objects.create_user(username="no_role")
    assert selectors.open_request_counts(nobody) == {"requested": 0, "in_progress": 0}


# ------------------------------------------------------------------ filters


def test_filter_several_statuses(ops_client, project):
    open_req = factories.make_request(project)
    rejected = factories.make_request(project)
    LeaseRequest.objects.filter(pk=rejected.pk).update(status="rejected", closed_at=timezone.now())

    only_rejected = ops_client.get(QUEUE, {"status": ["rejected"]})
    both = ops_client.get(QUEUE, {"status": ["rejected", "requested"]})

    assert row_ids(only_rejected) == [rejected.pk]
    assert set(row_ids(both)) == {rejected.pk, open_req.pk}


def test_filter_vertical_language_country_and_partner(ops_client, project, other_project):
    coffee = factories.make_request(project, vertical="Coffee", language="en-US", geo=["US"])
    tea = factories.make_request(project, vertical="tea", language="de", geo=["DE", "AT"])
    rival = factories.make_request(other_project, vertical="fitness", language="en", geo=["GB"])

    assert row_ids(ops_client.get(QUEUE, {"vertical": "coffee"})) == [coffee.pk]
    assert set(row_ids(ops_client.get(QUEUE, {"language": "en"}))) == {coffee.pk, rival.pk}
    assert row_ids(ops_client.get(QUEUE, {"country": "at"})) == [tea.pk]
    partner = other_project.organization.pk
    assert row_ids(ops_client.get(QUEUE, {"partner": partner})) == [rival.pk]


def test_country_filter_matches_whole_codes_only(ops_client, project):
    factories.make_request(project, geo=["US"])
    assert row_ids(ops_client.get(QUEUE, {"country": "S"})) == []


def test_filter_claimed_mine_and_unclaimed(ops_client, ops_user, other_ops_user, project):
    mine = factories.make_request(project)
    theirs = factories.make_request(project)
    free = factories.make_request(project)
    lease_request_claim(request=mine, actor=Actor.for_user(ops_user))
    lease_request_claim(request=theirs, actor=Actor.for_user(other_ops_user))

    assert row_ids(ops_client.get(QUEUE, {"claimed": "mine"})) == [mine.pk]
    assert row_ids(ops_client.get(QUEUE, {"claimed": "unclaimed"})) == [free.pk]
    assert len(row_ids(ops_client.get(QUEUE, {"claimed": ""}))) == 3


def test_filter_older_than(ops_client, project):
    factories.make_request(project, submitted_at=ago(hours=2))
    day = factories.make_request(project, submitted_at=ago(hours=30))
    two_days = factories.make_request(project, submitted_at=ago(hours=50))

    assert row_ids(ops_client.get(QUEUE, {"older_than": "24h"})) == [two_days.pk, day.pk]
    assert row_ids(ops_client.get(QUEUE, {"older_than": "48h"})) == [two_days.pk]


def test_search_over_ids_partner_and_target(ops_client, project, other_project):
    by_key = factories.make_request(project, request_key="BRW-0042")
    by_target = factories.make_request(project, target="launch of the cold brew")
    rival = factories.make_request(other_project)

    assert row_ids(ops_client.get(QUEUE, {"q": "brw-004"})) == [by_key.pk]
    assert row_ids(ops_client.get(QUEUE, {"q": "cold brew"})) == [by_target.pk]
    assert row_ids(ops_client.get(QUEUE, {"q": "rival"})) == [rival.pk]
    assert row_ids(ops_client.get(QUEUE, {"q": rival.pk.lower()})) == [rival.pk]


def test_sort_by_count_partner_and_newest(ops_client, project, other_project):
    a = factories.make_request(project, count=2, submitted_at=ago(hours=3))
    b = factories.make_request(other_project, count=9, submitted_at=ago(hours=2))
    c = factories.make_request(project, count=5, submitted_at=ago(hours=1))

    assert row_ids(ops_client.get(QUEUE, {"sort": "count"})) == [b.pk, c.pk, a.pk]
    assert row_ids(ops_client.get(QUEUE, {"sort": "partner"})) == [a.pk, c.pk, b.pk]
    assert row_ids(ops_client.get(QUEUE, {"sort": "newest"})) == [c.pk, b.pk, a.pk]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"country": "XX"}, "is not a two-letter country code"),
        ({"status": ["bogus"]}, "Select a valid choice"),
        ({"sort": "fastest"}, "Select a valid choice"),
        ({"language": "not a tag!"}, "is not a BCP-47 language tag"),
        ({"page": "0"}, "greater than or equal to 1"),
    ],
)
def test_bad_filter_is_reported_not_ignored(ops_client, project, params, message):
    factories.make_request(project)
    response = ops_client.get(QUEUE, params)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Some filters could not be used" in body
    assert message in body


def test_bad_filter_shows_no_rows(ops_client, project):
    factories.make_request(project)
    assert row_ids(ops_client.get(QUEUE, {"country": "XX"})) == []


def test_filtered_url_works_without_javascript(ops_client, project):
    factories.make_request(project, vertical="coffee")
    response = ops_client.get(QUEUE, {"vertical": "coffee", "claimed": "unclaimed"})
    body = response.content.decode()
    assert body.startswith("<!doctype html>")
    assert 'value="coffee"' in body
    assert '<option value="unclaimed" selected>' in body


# ------------------------------------------------------------------ htmx


def test_htmx_filter_gets_only_the_results_fragment(ops_client, project, htmx_headers):
    req = factories.make_request(project)
    response = ops_client.get(QUEUE, {"vertical": "coffee"}, headers=htmx_headers("queue-results"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="queue-results"')
    assert "<html" not in body
    assert 'id="queue-filters"' not in body
    assert req.pk in body
    # The region polls its own URL, so a refresh keeps the filters.
    assert 'hx-get="/?vertical=coffee"' in body
    assert 'hx-trigger="every 30s"' in body
    assert "HX-Target" in response["Vary"]
    assert "no-store" in response["Cache-Control"]


def test_htmx_tab_gets_the_whole_queue_region(ops_client, project, htmx_headers):
    factories.make_request(project)
    response = ops_client.get(QUEUE, {"status": ["requested"]}, headers=htmx_headers("queue"))
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="queue"')
    assert 'id="queue-filters"' in body
    assert "<html" not in body


def test_unknown_htmx_target_gets_the_full_page(ops_client, htmx_headers):
    response = ops_client.get(QUEUE, headers=htmx_headers("no-such-region"))
    assert response.content.decode().startswith("<!doctype html>")


# ------------------------------------------------------------------ paging and budgets


def test_paging_has_next_and_previous_without_counting(ops_client, project, monkeypatch):
    monkeypatch.setattr(selectors, "QUEUE_PAGE_SIZE", 2)
    reqs = [factories.make_request(project, submitted_at=ago(hours=10 - i)) for i in range(5)]

    first = ops_client.get(QUEUE)
    second = ops_client.get(QUEUE, {"page": 2})
    last = ops_client.get(QUEUE, {"page": 3})

    assert row_ids(first) == [reqs[0].pk, reqs[1].pk]
    assert "Next →" in first.content.decode()
    assert "← Previous" not in first.content.decode()
    assert row_ids(second) == [reqs[2].pk, reqs[3].pk]
    assert "Showing 3\u20134" in second.content.decode()
    assert row_ids(last) == [reqs[4].pk]
    assert "Next →" not in last.content.decode()
    assert "← Previous" in last.content.decode()


def _queue_world(n: int, project, ops_user) -> None:
    actor = Actor.for_user(ops_user)
    for i in range(n):
        req = factories.make_request(project, submitted_at=ago(hours=i + 1))
        if i % 2:
            lease_request_claim(request=req, actor=actor)
        request_note_add(request=req, body=f"note {i}", actor=actor)


# session, user, the user's permissions and groups (one query), the open counts and the
# page of rows (latest note included). The partner filter is a text box with
# suggestions, not a list of every partner.
QUEUE_QUERIES = 5


@pytest.mark.parametrize("rows", [2, 20])
def test_queue_query_budget_does_not_grow_with_rows(
    ops_client, ops_user, project, rows, django_assert_num_queries
):
    _queue_world(rows, project, ops_user)
    with django_assert_num_queries(QUEUE_QUERIES):
        response = ops_client.get(QUEUE)
    assert len(row_ids(response)) == rows


def test_queue_fragment_query_budget(
    ops_client, ops_user, project, htmx_headers, django_assert_num_queries
):
    _queue_world(10, project, ops_user)
    with django_assert_num_queries(QUEUE_QUERIES):
        ops_client.get(QUEUE, headers=htmx_headers("queue-results"))


# ------------------------------------------------------------------ bulk claim


def test_bulk_claim_claims_every_selected_request(ops_client, ops_user, project):
    a, b, untouched = (factories.make_request(project) for _ in range(3))

    response = ops_client.post(
        reverse("ops:queue-claim"), {"ids": [a.pk, b.pk], "next": "/?vertical=coffee"}
    )

    assert response.status_code == 303
    assert response["Location"] == "/?vertical=coffee"
    a.refresh_from_db()
    b.refresh_from_db()
    untouched.refresh_from_db()
    assert (a.claimed_by_id, a.status) == (ops_user.pk, "in_progress")
    assert (b.claimed_by_id, b.status) == (ops_user.pk, "in_progress")
    assert untouched.claimed_by_id is None


def test_bulk_claim_reports_the_ones_someone_else_holds(
    ops_client, ops_user, other_ops_user, project
):
    free = factories.make_request(project, request_key="FREE-1")
    taken = factories.make_request(project, request_key="TAKEN-1")
    lease_request_claim(request=taken, actor=Actor.for_user(other_ops_user))

    response = ops_client.post(
        reverse("ops:queue-claim"), {"ids": [free.pk, taken.pk]}, follow=True
    )

    body = response.content.decode()
    assert "Claimed 1 request." in body
    assert "TAKEN-1 is already claimed by oscar_ops" in body
    taken.refresh_from_db()
    assert taken.claimed_by_id == other_ops_user.pk


def test_bulk_claim_without_a_selection_changes_nothing(ops_client, project):
    factories.make_request(project)
    before = snapshot()
    response = ops_client.post(reverse("ops:queue-claim"), {}, follow=True)
    assert "Tick at least one request to claim." in response.content.decode()
    assert snapshot() == before


def test_bulk_claim_ignores_an_unsafe_next(ops_client, project):
    req = factories.make_request(project)
    response = ops_client.post(
        reverse("ops:queue-claim"), {"ids": [req.pk], "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_support_cannot_bulk_claim(support_client, project):
    req = factories.make_request(project)
    response = support_client.post(reverse("ops:queue-claim"), {"ids": [req.pk]})
    assert response.status_code == 403
    req.refresh_from_db()
    assert req.claimed_by_id is None


def test_bulk_claim_is_post_only(ops_client):
    assert ops_client.get(reverse("ops:queue-claim")).status_code == 405


def test_anonymous_bulk_claim_is_redirected(anonymous, project):
    req = factories.make_request(project)
    response = anonymous.post(reverse("ops:queue-claim"), {"ids": [req.pk]})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_htmx_bulk_claim_lands_on_the_refreshed_fragment_with_the_message(
    ops_client, project, htmx_headers
):
    req = factories.make_request(project)
    response = ops_client.post(
        reverse("ops:queue-claim"),
        {"ids": [req.pk], "next": "/"},
        headers=htmx_headers("queue-results"),
        follow=True,
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="queue-results"')
    assert "<html" not in body
    assert 'id="messages" class="messages" aria-live="polite" hx-swap-oob="true"' in body
    assert "Claimed 1 request." in body
    assert 'chip chip-accent">Yours' in body


def test_queue_offers_the_filtered_csv_to_exporters(client, ops_user):
    client.force_login(ops_user)
    response = client.get("/", {"vertical": "coffee", "status": ["requested"], "page": "2"})
    assert b'href="/reports/queue.csv?vertical=coffee&amp;status=requested" download' in (
        response.content
    )


def test_queue_hides_the_csv_from_support(client, support_user):
    client.force_login(support_user)
    response = client.get("/", {"vertical": "coffee"})
    assert b"/reports/queue.csv" not in response.content
