"""Lease requests: creation rules, claiming, notes and closing."""

from __future__ import annotations

from typing import Any

import pytest

from leasing import ids
from leasing.models import AuditEvent, LeaseRequest, RequestNote
from leasing.services.allocation import accounts_assign
from leasing.services.audit import Actor
from leasing.services.billing import wallet_adjust
from leasing.services.errors import (
    BillingExhausted,
    Conflict,
    InvalidState,
    ValidationFailed,
)
from leasing.services.partners import organization_set_status
from leasing.services.requests import (
    lease_request_claim,
    lease_request_close,
    lease_request_create,
    lease_request_unclaim,
    request_note_add,
)
from tests import factories
from tests.invariants import snapshot

VALID: dict[str, Any] = {"count": 3, "vertical": "coffee"}


def create(project, actor, **fields: Any) -> LeaseRequest:
    return lease_request_create(project=project, actor=actor, **{**VALID, **fields})


def refused_fields(project, actor, **fields: Any) -> dict[str, str]:
    """Create with `fields`, expect a validation refusal that writes nothing."""
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        create(project, actor, **fields)
    assert snapshot() == before
    return {p.field: p.problem for p in exc.value.fields}


# --- create: the happy path ---------------------------------------------------------


def test_create_queues_a_request_without_charging(project, system):
    balance = project.organization.balance_cents
    req = create(
        project,
        system,
        count=5,
        vertical="  Coffee ",
        audience="home baristas",
        language="en-US",
        geo=["us", "Gb", "US"],
        target="grow to 10k",
        note="please hurry",
    )
    req.refresh_from_db()
    assert req.status == LeaseRequest.Status.REQUESTED
    assert req.api_status == "requested"
    assert (req.count, req.vertical, req.audience) == (5, "Coffee", "home baristas")
    assert req.language == "en-US"
    assert req.geo == ["US", "GB"]
    assert (req.target, req.partner_note) == ("grow to 10k", "please hurry")
    assert req.organization_id == project.organization_id
    assert req.submitted_at.microsecond == 0
    assert req.assigned_count == 0
    assert req.closed_at is None
    project.organization.refresh_from_db()
    assert project.organization.balance_cents == balance
    assert AuditEvent.objects.filter(action="request.create", object_id=req.pk).count() == 1


def test_create_without_request_id_mints_an_lreq_id(project, system):
    req = create(project, system)
    assert ids.is_id(req.pk, "lreq")
    assert req.request_key == req.pk


def test_create_keeps_the_partners_request_id(project, system):
    req = create(project, system, request_key="order-42_A")
    assert req.request_key == "order-42_A"
    assert ids.is_id(req.pk, "lreq")


def test_create_records_the_api_key_that_asked(project):
    api_key, _ = factories.make_key(project.organization)
    req = create(project, Actor.for_api_key(api_key))
    assert req.api_key == api_key
    event = AuditEvent.objects.get(action="request.create", object_id=req.pk)
    assert event.actor_type == AuditEvent.ActorType.API_KEY
    assert event.actor_api_key == api_key


@pytest.mark.parametrize("count", [1, 50])
def test_count_bounds_are_accepted(project, system, count):
    assert create(project, system, count=count).count == count


@pytest.mark.parametrize("language", ["en", "en-US", "pt-BR", "zh-Hant-TW", "EN-us"])
def test_bcp47_languages_are_accepted(project, system, language):
    assert create(project, system, language=language).language == language


def test_longest_allowed_texts_are_accepted(project, system):
    req = create(
        project,
        system,
        vertical="v" * 64,
        audience="a" * 500,
        target="t" * 2000,
        note="n" * 2000,
        request_key="k" * 64,
        geo=["US"] * 50,
    )
    assert len(req.target) == 2000
    assert req.geo == ["US"]


# --- create: validation -------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "problem"),
    [
        (None, "is required"),
        (0, "between 1 and 50"),
        (51, "between 1 and 50"),
        (-1, "between 1 and 50"),
        (True, "whole number"),
        (False, "whole number"),
        (3.0, "whole number"),
        (2.5, "whole number"),
        ("3", "whole number"),
        ([3], "whole number"),
    ],
)
def test_bad_count_is_refused(project, system, count, problem):
    fields = refused_fields(project, system, count=count)
    assert list(fields) == ["count"]
    assert problem in fields["count"]


