"""Partners: onboarding, projects, status and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from functools import lru_cache

from django.db import IntegrityError, transaction
from django.utils import timezone

from leasing.db import ModelStatement, model_statement, prepared_statements
from leasing.models import ApiKey, Organization, Project
from leasing.money import format_cents
from leasing.services.audit import Actor, audit_record
from leasing.services.billing import MAX_MOVEMENT_CENTS, MAX_PRICE_CENTS, wallet_top_up
from leasing.services.errors import Conflict, FieldProblem, InvalidState, ValidationFailed

SCOPES = ("leased:write", "social:read", "*")
DEFAULT_SCOPES = ["leased:write", "social:read"]
KEY_PREFIX = "lp_live_"
_KEY_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
_SECRET_ALPHABET = string.ascii_letters + string.digits
KEY_ID_LENGTH = 14
SECRET_LENGTH = 40


def _hash_secret(secret: str) -> str:
    # Secrets are 40 random base62 characters (~238 bits); a fast hash is enough and keeps
    # authentication cheap on every API call.
    return hashlib.sha256(secret.encode()).hexdigest()


def _name_problem(field: str, value: object) -> list[FieldProblem]:
    if not isinstance(value, str) or not value.strip():
        return [FieldProblem(field, "is required")]
    if len(value.strip()) > 200:
        return [FieldProblem(field, "must be at most 200 characters")]
    return []


def _scopes_problem(scopes: list[str]) -> list[FieldProblem]:
    if not scopes:
        return [FieldProblem("scopes", f"name at least one of {', '.join(SCOPES)}")]
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        return [
            FieldProblem(
                "scopes", f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(SCOPES)}"
            )
        ]
    return []


def _tier_problem(tier: str) -> list[FieldProblem]:
    if tier not in ApiKey.Tier.values:
        return [FieldProblem("tier", f"must be one of {', '.join(ApiKey.Tier.values)}")]
    return []


def project_create(*, organization: Organization, name: str, actor: Actor) -> Project:
    problems = _name_problem("name", name)
    if problems:
        raise ValidationFailed(problems)
    try:
        with transaction.atomic():
            project = Project.objects.create(organization=organization, name=name.strip())
            audit_record(
                actor=actor,
                action="project.create",
                object_type="project",
                object_id=project.pk,
                organization_id=organization.pk,
                after={"name": project.name},
            )
    except IntegrityError:
        raise Conflict(
            f"{organization.name} already has a project named {name.strip()!r}"
        ) from None
    return project


def api_key_issue(
    *,
    organization: Organization,
    actor: Actor,
    scopes: list[str] | None = None,
    tier: str = ApiKey.Tier.STANDARD,
    name: str = "",
) -> tuple[ApiKey, str]:
    """Create a key and return it with the full secret, which is never stored or shown again."""
    scopes = list(dict.fromkeys(scopes if scopes is not None else DEFAULT_SCOPES))
    problems = _scopes_problem(scopes) + _tier_problem(tier)
    if len(name) > 100:
        problems.append(FieldProblem("name", "must be at most 100 characters"))
    if problems:
        raise ValidationFailed(problems)
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
    raw = f"{KEY_PREFIX}{key_id}_{secret}"
    with transaction.atomic():
        api_key = ApiKey.objects.create(
            organization=organization,
            name=name,
            key_id=key_id,
            secret_hash=_hash_secret(secret),
            display_prefix=f"{KEY_PREFIX}{key_id}_{secret[:4]}",
            scopes=scopes,
            tier=tier,
            created_by_id=actor.user_id,
        )
        audit_record(
            actor=actor,
            action="api_key.issue",
            object_type="api_key",
            object_id=str(api_key.pk),
            organization_id=organization.pk,
            after={"display_prefix": api_key.display_prefix, "scopes": scopes, "tier": tier},
        )
    return api_key, raw


def api_key_authenticate(raw: str) -> ApiKey | None:
    """The live key for a bearer token, or None (unknown, malformed or revoked)."""
    if not raw.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = raw[len(KEY_PREFIX) :].partition("_")
    if not sep or len(key_id) != KEY_ID_LENGTH or not secret:
        return None
    api_key = _key_by_id(key_id)
    if api_key is None:
        # Spend the same time as a real comparison so a miss is not faster than a hit.
        hmac.compare_digest(_hash_secret(secret), _hash_secret(""))
        return None
    if not hmac.compare_digest(api_key.secret_hash, _hash_secret(secret)):
        return None
    if api_key.is_revoked:
        return None
    return api_key


KEY_STATEMENT = "lease_desk_api_key"
# A key id no key has: the statement is built for it once, then run for the real one.
_ANY_KEY_ID = "lease-desk-any-key-id"


def _key_by_id(key_id: str) -> ApiKey | None:
    """Every API call starts here, so on PostgreSQL it is a prepared statement
    (leasing/db.py): the ORM took longer to build the query than the database to answer."""
    if prepared_statements():
        found: list[ApiKey] = _key_statement().instances([key_id])
        return found[0] if found else None
    return ApiKey.objects.filter(key_id=key_id).first()


@lru_cache(maxsize=1)
def _key_statement() -> ModelStatement:
    query = ApiKey.objects.filter(key_id=_ANY_KEY_ID).order_by()
    return model_statement(KEY_STATEMENT, query, [_ANY_KEY_ID])


def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update(no_key=True).get(pk=api_key.pk)
        if locked.revoked_at is not None:
            raise InvalidState(f"key {locked.display_prefix}… is already revoked")
        locked.revoked_at = timezone.now()
        locked.revoked_by_id = actor.user_id
        locked.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=actor,
            action="api_key.revoke",
            object_type="api_key",
            object_id=str(locked.pk),
            organization_id=locked.organization_id,
            before={"revoked_at": None},
            after={"revoked_at": locked.revoked_at.isoformat()},
        )
    api_key.revoked_at = locked.revoked_at
    return locked


def organization_set_status(
    *, organization: Organization, status: str, actor: Actor
) -> Organization:
    """Suspend or reactivate a partner. Suspended partners get no new requests or leases."""
    if status not in Organization.Status.values:
        raise ValidationFailed([FieldProblem("status", "must be active or suspended")])
    with transaction.atomic():
        org = Organization.objects.select_for_update(no_key=True).get(pk=organization.pk)
        if org.status == status:
            return org
        before = org.status
        org.status = status
        org.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="organization.set_status",
            object_type="organization",
            object_id=org.pk,
            organization_id=org.pk,
            before={"status": before},
            after={"status": status},
        )
    organization.status = status
    return org


@dataclass(frozen=True)
class Onboarded:
    organization: Organization
    project: Project
    api_key: ApiKey
    raw_key: str


def organization_onboard(
    *,
    name: str,
    project_name: str,
    actor: Actor,
    wallet_cents: int = 0,
    scopes: list[str] | None = None,
    tier: str = ApiKey.Tier.STANDARD,
    monthly_price_cents: int | None = None,
) -> Onboarded:
    """A new partner with its first project, an API key and an opening balance."""
    problems = _name_problem("name", name) + _name_problem("project", project_name)
    problems += _scopes_problem(list(scopes if scopes is not None else DEFAULT_SCOPES))
    problems += _tier_problem(tier)
    if isinstance(wallet_cents, bool) or not isinstance(wallet_cents, int) or wallet_cents < 0:
        problems.append(FieldProblem("wallet_cents", "must be a whole number of cents, 0 or more"))
    elif wallet_cents > MAX_MOVEMENT_CENTS:
        problems.append(
            FieldProblem("wallet_cents", f"must be at most {format_cents(MAX_MOVEMENT_CENTS)}")
        )
    if monthly_price_cents is not None and (
        isinstance(monthly_price_cents, bool)
        or not isinstance(monthly_price_cents, int)
        or not 0 < monthly_price_cents <= MAX_PRICE_CENTS
    ):
        problems.append(
            FieldProblem(
                "monthly_price_cents",
                f"must be a whole number of cents above zero, at most "
                f"{format_cents(MAX_PRICE_CENTS)}",
            )
        )
    if problems:
        raise ValidationFailed(problems)
    clean_name = name.strip()
    taken = Conflict(f"a partner named {clean_name!r} already exists")
    with transaction.atomic():
        if Organization.objects.filter(name__iexact=clean_name).exists():
            raise taken
        try:
            # A concurrent onboarding of the same name loses on the unique constraint.
            with transaction.atomic():
                org = Organization.objects.create(
                    name=clean_name,
                    **({"monthly_price_cents": monthly_price_cents} if monthly_price_cents else {}),
                )
        except IntegrityError:
            raise taken from None
        audit_record(
            actor=actor,
            action="organization.onboard",
            object_type="organization",
            object_id=org.pk,
            organization_id=org.pk,
            after={"name": org.name, "monthly_price_cents": org.monthly_price_cents},
        )
        project = project_create(organization=org, name=project_name, actor=actor)
        api_key, raw = api_key_issue(organization=org, scopes=scopes, tier=tier, actor=actor)
        if wallet_cents:
            wallet_top_up(
                organization=org, amount_cents=wallet_cents, memo="Opening balance", actor=actor
            )
    return Onboarded(organization=org, project=project, api_key=api_key, raw_key=raw)
