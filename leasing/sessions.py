"""Django's database sessions, read with a prepared statement (leasing/db.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from django.contrib.sessions.backends import db
from django.utils import timezone

from leasing.db import ModelStatement, model_statement, prepared_statements

STATEMENT = "lease_desk_session"


class SessionStore(db.SessionStore):
    """The session a request's cookie names, as Django reads it: by key, and only if it
    has not expired; an unknown or expired key leaves the store without one."""

    def _get_session_from_db(self) -> Any:
        if not prepared_statements():
            return super()._get_session_from_db()  # type: ignore[misc]
        found = _statement(self.model).instances([self.session_key, timezone.now()])
        if not found:
            self._session_key = None
            return None
        return found[0]


# Stand-ins the statement is built with; each execution passes the real key and time.
_ANY_KEY = "lease-desk-any-session-key"
_ANY_TIME = datetime(1901, 1, 1, tzinfo=UTC)


@lru_cache(maxsize=2)
def _statement(model: Any) -> ModelStatement:
    """Django's own query for the session (by key, not expired), built by the ORM once."""
    query = model.objects.filter(session_key=_ANY_KEY, expire_date__gt=_ANY_TIME)
    return model_statement(STATEMENT, query, [_ANY_KEY, _ANY_TIME])
