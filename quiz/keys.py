"""The quiz's own Redis keys (答题): its sessions, under the activity's hash tag
(activities/keys.py keeps the keys every gameplay shares)."""

from __future__ import annotations

from dataclasses import dataclass

from activities.keys import ActivityKeys


@dataclass(frozen=True)
class QuizKeys(ActivityKeys):
    def quiz_session(self, session_id: str) -> str:
        """Hash of a quiz session: user_id, day, deadline_ms, questions (ids), key (the correct
        answers, never sent before submission), status, score. Expires a day after its deadline."""
        return self.key("quiz", session_id)
