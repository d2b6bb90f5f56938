"""Tasks' own Redis keys (任务): progress and claims per task and period, under the activity's
hash tag (activities/keys.py keeps the keys every gameplay shares)."""

from __future__ import annotations

from dataclasses import dataclass

from activities.keys import ActivityKeys


@dataclass(frozen=True)
class TaskKeys(ActivityKeys):
    def task_progress(self, task_id: str, period: str) -> str:
        """Hash user_id -> progress of a task in one period (a local day, a week's Monday, or
        "once"). Expires a day after the period."""
        return self.key("tprog", task_id, period)

    def task_claims(self, task_id: str, period: str) -> str:
        """Hash user_id -> the claim id of the member's reward of a task in one period."""
        return self.key("tclaim", task_id, period)

    def task_assists(self, task_id: str, period: str) -> str:
        """Set of "<sharer>|<friend>" pairs counted for a friend_assist task in one period."""
        return self.key("tassist", task_id, period)
