"""The SQL rows of the reservation stream events: a reservation, a change of one. Pure."""

from __future__ import annotations

from typing import Any

from activities.audit import Row
from activities.channels import origin_columns
from reservation.db import reservation_changes, reservations
from reservation.model import request_fingerprint

EVENT_TYPES = ("reservation", "reservation_change")  # written to SQL by reservation_rows


def reservation_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    """The row of a reservation, or of a change to one (cancelled, redeemed, expired)."""
    if activity_id is None:
        raise ValueError(f"reservation event {entry_id} outside an activity stream")
    if fields["type"] == "reservation":
        row: dict[str, Any] = {
            name: fields[name] for name in ("code", "user_id", "date", "store", "pool", "purchase", "idempotency_key")
        }
        # reserve.lua leaves the fingerprint out (issue 17): it is the activity's, date's and store's.
        row["fingerprint"] = fields.get("fingerprint") or request_fingerprint(
            activity_id, fields["date"], fields["store"]
        )
        row |= {
            "activity_id": activity_id,
            "cancel_until_ms": int(fields["cancel_until_ms"]),
            "created_at_ms": int(fields["created_at_ms"]),
            "stream_id": entry_id,
            **origin_columns(fields),
        }
        return [(reservations, row)]
    change = {
        "code": fields["code"],
        "activity_id": activity_id,
        "status": fields["status"],
        "actor": fields["actor"],
        "at_ms": int(fields["at_ms"]),
        "stream_id": entry_id,
        **origin_columns(fields),
    }
    return [(reservation_changes, change)]