@pytest.mark.parametrize(
    ("vertical", "problem"),
    [
        (None, "is required"),
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("v" * 65, "at most 64"),
        (7, "must be a string"),
    ],
)
def test_bad_vertical_is_refused(project, system, vertical, problem):
    fields = refused_fields(project, system, vertical=vertical)
    assert list(fields) == ["niche.vertical"]
    assert problem in fields["niche.vertical"]


@pytest.mark.parametrize("language", ["en_US", "english", "en-", "", "123", "e", 42])
def test_non_bcp47_language_is_refused(project, system, language):
    assert list(refused_fields(project, system, language=language)) == ["niche.language"]


@pytest.mark.parametrize(
    "geo",
    [["UK"], ["XX"], ["USA"], ["U"], ["us", "zz"], [""], [1], ["Ü S"], ["US"] * 51],
)
def test_non_iso_geo_is_refused(project, system, geo):
    assert list(refused_fields(project, system, geo=geo)) == ["niche.geo"]


@pytest.mark.parametrize("geo", ["US", {"US": 1}])
def test_geo_that_is_not_a_list_is_refused(project, system, geo):
    fields = refused_fields(project, system, geo=geo)
    assert fields == {"niche.geo": "must be a list of ISO 3166-1 alpha-2 country codes"}


def test_geo_may_be_a_tuple(project, system):
    assert create(project, system, geo=("de", "AT")).geo == ["DE", "AT"]


def test_geo_lists_every_bad_code(project, system):
    fields = refused_fields(project, system, geo=["US", "UK", "EU", "FR"])
    assert "'UK'" in fields["niche.geo"]
    assert "'EU'" in fields["niche.geo"]
    assert "'US'" not in fields["niche.geo"]


@pytest.mark.parametrize(
    ("field", "api_field", "limit"),
    [
        ("audience", "niche.audience", 500),
        ("target", "target", 2000),
        ("note", "note", 2000),
    ],
)
def test_texts_over_their_limit_are_refused(project, system, field, api_field, limit):
    fields = refused_fields(project, system, **{field: "x" * (limit + 1)})
    assert list(fields) == [api_field]
    assert f"at most {limit}" in fields[api_field]


@pytest.mark.parametrize("request_key", ["", "has space", "k" * 65, "ünï", "a/b", "a.b", 12])
def test_bad_partner_request_id_is_refused(project, system, request_key):
    assert list(refused_fields(project, system, request_key=request_key)) == ["requestId"]


def test_every_wrong_field_is_listed_at_once(project, system):
    fields = refused_fields(
        project,
        system,
        count=True,
        vertical="",
        audience="a" * 501,
        language="en_US",
        geo=["UK"],
        target="t" * 2001,
        note="n" * 2001,
        request_key="bad id",
    )
    assert set(fields) == {
        "count",
        "niche.vertical",
        "niche.audience",
        "niche.language",
        "niche.geo",
        "target",
        "note",
        "requestId",
    }


# --- create: refusals that depend on the organization -------------------------------


def test_wallet_below_one_account_is_billing_exhausted(project, system):
    org = project.organization
    wallet_adjust(
        organization=org,
        amount_cents=-(org.balance_cents - org.monthly_price_cents + 1),
        memo="leave one cent short",
        actor=system,
    )
    before = snapshot()
    with pytest.raises(BillingExhausted) as exc:
        create(project, system)
    assert exc.value.details == {"balanceCents": 14_999, "priceCents": 15_000}
    assert "$149.99" in exc.value.message
    assert snapshot() == before


def test_wallet_holding_exactly_one_account_may_request_many(project, system):
    org = project.organization
    wallet_adjust(
        organization=org,
        amount_cents=org.monthly_price_cents - org.balance_cents,
        memo="exactly one",
        actor=system,
    )
    assert create(project, system, count=50).count == 50


def test_suspended_partner_cannot_request(project, system):
    organization_set_status(organization=project.organization, status="suspended", actor=system)
    before = snapshot()
    with pytest.raises(InvalidState, match="suspended"):
        create(project, system)
    assert snapshot() == before


def test_request_id_reuse_within_the_organization_is_a_conflict(project, system):
    first = create(project, system, request_key="batch-1")
    second_project = factories.make_project(project.organization, "Second")
    before = snapshot()
    with pytest.raises(Conflict, match="batch-1"):
        create(second_project, system, request_key="batch-1")
    assert snapshot() == before
    assert LeaseRequest.objects.get(request_key="batch-1") == first


