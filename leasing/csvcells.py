"""CSV cells written by the database, for the reports that run to a million rows.

`exports.csv_cell` turns each value into its cell in Python: about a microsecond per cell,
plus decoding JSON and timestamps on the way in, which held a million-row report to ~40k
rows a second. These expressions compute the very same cells in SQL (on PostgreSQL and on
SQLite), so the rows arrive as finished text and Python only joins them with the csv
module. tests/perf/test_csv_cells.py checks that both routes write identical bytes.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Expression, F, Func, TextField
from django.db.models.sql.compiler import SQLCompiler

# Kept in step with exports.FORMULA_PREFIXES: = + - @, tab, carriage return.
_POSTGRES_FORMULA = "('=', '+', '-', '@', chr(9), chr(13))"
_SQLITE_FORMULA = "('=', '+', '-', '@', char(9), char(13))"


class _Cell(Func):
    """A Func with one template per database; its argument appears more than once in
    the template, so it must be a plain column or an expression without parameters."""

    output_field = TextField()
    postgres_template = ""
    sqlite_template = ""

    def _render(
        self, compiler: SQLCompiler, connection: Any, template: str, **extra: Any
    ) -> tuple[str, Any]:
        sql, params = self.as_sql(compiler, connection, template=template, **extra)
        if params:
            raise ValueError(f"{type(self).__name__} needs an argument without parameters")
        return sql, params

    def as_postgresql(
        self, compiler: SQLCompiler, connection: Any, **extra: Any
    ) -> tuple[str, Any]:
        # COPY quotes an empty string ("") and writes NULL as nothing; csv.writer writes
        # both as nothing. As NULL, an empty cell is written the same by either.
        template = f"NULLIF({self.postgres_template}, '')"
        return self._render(compiler, connection, template, **extra)

    def as_sqlite(self, compiler: SQLCompiler, connection: Any, **extra: Any) -> tuple[str, Any]:
        return self._render(compiler, connection, self.sqlite_template, **extra)


class TextCell(_Cell):
    """Text as csv_cell writes it: a leading = + - @ tab or CR gets a single quote."""

    postgres_template = (
        f"CASE WHEN left(%(expressions)s, 1) IN {_POSTGRES_FORMULA} "
        "THEN '''' || %(expressions)s ELSE %(expressions)s END"
    )
    sqlite_template = (
        f"CASE WHEN substr(%(expressions)s, 1, 1) IN {_SQLITE_FORMULA} "
        "THEN '''' || %(expressions)s ELSE %(expressions)s END"
    )


class ListCell(_Cell):
    """A JSON list of strings joined with ";", then neutralised like text. The test looks
    at the first item (what the joined text starts with), so the list is joined once."""

    # jsonb writes a list of strings as ["a", "b"]: without a backslash in it (nothing
    # escaped), the items are the text between the outer quotes split on '", "', which is
    # cheaper than unnesting the list for each of a million rows. Lists holding escaped
    # characters take the general route.
    _postgres_join = (
        "CASE WHEN %(expressions)s = '[]'::jsonb THEN '' "
        "WHEN strpos(%(expressions)s::text, '\\') = 0 THEN replace(substr("
        "%(expressions)s::text, 3, length(%(expressions)s::text) - 4), '\", \"', ';') "
        "ELSE array_to_string(ARRAY(SELECT jsonb_array_elements_text(%(expressions)s)), ';') "
        "END"
    )
    _sqlite_join = "(SELECT group_concat(value, ';') FROM json_each(%(expressions)s))"
    postgres_template = (
        f"CASE WHEN left(%(expressions)s ->> 0, 1) IN {_POSTGRES_FORMULA} "
        f"THEN '''' || {_postgres_join} ELSE {_postgres_join} END"
    )
    sqlite_template = (
        f"CASE WHEN substr(json_extract(%(expressions)s, '$[0]'), 1, 1) IN {_SQLITE_FORMULA} "
        f"THEN '''' || {_sqlite_join} ELSE {_sqlite_join} END"
    )


class TimeCell(_Cell):
    """A timestamp in UTC, whole seconds, with a Z."""

    postgres_template = (
        "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    )
    # SQLite keeps Django's timestamps as UTC text already.
    sqlite_template = "strftime('%%Y-%%m-%%dT%%H:%%M:%%SZ', %(expressions)s)"


class DateCell(_Cell):
    postgres_template = "to_char(%(expressions)s, 'YYYY-MM-DD')"
    sqlite_template = "%(expressions)s"


# A report column: the kind of cell and the field path it is made from (None: as is).
Column = tuple[type[_Cell] | None, str]


def cell_columns(*columns: Column) -> tuple[dict[str, Expression | F], list[str]]:
    """annotate() arguments and the values_list() names for report columns, in order:
    each (cell kind, field path), a kind of None meaning the value as is (numbers)."""
    annotations: dict[str, Expression | F] = {}
    for number, (kind, path) in enumerate(columns):
        annotations[f"cell_{number}"] = kind(F(path)) if kind is not None else F(path)
    return annotations, list(annotations)


class DollarsCell(_Cell):
    """Cents as dollars, written like str(Decimal(cents) / 100): 123.45, 12.5, -150, 0.05."""

    postgres_template = "trim_scale(%(expressions)s::numeric / 100)::text"
    # Two decimals, then no trailing zeros (the point stops the first trim), then no
    # trailing point: 150.00 -> 150, 12.50 -> 12.5.
    sqlite_template = "rtrim(rtrim(printf('%%.2f', %(expressions)s / 100.0), '0'), '.')"
