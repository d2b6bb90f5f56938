"""Domain errors. Each carries a machine-readable code; `api/` maps the kind to an HTTP status."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any


class Kind(Enum):
    MALFORMED = "malformed"  # the request cannot be read at all: bad JSON, a missing header (400)
    INVALID = "invalid"  # the request reads but breaks a rule (422)
    UNAUTHORIZED = "unauthorized"  # no or bad credentials (401)
    FORBIDDEN = "forbidden"  # credentials fine, not allowed (403)
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # the state of things refuses it (409)
    LIMIT = "limit"  # a quota is used up (429)
    UNAVAILABLE = "unavailable"  # try again later, outcome known not to have happened or unknown (503)


class PromoError(Exception):
    def __init__(self, kind: Kind, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details


def invalid(code: str, message: str, **details: Any) -> PromoError:
    return PromoError(Kind.INVALID, code, message, **details)


def not_found(code: str, message: str) -> PromoError:
    return PromoError(Kind.NOT_FOUND, code, message)


def conflict(code: str, message: str, **details: Any) -> PromoError:
    return PromoError(Kind.CONFLICT, code, message, **details)


# What every gameplay's script refuses about the activity itself (its status and window).
ACTIVITY_REFUSALS: dict[str, tuple[Kind, str]] = {
    "activity_not_live": (Kind.CONFLICT, "the activity is not live"),
    "not_started": (Kind.CONFLICT, "the activity has not started yet"),
    "already_ended": (Kind.CONFLICT, "the activity is over"),
}


def refusal(code: str, detail: str | None, messages: Mapping[str, tuple[Kind, str]]) -> PromoError:
    """The error for a script's refusal `code`: a gameplay's own codes in `messages`, then the
    activity refusals; `detail` (the activity's status) goes with it."""
    kind, message = messages.get(code) or ACTIVITY_REFUSALS.get(code) or (Kind.CONFLICT, code)
    return PromoError(kind, code, message, **({"status": detail} if detail else {}))


class OutcomeUnknown(Exception):
    """Redis did not answer a state-changing script: it may or may not have run.

    Raised by `store.py` modules; services turn it into a 503 telling the client to retry with
    the same idempotency key."""
