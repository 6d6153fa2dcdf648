"""Public ids: a prefix, an underscore and a 26-character Crockford base32 ULID.

ULIDs sort by creation time, so ordering by id is ordering by age with a stable tie-break.
"""

from __future__ import annotations

import re

from ulid import ULID

PREFIXES = ("org", "prj", "sa", "lreq", "req")
_ULID_RE = "[0-9A-HJKMNP-TV-Z]{26}"
# Crockford base32, the digits a ULID is written in, in the order of their values.
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_PATTERNS = {prefix: re.compile(rf"^{prefix}_{_ULID_RE}$") for prefix in PREFIXES}
ID_MAX_LENGTH = 32


def make_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def is_id(value: object, prefix: str) -> bool:
    return isinstance(value, str) and ID_PATTERNS[prefix].match(value) is not None


def id_prefix(value: str) -> str | None:
    """The prefix of a well-formed id (`org`, `sa`, ...), or None."""
    for prefix, pattern in ID_PATTERNS.items():
        if pattern.match(value):
            return prefix
    return None


def id_shard(value: str, shards: int) -> int:
    """Which of `shards` rollup rows an id counts on: the same for the id's whole life.

    An id's last character is its ULID's five lowest random bits (for ids made in the same
    millisecond by one process, a counter that steps by one), so ids spread evenly over
    any number of shards that divides 32.
    """
    return _CROCKFORD.index(value[-1]) % shards


# Named defaults: migrations need importable callables, not lambdas.
def new_organization_id() -> str:
    return make_id("org")


def new_project_id() -> str:
    return make_id("prj")


def new_pool_account_id() -> str:
    return make_id("sa")


def new_lease_request_id() -> str:
    return make_id("lreq")


def new_api_request_id() -> str:
    return make_id("req")
