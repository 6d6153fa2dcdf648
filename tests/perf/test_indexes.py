"""The database keeps no index that another one already answers for (migration 0012).

Every index is written on every insert and update of its table and considered by the
planner on every query of it, so one that earns nothing is a cost on both.
"""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Pattern-ops copies of a column (not of an expression such as UPPER(language), which
# prefix filters use) that LIKE 'prefix%' lookups do use: none of ours, yet. A LIKE on an
# id is never needed (leasing.filters.as_public_id writes a typed id in its exact form).
PATTERN_INDEXES_IN_USE: set[tuple[str, str]] = {
    ("leasing_organization", "name"),  # a unique name, whose copy Django makes with it
}

EXPRESSION = "(an expression)"

# (table, index, unique, partial, columns) for every index of our tables.
INDEXES_SQL = """
SELECT t.relname, i.relname, ix.indisunique, ix.indpred IS NOT NULL,
       array_agg(COALESCE(a.attname, %s) ORDER BY k.n),
       pg_get_indexdef(ix.indexrelid)
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_namespace s ON s.oid = t.relnamespace AND s.nspname = current_schema()
CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n)
LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum AND k.attnum > 0
WHERE t.relname LIKE 'leasing\\_%%' AND k.n <= ix.indnkeyatts
GROUP BY t.relname, i.relname, ix.indisunique, ix.indpred, ix.indexrelid
"""


def _indexes() -> list[tuple[str, str, bool, bool, list[str], str]]:
    with connection.cursor() as cursor:
        cursor.execute(INDEXES_SQL, [EXPRESSION])
        return [(t, i, u, p, list(cols), d) for t, i, u, p, cols, d in cursor.fetchall()]


def test_the_catalogue_query_sees_our_indexes():
    names = {index for _table, index, *_rest in _indexes()}
    assert {"request_queue", "request_by_organization", "leasing_leaserequest_pkey"} <= names


def test_no_pattern_ops_copy_of_an_id():
    copies = [
        (table, cols[0], index)
        for table, index, _unique, _partial, cols, definition in _indexes()
        if "pattern_ops" in definition and cols[0] != EXPRESSION
    ]
    assert [c for c in copies if (c[0], c[1]) not in PATTERN_INDEXES_IN_USE] == []


def test_no_plain_index_that_a_longer_one_starts_with():
    indexes = _indexes()
    whole = [
        (table, cols, index)
        for table, index, _unique, partial, cols, definition in indexes
        if not partial and "pattern_ops" not in definition and "USING btree" in definition
    ]
    redundant = [
        (index, other)
        for table, index, unique, _partial, cols, definition in indexes
        if len(cols) == 1
        and cols[0] != EXPRESSION
        and not unique
        and "pattern_ops" not in definition
        and "USING btree" in definition
        for other_table, other_cols, other in whole
        if other_table == table and other != index and len(other_cols) > 1
        if other_cols[0] == cols[0]
    ]
    assert redundant == []
