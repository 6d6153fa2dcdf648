"""Per-request context that services read without threading it through every call."""

from __future__ import annotations

from contextvars import ContextVar

# Set by the API and dashboard middleware; audit events record it.
current_request_id: ContextVar[str] = ContextVar("current_request_id", default="")
