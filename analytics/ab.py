"""A/B assignment: a member's variant is a stable hash of (experiment salt, member id) mapped onto
the variants' audience shares, so a member always sees the same variant, on any node."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import msgspec

from activities.model import Label


class Variant(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One arm: its name, its share of the audience (integer weights), and what it overrides
    (empty for a control that is "no change")."""

    name: Label
    share: int = msgspec.field(default=1)
    overrides: dict[str, object] = msgspec.field(default_factory=dict)


class Experiment(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    salt: Label
    variants: list[Variant]
    control: str | None = None  # the first variant by default


def bucket(salt: str, member: str) -> float:
    """A uniform number in [0, 1) fixed by (salt, member): the first 64 bits of SHA-256."""
    digest = hashlib.sha256(f"{salt}\x00{member}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(salt: str, member: str, shares: Sequence[tuple[str, int]]) -> str:
    """The variant of `member`: the slice of the cumulative shares its bucket falls in."""
    total = sum(share for _, share in shares)
    if total <= 0:
        raise ValueError("the shares must add up to more than 0")
    point = bucket(salt, member) * total
    running = 0
    for name, share in shares:
        running += share
        if point < running:
            return name
    return shares[-1][0]


def control_of(experiment: Experiment) -> str:
    return experiment.control or experiment.variants[0].name