def test_same_request_id_in_another_organization_is_fine(project, other_project, system):
    mine = create(project, system, request_key="batch-1")
    theirs = create(other_project, system, request_key="batch-1")
    assert mine.pk != theirs.pk
    assert LeaseRequest.objects.filter(request_key="batch-1").count() == 2


# --- claim / unclaim ----------------------------------------------------------------


def test_claim_moves_request_to_in_progress(project, ops_user, ops):
    req = factories.make_request(project)
    claimed = lease_request_claim(request=req, actor=ops)
    req.refresh_from_db()
    assert req.status == LeaseRequest.Status.IN_PROGRESS
    assert req.api_status == "requested"
    assert req.claimed_by == ops_user
    assert req.claimed_at is not None
    assert claimed.pk == req.pk
    assert AuditEvent.objects.filter(action="request.claim", object_id=req.pk).count() == 1


def test_claiming_your_own_claim_again_changes_nothing(project, ops):
    req = factories.make_request(project)
    lease_request_claim(request=req, actor=ops)
    before = snapshot()
    lease_request_claim(request=req, actor=ops)
    assert snapshot() == before


def test_claim_held_by_someone_else_is_a_conflict(project, ops, other_ops, ops_user):
    req = factories.make_request(project)
    lease_request_claim(request=req, actor=ops)
    before = snapshot()
    with pytest.raises(Conflict, match="olive_ops"):
        lease_request_claim(request=req, actor=other_ops)
    assert snapshot() == before
    req.refresh_from_db()
    assert req.claimed_by == ops_user


def test_take_over_moves_the_claim(project, ops, other_ops, other_ops_user):
    req = factories.make_request(project)
    lease_request_claim(request=req, actor=ops)
    lease_request_claim(request=req, actor=other_ops, take_over=True)
    req.refresh_from_db()
    assert req.claimed_by == other_ops_user
    assert req.status == LeaseRequest.Status.IN_PROGRESS


def test_only_staff_can_claim(project, system):
    req = factories.make_request(project)
    before = snapshot()
    with pytest.raises(InvalidState, match="staff"):
        lease_request_claim(request=req, actor=system)
    assert snapshot() == before


def test_unclaim_puts_request_back_in_the_queue(project, ops):
    req = factories.make_request(project)
    lease_request_claim(request=req, actor=ops)
    lease_request_unclaim(request=req, actor=ops)
    req.refresh_from_db()
    assert req.status == LeaseRequest.Status.REQUESTED
    assert req.claimed_by is None
    assert req.claimed_at is None
    assert AuditEvent.objects.filter(action="request.unclaim", object_id=req.pk).count() == 1


def test_unclaim_keeps_in_progress_once_accounts_are_assigned(project, ops):
    req = factories.make_request(project, count=2)
    lease_request_claim(request=req, actor=ops)
    accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    lease_request_unclaim(request=req, actor=ops)
    req.refresh_from_db()
    assert req.status == LeaseRequest.Status.IN_PROGRESS
    assert req.claimed_by is None


def test_unclaim_of_an_unclaimed_request_changes_nothing(project, ops):
    req = factories.make_request(project)
    before = snapshot()
    lease_request_unclaim(request=req, actor=ops)
    assert snapshot() == before


def test_closed_request_cannot_be_claimed_or_unclaimed(project, ops):
    req = factories.make_request(project)
    lease_request_close(request=req, outcome="rejected", note="no stock", actor=ops)
    before = snapshot()
    with pytest.raises(InvalidState, match="rejected"):
        lease_request_claim(request=req, actor=ops)
    with pytest.raises(InvalidState, match="rejected"):
        lease_request_unclaim(request=req, actor=ops)
    assert snapshot() == before


# --- notes --------------------------------------------------------------------------


@pytest.mark.parametrize("visibility", ["internal", "partner"])
def test_note_is_added_with_its_visibility(project, ops, ops_user, visibility):
    req = factories.make_request(project)
    note = request_note_add(
        request=req, body="  checking stock  ", visibility=visibility, actor=ops
    )
    note.refresh_from_db()
    assert (note.body, note.visibility, note.author) == ("checking stock", visibility, ops_user)
    assert note.request == req


def test_note_defaults_to_internal(project, ops):
    req = factories.make_request(project)
    assert request_note_add(request=req, body="x", actor=ops).visibility == "internal"


