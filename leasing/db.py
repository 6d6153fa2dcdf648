"""Prepared statements for the small queries every dashboard page and API call runs
(PostgreSQL).

Each page reads the session, its user and the user's permissions before it does anything
of its own, and each partner API call finds its key, counts it against the budget and
writes a call log row. PostgreSQL took longer to plan these queries than to answer them;
the ORM took longer again to build them. Prepared once per connection, each is only
executed after: on the scale data an empty page went from 4.3 to 2.6 ms and the API's
list of leased accounts from 7.5 to 5.5 ms (in-process A/B).

Off (DB_PREPARED_STATEMENTS=false, or SQLite), callers run Django's own queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.expressions import Col
from django.db.models.sql.compiler import SQLCompiler
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
        _execute(cursor, name, sql, args)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def execute_prepared(name: str, sql: str, args: Sequence[Any]) -> int:
    """Run `sql`, a statement that returns no rows (an INSERT), as `fetch_prepared`
    does; the number of rows it wrote."""
    with connection.cursor() as cursor:
        _execute(cursor, name, sql, args)
        written: int = cursor.rowcount
    return written


def _execute(cursor: Any, name: str, sql: str, args: Sequence[Any]) -> None:
    held = connection.connection
    names = _prepared.setdefault(held, set())
    if name not in names:
        held.execute(f"PREPARE {name} AS {sql}")
        names.add(name)
    listed = f" ({', '.join(['%s'] * len(args))})" if args else ""
    cursor.execute(f"EXECUTE {name}{listed}", list(args))


def orm_statement(queryset: QuerySet[Any, Any], args: Sequence[Any]) -> str:
    """The queryset's SQL for PREPARE. The query is built with stand-in values for what
    each execution passes (`args`, in order): those parameters become $1, $2...; any
    other parameter (a constant of the query) is written in as a literal."""
    sql, params = queryset.query.sql_with_params()
    return _numbered(sql, params, args)


def _numbered(sql: str, params: Sequence[Any], args: Sequence[Any]) -> str:
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


@dataclass(frozen=True)
class ModelStatement:
    """A query for one model's rows, built by the ORM once (`model_statement`), prepared
    per connection, and read back as the ORM reads its rows: each column through the
    field's converters (a JSON field's text becomes its value), then `Model.from_db`."""

    name: str
    sql: str
    model: type[Model]
    attnames: list[str]
    converters: dict[int, Any]
    compiler: SQLCompiler

    def instances(self, args: Sequence[Any]) -> list[Any]:
        rows: Iterable[Any] = fetch_prepared(self.name, self.sql, args)
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        alias = self.compiler.using
        return [self.model.from_db(alias, self.attnames, tuple(row)) for row in rows]


def model_statement(
    name: str, queryset: QuerySet[Any, Any], stand_ins: Sequence[Any]
) -> ModelStatement:
    """`queryset` (built with `stand_ins` for what each execution passes, as in
    `orm_statement`) as a prepared statement named `name`. Its columns must be the
    model's own: no select_related, annotations or values()."""
    compiler = queryset.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    selected = [expression for expression, _sql, _alias in compiler.select]
    model = queryset.model
    if not all(isinstance(e, Col) and e.target.model is model for e in selected):
        raise ImproperlyConfigured(f"{name}: select only {model.__name__}'s own columns")
    return ModelStatement(
        name=name,
        sql=_numbered(sql, params, stand_ins),
        model=model,
        attnames=[e.target.attname for e in selected],
        converters=compiler.get_converters(selected),
        compiler=compiler,
    )
