"""Quiz draws: what operators send (the rules, the questions), and the pure rules of marking."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from activities.errors import invalid
from activities.model import Activity, ActivityBase, Positive

ACTIVITY_TYPE = "quiz"
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Option = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class QuizRules(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Each session draws `questions` random questions of the bank, to answer within
    `time_limit_s`; `pass_mark` correct answers grant `chances` on the linked lottery. A member
    may start `attempts_per_day` sessions a local day."""

    questions: Annotated[int, msgspec.Meta(ge=1, le=50)]
    pass_mark: Annotated[int, msgspec.Meta(ge=1, le=50)]
    time_limit_s: Annotated[int, msgspec.Meta(ge=10, le=3600)]
    attempts_per_day: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    chances: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    linked_lottery_id: Positive


class QuizSpec(ActivityBase, kw_only=True):
    type: Literal["quiz"]
    quiz: QuizRules


class QuestionSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A question: `single` has one correct option, `multiple` one or more (all must be chosen)."""

    text: Text
    kind: Literal["single", "multiple"] = "single"
    options: Annotated[list[Option], msgspec.Meta(min_length=2, max_length=8)]
    answer: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=7)]], msgspec.Meta(min_length=1, max_length=8)]
    explanation: Annotated[str, msgspec.Meta(max_length=1000)] | None = None


class Question(msgspec.Struct):
    """A question as operators see it (with its answer)."""

    id: int
    text: str
    kind: str
    options: list[str]
    answer: list[int]
    explanation: str | None


def validate_rules(rules: QuizRules) -> None:
    if rules.pass_mark > rules.questions:
        raise invalid("pass_mark_too_high", "pass_mark cannot exceed the questions per session", field="quiz.pass_mark")


def validate_question(spec: QuestionSpec) -> None:
    if any(i >= len(spec.options) for i in spec.answer):
        raise invalid("answer_not_an_option", "each answer is the index of an option", field="answer")
    if len(set(spec.answer)) != len(spec.answer):
        raise invalid("answer_repeated", "an option is named twice in the answer", field="answer")
    if spec.kind == "single" and len(spec.answer) != 1:
        raise invalid("single_needs_one_answer", "a single-choice question has one answer", field="answer")


def canonical(choice: list[int]) -> str:
    """An answer as the scripts compare it: sorted option indexes, "0,2"."""
    return ",".join(str(i) for i in sorted(set(choice)))


def config_of(rules: QuizRules) -> dict[str, Any]:
    config: dict[str, Any] = msgspec.to_builtins(rules)
    return config


def rules_of(activity: Activity) -> QuizRules:
    return msgspec.convert(activity.config, QuizRules)
