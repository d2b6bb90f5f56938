"""Refusals per activity, counted in this process since it started (the console's live dashboard
shows the top codes): every error answer of a route naming an activity, by its code. Bounded:
past MAX_ACTIVITIES activities the oldest are forgotten."""

from __future__ import annotations

from collections import Counter, OrderedDict

MAX_ACTIVITIES = 10_000
_BY_ACTIVITY: OrderedDict[int, Counter[str]] = OrderedDict()


def note(activity_id: int, code: str) -> None:
    found = _BY_ACTIVITY.get(activity_id)
    if found is None:
        found = _BY_ACTIVITY[activity_id] = Counter()
        if len(_BY_ACTIVITY) > MAX_ACTIVITIES:
            _BY_ACTIVITY.popitem(last=False)
    found[code] += 1


def reset() -> None:
    """Forget every count (tests: each starts a fresh database whose ids start again at 1)."""
    _BY_ACTIVITY.clear()


def top(activity_id: int, n: int = 5) -> list[tuple[str, int]]:
    found = _BY_ACTIVITY.get(activity_id)
    return found.most_common(n) if found else []
