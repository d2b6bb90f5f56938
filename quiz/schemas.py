"""What members and operators see of quiz draws."""

from __future__ import annotations

from datetime import datetime

import msgspec


class SessionQuestion(msgspec.Struct):
    """A question as a member sees it before submitting: no answer, no explanation."""

    id: int
    text: str
    kind: str  # single | multiple
    options: list[str]


class QuizSession(msgspec.Struct):
    session_id: str
    activity_id: int
    deadline: datetime
    pass_mark: int
    questions: list[SessionQuestion]


class AnswersBody(msgspec.Struct, forbid_unknown_fields=True):
    """The chosen option indexes of each question, in the session's order."""

    answers: list[list[int]]


class Marked(msgspec.Struct):
    question_id: int
    correct: bool
    answer: list[int]  # the correct options, shown once submitted
    explanation: str | None


class QuizResult(msgspec.Struct):
    session_id: str
    correct: int
    passed: bool
    chances: int  # granted on the linked lottery (0 unless passed)
    lottery_id: int
    questions: list[Marked]
    replayed: bool


class QuizCounters(msgspec.Struct):
    activity_id: int
    status: str
    loaded: bool
    questions: int
    sessions_in_sql: int
    passed_in_sql: int
    audit_backlog: int
    quarantined: int = 0
