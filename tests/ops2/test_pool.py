"""The pool list, an account's page and its state changes, and the supply board."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse

from leasing.models import AuditEvent, PoolAccount
from leasing.services.audit import Actor
from leasing.services.pool import pool_account_retire, pool_import_csv
from tests import factories
from tests.invariants import snapshot
from tests.ops2.conftest import lease_accounts

pytestmark = pytest.mark.django_db

POOL = "/pool/"


def account_ids(response) -> list[str]:
    return re.findall(r'data-account-id="([^"]+)"', response.content.decode())


def account_url(account: PoolAccount, action: str = "") -> str:
    return reverse(f"ops:pool-{action or 'account'}", args=[account.pk])


# ------------------------------------------------------------------ the list


def test_anonymous_is_redirected_and_the_list_is_get_only(anonymous, support_client):
    assert anonymous.get(POOL)["Location"].startswith("/login/?next=/pool/")
    assert support_client.post(POOL).status_code == 405


def test_filters_state_vertical_language_country_followers_and_handle(support_client):
    a = factories.make_account(
        "brew.daily", verticals=["coffee"], language="en-US", countries=["US"], followers=5_000
    )
    b = factories.make_account(
        "kaffee.de", verticals=["coffee"], language="de", countries=["DE"], followers=50_000
    )
    c = factories.make_account(
        "fit.mx",
        verticals=["fitness"],
        language="es",
        countries=["MX"],
        followers=9_000,
        state="warming",
    )
    assert set(account_ids(support_client.get(POOL))) == {a.pk, b.pk, c.pk}
    assert account_ids(support_client.get(POOL, {"state": "warming"})) == [c.pk]
    assert account_ids(support_client.get(POOL, {"vertical": " Coffee "})) == [b.pk, a.pk]
    assert account_ids(support_client.get(POOL, {"language": "en"})) == [a.pk]
    assert account_ids(support_client.get(POOL, {"country": "de"})) == [b.pk]
    assert account_ids(
        support_client.get(POOL, {"followers_min": "6000", "followers_max": "20000"})
    ) == [c.pk]
    assert account_ids(support_client.get(POOL, {"q": "@BREW"})) == [a.pk]
    assert account_ids(support_client.get(POOL, {"q": b.pk})) == [b.pk]
    assert account_ids(support_client.get(POOL, {"sort": "handle"})) == [a.pk, c.pk, b.pk]


def test_bad_filters_are_reported(support_client):
    factories.make_account()
    response = support_client.get(
        POOL, {"followers_min": "10", "followers_max": "5", "country": "XX"}
    )
    body = response.content.decode()
    assert "Some filters could not be used" in body
    assert "must be at least the minimum" in body
    assert "not a two-letter country code" in body
    assert account_ids(response) == []


def test_leased_accounts_show_their_partner(support_client, partner, project):
    (lease,) = lease_accounts(project, 1)
    body = support_client.get(POOL, {"state": "leased"}).content.decode()
    assert lease.account.pk in body
    assert "Brewline Coffee" in body


def test_export_link_carries_the_filters(ops_client):
    factories.make_account()
    body = ops_client.get(
        POOL, {"state": "ready", "vertical": "coffee", "page": "1"}
    ).content.decode()
    assert 'href="/reports/pool.csv?state=ready&amp;vertical=coffee"' in body


def test_support_gets_no_export_or_import_links(support_client):
    body = support_client.get(POOL).content.decode()
    assert "pool.csv" not in body
    assert "Import CSV" not in body


def test_htmx_gets_the_results_region(support_client, htmx_headers):
    factories.make_account()
    body = support_client.get(POOL, headers=htmx_headers("pool-results")).content.decode()
    assert body.lstrip().startswith('<div id="pool-results">')


@pytest.mark.parametrize("accounts", [3, 30])
def test_pool_query_budget(support_client, project, accounts, django_assert_num_queries):
    for _ in range(accounts):
        factories.make_account()
    lease_accounts(project, 2)
    # session, user, perms with the role's groups, one page of rows with the lease
    # subqueries
    with django_assert_num_queries(4):
        response = support_client.get(POOL)
    assert len(account_ids(response)) == accounts + 2


# ------------------------------------------------------------------ account page


def test_account_page_shows_lease_history_and_audit_trail(support_client, project, ops_user):
    (lease,) = lease_accounts(project, 1)
    account = lease.account
    from leasing.services.leases import lease_release

    lease_release(
        lease=lease, actor=Actor.for_user(ops_user), reason="released_by_ops", note="paused"
    )
    body = support_client.get(account_url(account)).content.decode()
    assert "Brewline Coffee" in body
    assert "Released by ops" in body
    assert "Lease ended" in body
    assert "Ended: released by ops. paused" in body
    assert "Retire" not in body  # support: read-only


def test_unknown_account_is_404(support_client):
    assert support_client.get("/pool/sa_01ARZ3NDEKTSV4RRFFQ69G5FAV/").status_code == 404


def test_ops_marks_warming_ready_and_back(ops_client):
    account = factories.make_account(state="warming")
    assert ops_client.post(account_url(account, "mark-ready")).status_code == 303
    account.refresh_from_db()
    assert account.state == "ready"
    assert AuditEvent.objects.filter(action="pool.mark_ready", object_id=account.pk).exists()
    assert ops_client.post(account_url(account, "mark-warming")).status_code == 303
    account.refresh_from_db()
    assert account.state == "warming"


def test_marking_a_leased_account_ready_says_why_not(ops_client, project):
    (lease,) = lease_accounts(project, 1)
    response = ops_client.post(account_url(lease.account, "mark-ready"), follow=True)
    assert "only a warming account can become ready" in response.content.decode()


@pytest.mark.parametrize("client_name", ["support_client", "finance_client"])
def test_support_and_finance_cannot_change_the_pool(request, client_name):
    client = request.getfixturevalue(client_name)
    account = factories.make_account(state="warming")
    before = snapshot()
    assert client.post(account_url(account, "mark-ready")).status_code == 403
    assert client.post(account_url(account, "retire"), {"reason": "x"}).status_code == 403
    assert client.get("/pool/import/").status_code == 403
    assert snapshot() == before


def test_state_changes_are_post_only(ops_client):
    account = factories.make_account()
    assert ops_client.get(account_url(account, "mark-warming")).status_code == 405
    assert ops_client.get(account_url(account, "retire")).status_code == 405


def test_retire_an_unleased_account_needs_a_reason(ops_client):
    account = factories.make_account()
    response = ops_client.post(account_url(account, "retire"), {"reason": "  "})
    assert response.status_code == 422
    assert "Say why the account is retired" in response.content.decode()
    assert ops_client.post(account_url(account, "retire"), {"reason": "banned"}).status_code == 303
    account.refresh_from_db()
    assert (account.state, account.retired_reason) == ("retired", "banned")


def test_retiring_a_leased_account_names_the_partner_and_needs_the_confirmation(
    ops_client, partner, project
):
    (lease,) = lease_accounts(project, 1)
    page = ops_client.get(account_url(lease.account)).content.decode()
    assert "Leased to Brewline Coffee" in page
    assert f'name="confirm_lease" value="{lease.pk}" required' in page
    before = snapshot()
    response = ops_client.post(account_url(lease.account, "retire"), {"reason": "banned"})
    assert response.status_code == 422
    assert "is leased to Brewline Coffee" in response.content.decode()
    assert snapshot() == before

    response = ops_client.post(
        account_url(lease.account, "retire"), {"reason": "banned", "confirm_lease": lease.pk}
    )
    assert response.status_code == 303
    lease.refresh_from_db()
    assert (lease.status, lease.disconnected_reason) == ("disconnected", "account_lost")
    followed = ops_client.get(response["Location"]).content.decode()
    assert "lease was disconnected (account_lost)" in followed


def test_a_confirmation_for_an_older_lease_does_not_retire(
    ops_client, project, other_project, ops_user
):
    (first,) = lease_accounts(project, 1)
    account = first.account
    from leasing.services.allocation import accounts_assign
    from leasing.services.leases import lease_release

    lease_release(lease=first, actor=Actor.for_user(ops_user), reason="released_by_ops", note="x")
    req = factories.make_request(other_project, count=1)
    (second,) = accounts_assign(request=req, account_ids=[account.pk], actor=factories.SYSTEM)
    before = snapshot()
    response = ops_client.post(
        account_url(account, "retire"), {"reason": "lost", "confirm_lease": first.pk}
    )
    assert response.status_code == 422
    assert "leased to Rival Fitness" in response.content.decode()
    assert snapshot() == before
    second.refresh_from_db()
    assert second.status == "assigned"


def test_retiring_twice_says_so(ops_client):
    account = factories.make_account()
    pool_account_retire(account=account, reason="gone", actor=factories.SYSTEM)
    response = ops_client.post(account_url(account, "retire"), {"reason": "again"})
    assert response.status_code == 422
    assert "already retired" in response.content.decode()


# ------------------------------------------------------------------ supply and demand


def test_supply_board_highlights_language_shortfalls(support_client, project):
    for _ in range(3):
        factories.make_account(verticals=["coffee"], language="en")
    factories.make_account(verticals=["coffee"], language="de")
    factories.make_request(project, count=2, vertical="Coffee", language="de-DE")
    factories.make_request(project, count=1, vertical="coffee", language="en")
    factories.make_request(project, count=5, vertical="coffee", language=None)
    factories.make_account(verticals=["fitness"], language="en")
    board = support_client.get("/supply/").content.decode()
    coffee = board.split('<th scope="rowgroup" class="group-name">coffee</th>', 1)[1].split(
        "</tbody>", 1
    )[0]
    # de: 1 ready for 2 -> 1 short; en: 3 ready for 1 -> 2 spare;
    # any language: 5 wanted, 2 spare -> 3 short.
    assert "4 short" in coffee
    assert "uses the 2 spare" in coffee
    assert 'class="bar bar-short is-flagged"' in board
    fitness = board.split('class="group-name">fitness</th>', 1)[1].split("</tbody>", 1)[0]
    assert "enough" in fitness


def test_supply_query_budget(support_client, project, django_assert_num_queries):
    for vertical in ("coffee", "fitness", "travel"):
        factories.make_account(verticals=[vertical])
        factories.make_request(project, vertical=vertical)
    # session, user, perms with the role's groups, ready supply rollup, demand per vertical
    with django_assert_num_queries(5):
        support_client.get("/supply/")


def import_verticals(n: int, *, ready_each: int = 1) -> None:
    """`n` verticals (v01, v02, ...) with `ready_each` ready accounts each, fewest first."""
    lines = ["handle,platform,followers,verticals,language,geo,state"]
    for v in range(1, n + 1):
        lines += [f"acct_{v}_{i},tiktok,10,v{v:02},en,US,ready" for i in range(ready_each)]
    report = pool_import_csv(stream=io.StringIO("\n".join(lines)), actor=factories.SYSTEM)
    assert report.created == n * ready_each


def shown_verticals(body: str) -> list[str]:
    return re.findall(r'<th scope="rowgroup" class="group-name">([^<]+)</th>', body)


def test_supply_table_shows_25_verticals_and_says_how_many_more(support_client, project):
    import_verticals(60)
    factories.make_request(project, count=3, vertical="v60")  # the only shortfall: first
    body = support_client.get("/supply/").content.decode()
    shown = shown_verticals(body)
    assert len(shown) == 25
    assert shown[0] == "v60"
    assert "Verticals 1\u201325 of 60" in body
    assert "35 more verticals after these" in body
    assert 'href="/supply/?page=2" rel="next"' in body
    # The totals still count every vertical, not only those shown.
    assert ">60</div>" in body


def test_supply_next_pages_show_the_rest(support_client):
    import_verticals(60)
    first = shown_verticals(support_client.get("/supply/").content.decode())
    second = shown_verticals(support_client.get("/supply/", {"page": 2}).content.decode())
    body = support_client.get("/supply/", {"page": 3}).content.decode()
    rest = shown_verticals(body)
    assert len(rest) == 10
    assert set(first) | set(second) | set(rest) == {f"v{v:02}" for v in range(1, 61)}
    assert "Verticals 51\u201360 of 60" in body
    assert "more vertical" not in body
    assert 'href="/supply/?page=2" rel="prev"' in body
    assert 'rel="next"' not in body


def test_supply_page_past_the_end_or_garbage_shows_a_real_page(support_client):
    import_verticals(60)
    assert len(shown_verticals(support_client.get("/supply/?page=9").content.decode())) == 10
    assert len(shown_verticals(support_client.get("/supply/?page=x").content.decode())) == 25


def test_supply_with_few_verticals_has_no_pager(support_client):
    import_verticals(3)
    body = support_client.get("/supply/").content.decode()
    assert len(shown_verticals(body)) == 3
    assert "All 3 verticals" in body
    assert 'class="pager"' not in body


def test_supply_hides_verticals_whose_accounts_all_left_ready(support_client, ops_user):
    account = factories.make_account(verticals=["gone"])
    factories.make_account(verticals=["kept"])
    pool_account_retire(account=account, reason="banned", actor=Actor.for_user(ops_user))
    assert shown_verticals(support_client.get("/supply/").content.decode()) == ["kept"]


def test_supply_query_budget_does_not_grow_with_verticals(
    support_client, project, django_assert_num_queries
):
    import_verticals(120, ready_each=2)
    for v in range(1, 30):
        factories.make_request(project, count=1, vertical=f"v{v:02}", language="de")
    with django_assert_num_queries(5):
        support_client.get("/supply/", {"page": 2})


def import_languages(vertical: str, languages: list[str]) -> None:
    lines = ["handle,platform,followers,verticals,language,geo,state"]
    lines += [f"{vertical}_{lang},tiktok,10,{vertical},{lang},US,ready" for lang in languages]
    report = pool_import_csv(stream=io.StringIO("\n".join(lines)), actor=factories.SYSTEM)
    assert report.ok


LANGUAGES = ["de", "en", "es", "fr", "it", "ja", "ko", "nl", "pt"]


def test_supply_folds_a_verticals_other_languages_into_one_linked_line(support_client, project):
    import_languages("coffee", LANGUAGES)
    factories.make_request(project, count=3, vertical="coffee", language="pt")
    factories.make_request(project, count=4, vertical="coffee", language=None)
    body = support_client.get("/supply/").content.decode()
    coffee = body.split('class="group-name">coffee</th>', 1)[1].split("</tbody>", 1)[0]
    languages = re.findall(r'<tr class="lang-row[^"]*">\s*<td></td>\s*<td>(\w\w)</td>', coffee)
    assert languages == ["pt", "de", "en", "es"]  # most short first, then a-z
    folded = coffee.split("data-folded-languages>", 1)[1].split("</tr>", 1)[0]
    assert 'href="/supply/?vertical=coffee">5 more languages</a>' in folded
    assert '<td class="num">5</td>' in folded  # fr, it, ja, ko and nl: one ready account each
    assert "any language (uses the 8 spare)" in coffee  # still after the languages


def test_supply_shows_one_vertical_with_every_language(support_client):
    import_languages("coffee", LANGUAGES)
    import_languages("tea", ["en"])
    body = support_client.get("/supply/", {"vertical": " Coffee "}).content.decode()
    assert shown_verticals(body) == ["coffee"]
    assert len(re.findall(r'<tr class="lang-row', body)) == len(LANGUAGES)
    assert "data-folded-languages" not in body
    assert "coffee, every language." in body
    # The totals above still cover every vertical.
    assert ">10</div>" in body


def test_supply_names_a_vertical_it_does_not_know(support_client):
    import_languages("coffee", ["en"])
    body = support_client.get("/supply/", {"vertical": "yerba"}).content.decode()
    assert "No ready accounts and no open requests in “yerba”." in body
    assert shown_verticals(body) == []
