"""Prepared statements for the small queries every dashboard page runs (PostgreSQL).

Each page reads the session, its user and the user's permissions before it does anything
of its own, and PostgreSQL took longer to plan these queries than to answer them; the ORM
took longer again to build them. Prepared once per connection, each is only executed
after: on the scale data an empty page went from 4.3 to 2.6 ms (in-process A/B).

Off (DB_PREPARED_STATEMENTS=false, or SQLite), callers run Django's own queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from weakref import WeakKeyDictionary

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import QuerySet
from psycopg.sql import Literal

# The statements each psycopg connection holds. A prepared statement lives as long as its
# connection, whatever becomes of the transaction that prepared it.
_prepared: WeakKeyDictionary[Any, set[str]] = WeakKeyDictionary()


def prepared_statements() -> bool:
    return bool(settings.DB_PREPARED_STATEMENTS) and connection.vendor == "postgresql"


def fetch_prepared(name: str, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of `sql` (PostgreSQL, with $1, $2... for `args`), prepared as `name` the
    first time this connection runs it and executed after.

    Preparing belongs to the connection, like its time zone, so it goes to psycopg
    directly and is not one of a page's queries; the EXECUTE is.
    """
    with connection.cursor() as cursor:
        held = connection.connection
        names = _prepared.setdefault(held, set())
        if name not in names:
            held.execute(f"PREPARE {name} AS {sql}")
            names.add(name)
        listed = f" ({', '.join(['%s'] * len(args))})" if args else ""
        cursor.execute(f"EXECUTE {name}{listed}", list(args))
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def orm_statement(queryset: QuerySet[Any, Any], args: Sequence[Any]) -> str:
    """The queryset's SQL for PREPARE. The query is built with stand-in values for what
    each execution passes (`args`, in order): those parameters become $1, $2...; any
    other parameter (a constant of the query) is written in as a literal."""
    sql, params = queryset.query.sql_with_params()
    pieces = sql.split("%s")
    if "%%" in sql or len(pieces) != len(params) + 1:
        raise ImproperlyConfigured(f"cannot number the parameters of {sql}")
    if not all(arg in params for arg in args):
        raise ImproperlyConfigured(f"{args!r} are not all parameters of {sql}")
    written = [pieces[0]]
    for param, piece in zip(params, pieces[1:], strict=True):
        if param in args:
            written.append(f"${list(args).index(param) + 1}")
        else:
            written.append(Literal(param).as_string(connection.connection))
        written.append(piece)
    return "".join(written)