@pytest.mark.parametrize(
    ("body", "visibility", "fields"),
    [
        ("", "internal", {"body"}),
        ("   \n ", "partner", {"body"}),
        ("x" * 2001, "internal", {"body"}),
        ("fine", "public", {"visibility"}),
        ("", "public", {"body", "visibility"}),
    ],
)
def test_bad_note_is_refused(project, ops, body, visibility, fields):
    req = factories.make_request(project)
    before = snapshot()
    with pytest.raises(ValidationFailed) as exc:
        request_note_add(request=req, body=body, visibility=visibility, actor=ops)
    assert {p.field for p in exc.value.fields} == fields
    assert snapshot() == before


def test_note_of_exactly_2000_characters_is_accepted(project, ops):
    req = factories.make_request(project)
    assert len(request_note_add(request=req, body="x" * 2000, actor=ops).body) == 2000


# --- close --------------------------------------------------------------------------


def test_reject_closes_with_a_partner_visible_note(project, ops, ops_user):
    req = factories.make_request(project)
    closed = lease_request_close(
        request=req, outcome="rejected", note=" No coffee accounts left ", actor=ops
    )
    req.refresh_from_db()
    assert req.status == LeaseRequest.Status.REJECTED
    assert req.closed_at is not None
    assert closed.status == LeaseRequest.Status.REJECTED
    note = RequestNote.objects.get(request=req)
    assert (note.body, note.visibility, note.author) == (
        "No coffee accounts left",
        RequestNote.Visibility.PARTNER,
        ops_user,
    )
    assert AuditEvent.objects.filter(action="request.close_rejected", object_id=req.pk).exists()


def test_partial_closes_a_request_with_some_accounts(project, ops):
    req = factories.make_request(project, count=3)
    accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    lease_request_close(request=req, outcome="partial", note="only one fits", actor=ops)
    req.refresh_from_db()
    assert req.status == LeaseRequest.Status.PARTIAL
    assert req.assigned_count == 1
    assert req.closed_at is not None
    assert RequestNote.objects.get(request=req).visibility == "partner"
    assert AuditEvent.objects.filter(action="request.close_partial", object_id=req.pk).exists()


@pytest.mark.parametrize("note", ["", "   ", None])
@pytest.mark.parametrize("outcome", ["partial", "rejected"])
def test_closing_needs_a_partner_note(project, ops, outcome, note):
    req = factories.make_request(project)
    before = snapshot()
    with pytest.raises(ValidationFailed, match="partner-visible note"):
        lease_request_close(request=req, outcome=outcome, note=note, actor=ops)
    assert snapshot() == before


def test_closing_note_over_2000_characters_is_refused(project, ops):
    req = factories.make_request(project)
    before = snapshot()
    with pytest.raises(ValidationFailed, match="2000"):
        lease_request_close(request=req, outcome="rejected", note="x" * 2001, actor=ops)
    assert snapshot() == before


@pytest.mark.parametrize("outcome", ["assigned", "requested", "cancelled"])
def test_closing_with_another_outcome_is_refused(project, ops, outcome):
    req = factories.make_request(project)
    before = snapshot()
    with pytest.raises(ValidationFailed, match="partial or rejected"):
        lease_request_close(request=req, outcome=outcome, note="n", actor=ops)
    assert snapshot() == before


def test_partial_needs_at_least_one_assigned(project, ops):
    req = factories.make_request(project)
    before = snapshot()
    with pytest.raises(InvalidState, match="reject it instead"):
        lease_request_close(request=req, outcome="partial", note="n", actor=ops)
    assert snapshot() == before


def test_reject_needs_none_assigned(project, ops):
    req = factories.make_request(project, count=2)
    accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    before = snapshot()
    with pytest.raises(InvalidState, match="partial instead"):
        lease_request_close(request=req, outcome="rejected", note="n", actor=ops)
    assert snapshot() == before


def test_closing_twice_is_refused(project, ops):
    req = factories.make_request(project)
    lease_request_close(request=req, outcome="rejected", note="first", actor=ops)
    before = snapshot()
    with pytest.raises(InvalidState, match="already rejected"):
        lease_request_close(request=req, outcome="rejected", note="second", actor=ops)
    assert snapshot() == before


def test_fully_assigned_request_cannot_be_closed(project, ops):
    req = factories.make_request(project, count=1)
    accounts_assign(request=req, account_ids=[factories.make_account().pk], actor=ops)
    before = snapshot()
    with pytest.raises(InvalidState, match="already assigned"):
        lease_request_close(request=req, outcome="partial", note="n", actor=ops)
    assert snapshot() == before
