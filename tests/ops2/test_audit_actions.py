"""The audit log's action filter offers exactly the actions the code writes."""

from __future__ import annotations

import re
from pathlib import Path

from leasing.filters import AUDIT_ACTIONS

LEASING = Path(__file__).resolve().parents[2] / "leasing"
# action="pool.create" or action=f"pool.mark_{to}", passed to audit_record.
WRITTEN = re.compile(r'\baction=(f?)"([a-z_]+\.[a-z_]*)(\{)?')


def _written() -> tuple[set[str], set[str]]:
    """(actions written as they are, prefixes of actions written with an f-string)."""
    exact: set[str] = set()
    prefixes: set[str] = set()
    for path in LEASING.rglob("*.py"):
        if "migrations" in path.parts or path.name == "filters.py":
            continue
        for is_f, text, brace in WRITTEN.findall(path.read_text()):
            (prefixes if is_f and brace else exact).add(text)
    return exact, prefixes


def test_the_scan_finds_the_services_actions():
    exact, prefixes = _written()
    assert {"request.claim", "lease.renew", "report.export"} <= exact
    assert {"request.close_", "wallet.", "pool.mark_"} <= prefixes


def test_every_action_offered_is_one_the_code_writes():
    exact, prefixes = _written()
    never_written = [
        action
        for action, _label in AUDIT_ACTIONS
        if action not in exact and not any(action.startswith(p) for p in prefixes)
    ]
    assert never_written == []


def test_every_action_written_can_be_picked():
    exact, _prefixes = _written()
    offered = {action for action, _label in AUDIT_ACTIONS}
    assert exact - offered == set()
