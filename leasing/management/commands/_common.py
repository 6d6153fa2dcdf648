"""Plumbing shared by Lease Desk's management commands.

Not a command itself: Django skips modules whose name starts with an underscore. The
commands stay thin: parse options, find the objects named on the command line, call one
service, print what happened. Services refuse bad changes with a ServiceError and write
nothing; `service_errors` turns that refusal into a CommandError (non-zero exit) that
names the option at fault.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.management.base import CommandError, OutputWrapper

from leasing import ids
from leasing.models import LeaseRequest
from leasing.services.audit import Actor
from leasing.services.errors import ServiceError, ValidationFailed
from leasing.services.housekeeping import PurgeCounts
from leasing.services.staff import staff_role


@contextmanager
def service_errors(options: Mapping[str, str] | None = None) -> Iterator[None]:
    """Re-raise a service's refusal as a CommandError.

    `options` maps the service's field names to the command-line option that carries the
    value (`wallet_cents` -> `--wallet-cents`), so the message points at what to retype.
    """
    try:
        yield
    except ValidationFailed as exc:
        names = options or {}
        raise CommandError(
            "; ".join(f"{names.get(p.field, p.field)}: {p.problem}" for p in exc.fields)
        ) from None
    except ServiceError as exc:
        raise CommandError(exc.message) from None


def staff_user(username: str, *, option: str = "--by") -> AbstractUser:
    """The active staff user called `username` (case-insensitive), or a CommandError."""
    User = get_user_model()
    user = User.objects.filter(username__iexact=username.strip()).first()
    if user is None:
        raise CommandError(f"{option}: no staff user named {username!r}")
    assert isinstance(user, AbstractUser)
    if not user.is_active:
        raise CommandError(f"{option}: {user.username} is deactivated")
    if not user.is_staff:
        raise CommandError(f"{option}: {user.username} is not a staff user")
    return user


def acting_user(username: str, *, permission: str, doing: str) -> AbstractUser:
    """The staff user named by --by, who must hold `permission` (as on the dashboard)."""
    user = staff_user(username)
    if not user.has_perm(permission):
        role = staff_role(user) or "no role"
        raise CommandError(f"--by: {user.username} ({role}) is not allowed to {doing}")
    return user


def actor_for(username: str | None, command: str) -> Actor:
    """The staff user named by --by, or the command itself as a system actor."""
    if username is None:
        return Actor.for_system(command)
    return Actor.for_user(staff_user(username))


def lease_request_lookup(value: str) -> LeaseRequest:
    """A request by its lreq_ id, or by the partner's own requestId when only one matches."""
    key = value.strip()
    related = LeaseRequest.objects.select_related("organization", "project")
    if ids.is_id(key, "lreq"):
        found = related.filter(pk=key).first()
        if found is not None:
            return found
    matches = list(related.filter(request_key=key).order_by("organization__name")[:10])
    if not matches:
        raise CommandError(
            f"no lease request {key!r} (give its lreq_ id or the partner's requestId)"
        )
    if len(matches) > 1:
        listed = ", ".join(f"{m.organization.name}: {m.pk}" for m in matches)
        raise CommandError(
            f"requestId {key!r} is used by more than one partner ({listed}); "
            "give the lreq_ id instead"
        )
    return matches[0]


def parse_moment(value: str, *, option: str) -> datetime:
    """An ISO-8601 date or date-time; without an offset it is read as UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(
            f"{option}: {value!r} is not an ISO-8601 date-time (for example 2026-05-01T06:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """UTC with a Z and whole seconds, as the API writes timestamps."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def describe_purge(counts: PurgeCounts) -> str:
    return (
        f"Purged {counts.idempotency_keys} expired idempotency key(s), "
        f"{counts.rate_limit_windows} rate-limit window(s) and {counts.api_calls} API call "
        "log row(s)."
    )


class RawStream:
    """A file-like view of a command's OutputWrapper that writes text exactly as given.

    OutputWrapper appends a newline (and, on stderr, error colouring) to every write,
    which would break tqdm's carriage-return redraws.
    """

    def __init__(self, wrapper: OutputWrapper) -> None:
        self._wrapper = wrapper

    def write(self, text: str) -> int:
        self._wrapper.write(text, style_func=lambda s: s, ending="")
        return len(text)

    def flush(self) -> None:
        self._wrapper.flush()

    def isatty(self) -> bool:
        return self._wrapper.isatty()
