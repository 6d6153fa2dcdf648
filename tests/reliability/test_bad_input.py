"""Bad input anywhere gets a clear refusal and writes nothing: oversized and non-UTF-8
bodies, huge numbers, malformed CSV files, and ids that name nothing, in every dashboard
URL, every API path and the forms that carry ids.

(The API's field-by-field validation is tests/api/test_request_create.py; schemathesis
fuzzes every operation in tests/api/test_schema.py.)
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from leasing.api.openapi import document
from leasing.roles import ADMIN, FINANCE, OPS
from tests import factories
from tests.api.conftest import assert_error, request_body, request_url
from tests.invariants import assert_invariants, snapshot
from tests.reliability.test_access_matrix import MATRIX
from tests.reliability.world import World, client_for, dashboard_urls

pytestmark = pytest.mark.django_db

TOO_BIG = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
HEADER = "handle,platform,followers,verticals,language,geo,state\n"


def api_client(world: World) -> Client:
    return Client(headers={"Authorization": f"Bearer {world.raw_key}"})


# ---------------------------------------------------------------- oversized, non-UTF-8


def test_an_oversized_api_body_is_a_400_in_the_envelope(world):
    body = json.dumps({**request_body(world.project), "note": "x" * TOO_BIG})
    before = snapshot()
    response = api_client(world).post(
        request_url(world.project.pk), data=body, content_type="application/json"
    )
    error = assert_error(response, 400, "VALIDATION")
    assert error["message"] == "the request body is too large"
    release = api_client(world).delete(
        f"/v1/leased-accounts/{world.lease.account_id}",
        data=json.dumps({"reason": "x" * TOO_BIG}),
        content_type="application/json",
    )
    assert_error(release, 400, "VALIDATION")
    assert snapshot() == before


def test_an_oversized_dashboard_form_is_the_bad_request_page(world):
    client = client_for(OPS)
    before = snapshot()
    response = client.post(
        f"/requests/{world.open_request.pk}/notes/",
        {"body": "x" * TOO_BIG, "visibility": "internal"},
    )
    assert response.status_code == 400
    assert "That request could not be read" in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b'{"count": 1, "note": "caf\xe9"}', 400),  # Latin-1
        (b"\x00\x01\x02\xff", 400),
        (b'{"count": 1, "note": "\xed\xa0\x80"}', 400),  # an encoded lone surrogate
        # UTF-16 with its byte-order mark is JSON Python can read: the fields are checked.
        ('{"count": 1}'.encode("utf-16"), 422),
    ],
    ids=["latin-1", "binary", "encoded-surrogate", "utf-16"],
)
def test_a_body_that_is_not_utf8_is_refused(world, raw, status):
    before = snapshot()
    response = api_client(world).post(
        request_url(world.project.pk), data=raw, content_type="application/json"
    )
    assert_error(response, status, "VALIDATION", has_details=status == 422)
    assert snapshot() == before


@pytest.mark.parametrize("field", ["note", "target", "requestId"])
def test_an_escaped_lone_surrogate_is_a_400_not_a_500(world, field):
    """JSON can spell half a surrogate pair ("\\ud800"); it is no character, and neither
    database can store it. This was a 500 before."""
    body = json.dumps(request_body(world.project, **{field: "coffee \ud800"}))
    before = snapshot()
    response = api_client(world).post(
        request_url(world.project.pk), data=body, content_type="application/json"
    )
    error = assert_error(response, 400, "VALIDATION")
    assert "unpaired surrogate" in error["message"]
    release = api_client(world).delete(
        f"/v1/leased-accounts/{world.lease.account_id}",
        data=json.dumps({"reason": "\udfff"}),
        content_type="application/json",
    )
    assert_error(release, 400, "VALIDATION")
    assert snapshot() == before


def test_non_utf8_bytes_in_urls_are_refused_or_ignored_cleanly(world):
    client = client_for(ADMIN)
    assert client.get("/requests/%FF%FE/").status_code == 404
    assert client.get("/pool/?q=%FF%FE").status_code == 200
    assert client.get("/search/?q=%C0%AF").status_code == 200
    assert_error(api_client(world).get("/v1/leased-accounts/requests/%FF"), 404, "NOT_FOUND")


# ---------------------------------------------------------------- huge numbers


@pytest.mark.parametrize(
    ("count", "status"),
    [(10**30, 422), (-(10**30), 422), (1e308, 422), ("9" * 5000, 400)],
    ids=["1e30", "-1e30", "float-max", "5000-digits"],
)
def test_huge_numbers_in_the_api_are_refused(world, count, status):
    body = json.dumps(request_body(world.project)).replace('"count": 2', f'"count": {count}')
    before = snapshot()
    response = api_client(world).post(
        request_url(world.project.pk), data=body, content_type="application/json"
    )
    assert_error(response, status, "VALIDATION", has_details=status == 422)
    assert snapshot() == before
    listing = api_client(world).get(
        f"/v1/projects/{world.project.pk}/leased-accounts", {"limit": str(10**30)}
    )
    assert_error(listing, 422, "VALIDATION", has_details=True)


@pytest.mark.parametrize("amount", ["1e400", "99999999999999999999", "NaN", "-Infinity", "1e-400"])
def test_huge_or_strange_amounts_on_the_dashboard_are_form_errors(world, amount):
    client = client_for(FINANCE)
    before = snapshot()
    for path, fields in [
        (f"/partners/{world.org.pk}/wallet/top-up/", {"amount": amount, "memo": "m"}),
        (f"/partners/{world.org.pk}/wallet/adjust/", {"amount": amount, "memo": "m"}),
        (f"/partners/{world.org.pk}/price/", {"price": amount}),
    ]:
        response = client.post(path, fields)
        assert response.status_code in (200, 303, 422), (path, response.status_code)
    for path in (
        f"/partners/{world.org.pk}/wallet/top-up/preview/?amount={amount}",
        f"/partners/{world.org.pk}/price/preview/?price={amount}",
        f"/?page={amount}",
        "/?page=" + "9" * 5000,
    ):
        assert client.get(path).status_code in (200, 422), path
    assert snapshot() == before


def test_huge_ids_in_integer_urls_are_404(world):
    client = client_for(ADMIN)
    before = snapshot()
    assert client.post(f"/leases/{10**30}/release/", {"reason": "x"}).status_code == 404
    revoke = f"/partners/{world.org.pk}/keys/{10**30}/revoke/"
    assert client.post(revoke).status_code == 404
    assert snapshot() == before


# ---------------------------------------------------------------- malformed CSV imports


def token_of(client: Client) -> str:
    found = re.search(
        r'name="token" value="([0-9a-f]{32})"', client.get("/pool/import/").content.decode()
    )
    assert found is not None
    return found.group(1)


MALFORMED_CSV = {
    "empty file": b"",
    "only newlines": b"\n\n\n",
    "binary": bytes(range(256)) * 4,
    "NUL bytes": (HEADER + "nul\x00handle,tiktok,1,coffee,en,US,ready\n").encode(),
    "Latin-1": (HEADER + "caf\xe9,tiktok,1,coffee,en,US,ready\n").encode("latin-1"),
    "UTF-16": (HEADER + "utf16,tiktok,1,coffee,en,US,ready\n").encode("utf-16"),
    "unclosed quote": (HEADER + 'quoted,tiktok,1,"coffee,en,US,ready\n').encode(),
    "no header": b"good.one,tiktok,100,coffee,en,US,ready\n",
    "huge followers": (HEADER + f"big,tiktok,{10**40},coffee,en,US,ready\n").encode(),
    "a 100k cell": (HEADER + "long,tiktok,1," + "c" * 100_000 + ",en,US,ready\n").encode(),
    "formula handle": (HEADER + '=cmd|"/c calc"!A1,tiktok,1,coffee,en,US,ready\n').encode(),
    "markup handle": (HEADER + "<script>x</script>,tiktok,1,coffee,en,US,ready\n").encode(),
}


@pytest.mark.parametrize("content", MALFORMED_CSV.values(), ids=MALFORMED_CSV.keys())
def test_a_malformed_csv_is_reported_and_nothing_is_imported(world, settings, tmp_path, content):
    settings.POOL_IMPORT_DIR = str(tmp_path)
    client = client_for(OPS)
    before = snapshot()
    upload = SimpleUploadedFile("pool.csv", content, content_type="text/csv")
    response = client.post("/pool/import/check/", {"file": upload, "token": token_of(client)})
    page = response.content.decode()
    assert response.status_code in (200, 422)
    assert "Nothing was written" in page or "errorlist" in page, page[:2000]
    assert "/pool/import/commit/" not in page  # no way to import it
    assert "<script>x</script>" not in page
    assert snapshot() == before
    assert list(tmp_path.glob("*.csv")) == []


# ---------------------------------------------------------------- ids that name nothing


UNKNOWN_IDS: dict[str, dict[str, Any]] = {
    "requests": {"pk": "lreq_00000000000000000000000000"},
    "leases": {"pk": 987654321},
    "partners": {"pk": "org_00000000000000000000000000", "key_id": 987654321},
    "pool": {"pk": "sa_00000000000000000000000000", "token": "f" * 32},
}
GARBAGE_IDS: dict[str, dict[str, Any]] = {
    "requests": {"pk": "<script>alert(1)"},
    "leases": {"pk": 0},
    "partners": {"pk": "..", "key_id": 0},
    "pool": {"pk": "' OR 1=1 --", "token": "0" * 32},
}


@pytest.mark.parametrize("ids", [UNKNOWN_IDS, GARBAGE_IDS], ids=["unknown", "garbage"])
def test_every_dashboard_url_naming_nothing_is_404_and_writes_nothing(world, ids):
    client = client_for(ADMIN)
    before = snapshot()
    checked = 0
    for name, path in dashboard_urls(world, ids).items():
        if path == dashboard_urls(world)[name]:
            continue  # takes no id
        method, _ = MATRIX[name]
        response = client.get(path) if method == "GET" else client.post(path, {"reason": "x"})
        assert response.status_code == 404, (name, path, response.status_code)
        assert "There is nothing here" in response.content.decode() or not response.content
        checked += 1
    assert checked >= 20
    assert snapshot() == before


def _api_paths(ids: dict[str, str], *, unknown: set[str]) -> list[tuple[str, str]]:
    """Every API call whose path names at least one of the `unknown` ids."""
    calls = []
    for template, operations in document()["paths"].items():
        names = set(re.findall(r"{(\w+)}", template))
        if not names & unknown:
            continue
        path = template
        for name in names:
            path = path.replace("{" + name + "}", ids[name])
        calls += [(m.upper(), path) for m in operations if m in ("get", "post", "delete")]
    return calls


def test_every_api_path_naming_nothing_is_404_and_writes_nothing(world):
    client = api_client(world)
    unknown = {
        "projectId": "prj_00000000000000000000000000",
        "requestId": "lreq_00000000000000000000000000",
        "socialAccountId": "sa_00000000000000000000000000",
    }
    everything = set(unknown)
    calls = _api_paths(unknown, unknown=everything)
    calls += _api_paths({**unknown, "projectId": "<b>nope</b>"}, unknown=everything)
    # This partner's real project with an unknown request or account...
    calls += _api_paths(
        {**unknown, "projectId": world.project.pk}, unknown={"requestId", "socialAccountId"}
    )
    # ...and another partner's real ids, which must look exactly like unknown ones.
    calls += _api_paths(build_other_partner(), unknown=everything)
    before = snapshot()
    for method, path in calls:
        body = json.dumps({**request_body(world.project), "projectId": path.split("/")[3]})
        response = client.generic(
            method, path, data=body if method == "POST" else "", content_type="application/json"
        )
        assert_error(response, 404, "NOT_FOUND")
    assert len(calls) >= 20
    assert snapshot() == before


def build_other_partner() -> dict[str, str]:
    project = factories.make_project(factories.make_org("Someone Else"))
    lease_request = factories.make_request(project, count=1)
    account = factories.make_account()
    from leasing.services.allocation import accounts_assign

    accounts_assign(request=lease_request, account_ids=[account.pk], actor=factories.SYSTEM)
    return {
        "projectId": project.pk,
        "requestId": lease_request.request_key,
        "socialAccountId": account.pk,
    }


def test_forms_naming_unknown_objects_say_so_and_write_nothing(world):
    client = client_for(ADMIN)
    before = snapshot()
    claim = client.post(
        "/queue/claim/", {"ids": ["lreq_00000000000000000000000000", "<b>x</b>"]}, follow=True
    )
    assert "lreq_00000000000000000000000000 does not exist" in claim.content.decode()
    assign = client.post(
        f"/requests/{world.open_request.pk}/assign/",
        {"account": ["sa_00000000000000000000000000"]},
        follow=True,
    )
    assert "no such pool account: sa_00000000000000000000000000" in assign.content.decode()
    retire = client.post(
        f"/pool/{world.lease.account_id}/retire/",
        {"reason": "banned", "confirm_lease": 987654321},
        follow=True,
    )
    assert retire.status_code in (200, 409, 422)
    for path in (
        "/reports/ledger.csv?partner=org_00000000000000000000000000",
        "/reports/queue.csv?partner=<script>",
        "/audit/?actor=987654321",
    ):
        response = client.get(path)
        assert response.status_code in (200, 422), path
        assert response["Content-Type"].startswith("text/html"), path  # the form, not a file
    assert snapshot() == before
    assert_invariants()
