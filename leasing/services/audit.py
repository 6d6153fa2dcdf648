"""Who did it, and the audit events that record it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from leasing.context import current_request_id
from leasing.models import ApiKey, AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class Actor:
    """A staff user, a partner's API key, or a named system job."""

    user: AbstractBaseUser | None = None
    api_key: ApiKey | None = None
    system: str | None = None

    @classmethod
    def for_user(cls, user: AbstractBaseUser) -> Actor:
        return cls(user=user)

    @classmethod
    def for_api_key(cls, api_key: ApiKey) -> Actor:
        return cls(api_key=api_key)

    @classmethod
    def for_system(cls, name: str) -> Actor:
        return cls(system=name)

    @property
    def actor_type(self) -> str:
        if self.user is not None:
            return AuditEvent.ActorType.USER
        if self.api_key is not None:
            return AuditEvent.ActorType.API_KEY
        return AuditEvent.ActorType.SYSTEM

    @property
    def label(self) -> str:
        if self.user is not None:
            return str(self.user.get_username())
        if self.api_key is not None:
            return f"api key {self.api_key.display_prefix}"
        return f"system:{self.system or 'unknown'}"

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    organization_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    at: Any = None,
) -> AuditEvent:
    """Write one audit event. Call it inside the transaction of the change it records."""
    return AuditEvent.objects.create(
        actor_type=actor.actor_type,
        actor_user_id=actor.user_id,
        actor_api_key=actor.api_key,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=object_id,
        organization_id=organization_id,
        before=before,
        after=after,
        request_id=current_request_id.get(),
        created_at=at or timezone.now(),
    )
