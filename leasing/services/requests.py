"""Lease requests: create, claim, note, close."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from leasing.ids import make_id
from leasing.models import LeaseRequest, Organization, Project, RequestNote
from leasing.money import format_cents
from leasing.services.audit import Actor, audit_record
from leasing.services.errors import (
    BillingExhausted,
    Conflict,
    FieldProblem,
    InvalidState,
    ValidationFailed,
)
from leasing.services.totals import open_requests_move
from leasing.services.validation import country_code, language_problem

MAX_COUNT = 50
MAX_GEO = 50
PARTNER_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NOTE_MAX = 2000

REQUEST_AUDIT_FIELDS = ["status", "assigned_count", "claimed_by_id", "closed_at"]


def _text_problem(value: object, field: str, max_len: int, *, required: bool = False) -> str | None:
    if value is None:
        return "is required" if required else None
    if not isinstance(value, str):
        return "must be a string"
    if required and not value.strip():
        return "must not be empty"
    if len(value) > max_len:
        return f"must be at most {max_len} characters (got {len(value)})"
    return None


def lease_request_problems(
    *,
    count: object,
    vertical: object,
    audience: object = None,
    language: object = None,
    geo: object = None,
    target: object = None,
    note: object = None,
    request_key: object = None,
) -> tuple[list[FieldProblem], list[str]]:
    """Every problem with a lease request's fields, and the normalised geo list.

    Field names are the API's (`niche.vertical`), so the API can report them as they are.
    Values arrive untyped because JSON can carry anything.
    """
    problems: list[FieldProblem] = []

    def add(field: str, problem: str | None) -> None:
        if problem:
            problems.append(FieldProblem(field, problem))

    if count is None:
        add("count", "is required")
    elif isinstance(count, bool) or not isinstance(count, int):
        add("count", "must be a whole number between 1 and 50")
    elif not 1 <= count <= MAX_COUNT:
        add("count", f"must be between 1 and {MAX_COUNT} (got {count})")

    add("niche.vertical", _text_problem(vertical, "niche.vertical", 64, required=True))
    add("niche.audience", _text_problem(audience, "niche.audience", 500))
    if language is not None:
        if not isinstance(language, str):
            add("niche.language", "must be a string")
        else:
            add("niche.language", language_problem(language))

    codes: list[str] = []
    if geo is not None:
        if not isinstance(geo, list):
            add("niche.geo", "must be a list of ISO 3166-1 alpha-2 country codes")
        elif len(geo) > MAX_GEO:
            add("niche.geo", f"must list at most {MAX_GEO} countries (got {len(geo)})")
        else:
            bad = []
            for item in geo:
                code = country_code(item) if isinstance(item, str) else None
                if code is None:
                    bad.append(repr(item))
                elif code not in codes:
                    codes.append(code)
            if bad:
                add("niche.geo", f"not ISO 3166-1 alpha-2 country codes: {', '.join(bad)}")

    add("target", _text_problem(target, "target", 2000))
    add("note", _text_problem(note, "note", NOTE_MAX))
    if request_key is not None and (
        not isinstance(request_key, str) or not PARTNER_REQUEST_ID.match(request_key)
    ):
        add("requestId", "must be 1-64 characters of A-Z, a-z, 0-9, _ and -")
    return problems, codes


def lease_request_create(
    *,
    project: Project,
    count: int,
    vertical: str,
    audience: str | None = None,
    language: str | None = None,
    geo: Sequence[str] | None = None,
    target: str | None = None,
    note: str | None = None,
    request_key: str | None = None,
    actor: Actor,
    submitted_at: datetime | None = None,
) -> LeaseRequest:
    """Queue a request for `count` accounts. Nothing is charged until assignment."""
    problems, codes = lease_request_problems(
        count=count,
        vertical=vertical,
        audience=audience,
        language=language,
        # A bare string is a Sequence too; list("US") would hide the real problem.
        geo=list(geo) if isinstance(geo, list | tuple) else geo,
        target=target,
        note=note,
        request_key=request_key,
    )
    if problems:
        raise ValidationFailed(problems)

    with transaction.atomic():
        # No lock: nothing is charged here, the balance check only turns away a partner
        # who could not pay for even one account.
        org = Organization.objects.get(pk=project.organization_id)
        if not org.is_active:
            raise InvalidState(f"{org.name} is suspended and cannot request accounts")
        if org.balance_cents < org.monthly_price_cents:
            raise BillingExhausted(
                f"wallet balance {format_cents(org.balance_cents)} does not cover one account at "
                f"{format_cents(org.monthly_price_cents)}; top up the wallet and try again",
                details={
                    "balanceCents": org.balance_cents,
                    "priceCents": org.monthly_price_cents,
                },
            )
        new_id = make_id("lreq")
        lease_request = LeaseRequest(
            id=new_id,
            organization=org,
            project=project,
            request_key=request_key or new_id,
            count=count,
            vertical=vertical.strip(),
            audience=audience or "",
            language=language or "",
            geo=codes,
            target=target or "",
            partner_note=note or "",
            submitted_at=(submitted_at or timezone.now()).replace(microsecond=0),
            api_key=actor.api_key,
        )
        try:
            with transaction.atomic():
                lease_request.save(force_insert=True)
        except IntegrityError:
            raise Conflict(
                f"requestId {request_key!r} is already used by another request of this "
                "organization",
                details={"field": "requestId"},
            ) from None
        audit_record(
            actor=actor,
            action="request.create",
            object_type="lease_request",
            object_id=lease_request.pk,
            organization_id=org.pk,
            after={"count": count, "vertical": lease_request.vertical, "project": project.pk},
            at=lease_request.submitted_at,
        )
        open_requests_move(request_id=lease_request.pk, was=None, now=lease_request.status)
    return lease_request


def _lock_request(request: LeaseRequest) -> LeaseRequest:
    return LeaseRequest.objects.select_for_update(no_key=True).get(pk=request.pk)


LATEST_NOTE_FIELDS = ["latest_note", "latest_note_visibility"]


def _note_write(
    locked: LeaseRequest, text: str, visibility: str, *, actor: Actor, at: datetime
) -> RequestNote:
    """Add a note to a request whose row this transaction holds, and copy it onto the
    request as its latest (`LATEST_NOTE_FIELDS`; the caller saves them)."""
    locked.latest_note, locked.latest_note_visibility = text, visibility
    return RequestNote.objects.create(
        request=locked, author_id=actor.user_id, body=text, visibility=visibility, created_at=at
    )


def _lock_open_request(request: LeaseRequest) -> LeaseRequest:
    locked = _lock_request(request)
    if not locked.is_open:
        raise InvalidState(
            f"request {locked.request_key} is already {locked.get_status_display().lower()}"
        )
    return locked


def lease_request_claim(
    *, request: LeaseRequest, actor: Actor, take_over: bool = False
) -> LeaseRequest:
    """Mark the request as being worked by the acting ops user."""
    if actor.user is None:
        raise InvalidState("only a staff user can claim a request")
    with transaction.atomic():
        locked = _lock_open_request(request)
        if locked.claimed_by_id == actor.user.pk:
            return locked
        if locked.claimed_by_id is not None and not take_over:
            holder = locked.claimed_by
            raise Conflict(
                f"request {locked.request_key} is already claimed by "
                f"{holder.get_username() if holder else 'someone else'}"
            )
        was = locked.status
        before = {"claimed_by": locked.claimed_by_id, "status": was}
        locked.claimed_by_id = actor.user.pk
        locked.claimed_at = timezone.now()
        if locked.status == LeaseRequest.Status.REQUESTED:
            locked.status = LeaseRequest.Status.IN_PROGRESS
        locked.save(update_fields=["claimed_by", "claimed_at", "status"])
        audit_record(
            actor=actor,
            action="request.claim",
            object_type="lease_request",
            object_id=locked.pk,
            organization_id=locked.organization_id,
            before=before,
            after={"claimed_by": actor.user.pk, "status": locked.status},
        )
        open_requests_move(request_id=locked.pk, was=was, now=locked.status)
    return locked


def lease_request_unclaim(*, request: LeaseRequest, actor: Actor) -> LeaseRequest:
    """Put the request back in the queue for anyone to pick up."""
    with transaction.atomic():
        locked = _lock_open_request(request)
        if locked.claimed_by_id is None:
            return locked
        was = locked.status
        before = {"claimed_by": locked.claimed_by_id, "status": was}
        locked.claimed_by = None
        locked.claimed_at = None
        if locked.assigned_count == 0:
            locked.status = LeaseRequest.Status.REQUESTED
        locked.save(update_fields=["claimed_by", "claimed_at", "status"])
        audit_record(
            actor=actor,
            action="request.unclaim",
            object_type="lease_request",
            object_id=locked.pk,
            organization_id=locked.organization_id,
            before=before,
            after={"claimed_by": None, "status": locked.status},
        )
        open_requests_move(request_id=locked.pk, was=was, now=locked.status)
    return locked


def request_note_add(
    *,
    request: LeaseRequest,
    body: str,
    visibility: str = RequestNote.Visibility.INTERNAL,
    actor: Actor,
) -> RequestNote:
    """Add a note; partner-visible ones become the API's `note` field."""
    text = (body or "").strip()
    problems = []
    if not text:
        problems.append(FieldProblem("body", "must not be empty"))
    elif len(text) > NOTE_MAX:
        problems.append(FieldProblem("body", f"must be at most {NOTE_MAX} characters"))
    if visibility not in RequestNote.Visibility.values:
        problems.append(FieldProblem("visibility", "must be internal or partner"))
    if problems:
        raise ValidationFailed(problems)
    with transaction.atomic():
        # The request's row lock puts notes added at once in one order, and each takes its
        # time after the lock: the note written last is the one that sorts first by
        # (created_at, id), so it is the one the request keeps as its latest.
        locked = _lock_request(request)
        note = _note_write(locked, text, visibility, actor=actor, at=timezone.now())
        locked.save(update_fields=LATEST_NOTE_FIELDS)
    return note


