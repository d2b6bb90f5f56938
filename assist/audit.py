"""The SQL rows of the assist stream events: a start, a help (with the outcome when it completed
the initiative), an expiry. Pure."""

from __future__ import annotations

from activities.audit import Row
from activities.channels import origin_columns
from assist.db import assist_helps, assist_initiatives, assist_outcomes
from assist.initiatives import int_or_none

EVENT_TYPES = ("assist_start", "assist_help", "assist_outcome")  # written to SQL by assist_rows


def assist_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    """The SQL rows of the assist events: a start, a help (with the outcome when it completed
    the initiative), an expiry."""
    if activity_id is None:
        raise ValueError(f"assist event {entry_id} outside an activity stream")
    kind, initiative_id, at_ms = fields["type"], fields["initiative_id"], fields.get("at_ms", "0")
    if kind == "assist_start":
        return [
            (
                assist_initiatives,
                {
                    "initiative_id": initiative_id,
                    "activity_id": activity_id,
                    "initiator": fields["initiator"],
                    "needed": int(fields["needed"]),
                    "started_at_ms": int(fields["started_at_ms"]),
                    "deadline_ms": int(fields["deadline_ms"]),
                    "price_cents": int_or_none(fields["price_cents"]),
                    "floor_cents": int_or_none(fields["floor_cents"]),
                    "cuts": fields["cuts"] or None,
                    "seed": int_or_none(fields["seed"]),
                    "stream_id": entry_id,
                    **origin_columns(fields),
                },
            )
        ]
    outcome_row = {
        "initiative_id": initiative_id,
        "activity_id": activity_id,
        "at_ms": int(at_ms),
        "stream_id": entry_id,
    }
    if kind == "assist_outcome":
        return [(assist_outcomes, {**outcome_row, "outcome": fields["outcome"]})]
    rows: list[Row] = [
        (
            assist_helps,
            {
                "help_id": fields["help_id"],
                "activity_id": activity_id,
                "initiative_id": initiative_id,
                "helper": fields["helper"],
                "kind": fields["kind"],
                "number": int(fields["number"]),
                "cut_cents": int_or_none(fields["cut_cents"]),
                "price_after_cents": int_or_none(fields["price_after_cents"]),
                "device_id": fields["device_id"] or None,
                "ip": fields["ip"] or None,
                "day": fields["day"],
                "helper_reward": fields["helper_reward"] == "1",
                "at_ms": int(at_ms),
                "stream_id": entry_id,
                **origin_columns(fields),
                "parent": fields.get("parent") or None,
            },
        )
    ]
    if fields["completed"] == "1":
        rows.append((assist_outcomes, {**outcome_row, "outcome": "completed"}))
    return rows
