"""Template filters for the partner, pool, renewals and audit pages."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from leasing.filters import AT_RISK_RUNWAY_DAYS, AUDIT_ACTIONS
from leasing.models import AuditEvent
from leasing.money import format_cents

register = template.Library()

# Runway under a month is worth a glance; under the at-risk threshold it is red.
RUNWAY_WATCH_DAYS = 30


@register.filter
def runway_level(days: int | None) -> str:
    """A chip class for a runway in days (None: nothing is burning)."""
    if days is None:
        return "chip-muted"
    if days < AT_RISK_RUNWAY_DAYS:
        return "chip-danger"
    if days < RUNWAY_WATCH_DAYS:
        return "chip-warn"
    return "chip-ok"


@register.filter
def runway(days: int | None) -> str:
    if days is None:
        return "no burn"
    if days >= 1000:
        return f"{days // 365} years+"
    return f"{days} day{'s' if days != 1 else ''}"


@register.filter
def signed_cents(value: int | None) -> str:
    """+$150.00 / -$150.00: a ledger movement with its direction."""
    if value is None:
        return "—"
    return ("+" if value > 0 else "") + format_cents(int(value))


@register.filter
def http_level(status: int) -> str:
    if status >= 500:
        return "chip-danger"
    if status >= 400:
        return "chip-warn"
    return "chip-ok"


@register.filter
def lookup(mapping: dict[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key, "")


@register.filter
def percent(part: int, whole: int) -> int:
    return min(100, round(100 * part / whole)) if whole else 0


_CHANGE_SKIP = {"memo", "note", "reason"}


@register.filter
def audit_changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    """(field, before, after) for each value the event recorded, short enough for a row."""
    before: dict[str, Any] = event.before if isinstance(event.before, dict) else {}
    after: dict[str, Any] = event.after if isinstance(event.after, dict) else {}
    rows = []
    for key in list(dict.fromkeys([*before, *after])):
        old, new = before.get(key), after.get(key)
        if key.endswith("_cents"):
            old = format_cents(old) if isinstance(old, int) else old
            new = format_cents(new) if isinstance(new, int) else new
        shown = _short(new)
        if not shown and isinstance(new, dict | list):
            shown = "none"
        rows.append((key.removesuffix("_cents"), _short(old), shown))
    return rows


_ISO_MOMENT = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$"
)


def _short(value: Any, length: int = 80) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and (moment := _ISO_MOMENT.match(value)):
        return f"{moment.group(1)} {moment.group(2)}"
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = ", ".join(f"{k}={v}" for k, v in value.items())
    text = str(value)
    return text if len(text) <= length else text[: length - 1] + "…"


@register.filter
def audit_object_url(event: AuditEvent) -> str:
    """The console page of the object an audit event is about, or ""."""
    kind, pk = event.object_type, event.object_id
    after: dict[str, Any] = event.after if isinstance(event.after, dict) else {}
    try:
        if kind == "organization":
            return reverse("ops:partner", args=[pk])
        if kind == "pool_account" and pk != "*":
            return reverse("ops:pool-account", args=[pk])
        if kind == "lease_request":
            return reverse("ops:request", args=[pk])
        if kind == "lease" and after.get("account"):
            return reverse("ops:pool-account", args=[after["account"]])
        if kind in ("api_key", "project") and event.organization_id:
            return reverse("ops:partner", args=[event.organization_id])
    except NoReverseMatch:
        return ""
    return ""


@register.filter
def lookup_field_label(form: Any, name: str) -> str:
    """A form field's label by name, for error lists drawn away from the fields."""
    field = form.fields.get(name)
    return str(field.label) if field is not None and field.label else name.replace("_", " ")


_ACTION_LABELS = dict(AUDIT_ACTIONS)


@register.filter
def action_label(action: str) -> str:
    return str(_ACTION_LABELS.get(action, action))


@register.filter
def audit_summary(event: AuditEvent) -> str:
    """One plain sentence for the events an account's trail shows most, else ""."""
    before: dict[str, Any] = event.before if isinstance(event.before, dict) else {}
    after: dict[str, Any] = event.after if isinstance(event.after, dict) else {}
    if event.action == "lease.renew":
        amount = after.get("amount_cents")
        money = format_cents(amount) if isinstance(amount, int) else ""
        return (
            f"Period {after.get('period')} charged {money}; "
            f"next renewal {_short(after.get('next_renewal_at'))[:10]}"
        )
    if event.action == "lease.disconnect":
        reason = str(after.get("reason", "")).replace("_", " ")
        note = after.get("note") or ""
        return f"Ended: {reason}" + (f". {note}" if note else "")
    if event.action.startswith("pool.mark_"):
        return f"{before.get('state', '?')} → {after.get('state', '?')}"
    if event.action == "pool.retire":
        text = f"Retired (was {before.get('state', '?')}): {after.get('reason', '')}"
        return text + (f"; lease {after['lease']} disconnected" if after.get("lease") else "")
    if event.action == "pool.create":
        return f"Added to the pool as {after.get('state', '?')}"
    return ""