def lease_request_close(
    *, request: LeaseRequest, outcome: str, note: str, actor: Actor
) -> LeaseRequest:
    """Close an open request as partial (some assigned) or rejected (none assigned).

    The partner-visible note is required: it is what the partner reads in the API.
    """
    text = (note or "").strip()
    if outcome not in (LeaseRequest.Status.PARTIAL, LeaseRequest.Status.REJECTED):
        raise ValidationFailed([FieldProblem("outcome", "must be partial or rejected")])
    if not text:
        raise ValidationFailed(
            [FieldProblem("note", "a partner-visible note is required to close a request")]
        )
    if len(text) > NOTE_MAX:
        raise ValidationFailed([FieldProblem("note", f"must be at most {NOTE_MAX} characters")])
    with transaction.atomic():
        locked = _lock_open_request(request)
        if outcome == LeaseRequest.Status.PARTIAL and locked.assigned_count == 0:
            raise InvalidState(
                f"request {locked.request_key} has no accounts assigned; reject it instead"
            )
        if outcome == LeaseRequest.Status.REJECTED and locked.assigned_count > 0:
            raise InvalidState(
                f"request {locked.request_key} already has {locked.assigned_count} account(s) "
                "assigned; close it as partial instead"
            )
        now = timezone.now()
        was = locked.status
        before = {"status": was}
        locked.status = outcome
        locked.closed_at = now
        # The closing note is the request's latest: taken under the lock, like any note.
        _note_write(locked, text, RequestNote.Visibility.PARTNER, actor=actor, at=now)
        locked.save(update_fields=["status", "closed_at", *LATEST_NOTE_FIELDS])
        audit_record(
            actor=actor,
            action=f"request.close_{outcome}",
            object_type="lease_request",
            object_id=locked.pk,
            organization_id=locked.organization_id,
            before=before,
            after={"status": outcome, "assigned_count": locked.assigned_count, "note": text},
            at=now,
        )
        open_requests_move(request_id=locked.pk, was=was, now=locked.status)
    return locked
