"""Errors services raise. Each names the problem in words a person can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    field: str
    problem: str


class ServiceError(Exception):
    """Base class: the change was refused and nothing was written."""

    code = "invalid"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(ServiceError):
    """One or more inputs are wrong; `fields` lists every one of them."""

    code = "validation"

    def __init__(self, problems: list[FieldProblem], message: str | None = None) -> None:
        self.fields = problems
        if message is None:
            message = "; ".join(f"{p.field}: {p.problem}" for p in problems)
        super().__init__(message)


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    """The data changed under us or the thing already exists (already taken, reused id)."""

    code = "conflict"


class InvalidState(ServiceError):
    """The object is not in a state that allows this (closing twice, releasing twice)."""

    code = "invalid_state"


class BillingExhausted(ServiceError):
    """The wallet cannot pay for this."""

    code = "billing_exhausted"
