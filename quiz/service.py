"""Quiz draws (答题抽奖): the question bank (operators), sessions of N random questions without
their answers (start.lua: the attempts per day), submissions marked once before the deadline
(submit.lua), and the draw chances of a pass credited on the linked lottery once per session
(reference `quiz:<session id>`; a replayed submission credits again, harmlessly)."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.audit_rows import EventHandler, Row
from activities.auth import Identity
from activities.clock import Clock, day_end_ms, from_ms, local_day, to_ms
from activities.errors import Kind, PromoError, invalid, not_found, refusal
from activities.ids import new_id
from activities.keys import ActivityKeys
from activities.model import Activity, validate_common
from activities.service import ActivityService
from activities.store import AuditStore
from lottery.service import DrawService
from quiz.db import quiz_questions, quiz_results, quiz_sessions
from quiz.model import (
    ACTIVITY_TYPE,
    Question,
    QuestionSpec,
    QuizRules,
    QuizSpec,
    canonical,
    config_of,
    validate_question,
    validate_rules,
)
from quiz.schemas import AnswersBody, Marked, QuizCounters, QuizResult, QuizSession, SessionQuestion
from quiz.store import QuizSnapshot, QuizStore, StartRequest

GRACE_MS = 3600 * 1000
_REFUSALS = {
    "attempts_used": (Kind.LIMIT, "no quiz attempts left today"),
    "session_not_found": (Kind.NOT_FOUND, "no such quiz session"),
    "session_expired": (Kind.CONFLICT, "the time limit of this session has passed"),
}


class QuizService:
    def __init__(self, activities: ActivityService, store: QuizStore, draws: DrawService, clock: Clock) -> None:
        self.activities = activities
        self.store = store
        self.draws = draws
        self.clock = clock
        self._rng = secrets.SystemRandom()

    @property
    def engine(self) -> AsyncEngine:
        return self.activities.repository.engine

    # --- operators -------------------------------------------------------------------------------

    async def create(self, spec: QuizSpec, operator_id: str) -> Activity:
        validate_common(spec)
        validate_rules(spec.quiz)
        lottery = await self.draws.find(spec.quiz.linked_lottery_id)
        if lottery is None:
            raise invalid(
                "linked_lottery_invalid", "linked_lottery_id is not a lottery", field="quiz.linked_lottery_id"
            )
        return await self.activities.create_draft(spec, ACTIVITY_TYPE, operator_id, config_of(spec.quiz))

    async def check_publishable(self, activity: Activity) -> None:
        rules = self.rules(activity)
        if len(await self.questions(activity.id)) < rules.questions:
            raise PromoError(
                Kind.CONFLICT, "question_bank_too_small", f"add at least {rules.questions} questions first"
            )
        if (await self.activities.get(rules.linked_lottery_id)).status == "draft":
            raise PromoError(
                Kind.CONFLICT,
                "linked_lottery_not_published",
                f"publish the linked lottery {rules.linked_lottery_id} first",
            )

    def rules(self, activity: Activity) -> QuizRules:
        return self.activities.settings(activity, QuizRules)

    async def add_question(self, activity_id: int, spec: QuestionSpec) -> Question:
        activity = await self.activities.get(activity_id)
        if activity.type != ACTIVITY_TYPE:
            raise PromoError(Kind.CONFLICT, "wrong_activity_type", f"activity {activity_id} is not a quiz")
        validate_question(spec)
        values = {
            "activity_id": activity_id,
            "text": spec.text,
            "kind": spec.kind,
            "options": spec.options,
            "answer": canonical(spec.answer),
            "explanation": spec.explanation,
        }
        async with self.engine.begin() as conn:
            inserted = (await conn.execute(quiz_questions.insert().values(values))).inserted_primary_key
        assert inserted is not None
        question_id = inserted[0]
        return Question(
            int(question_id), spec.text, spec.kind, spec.options, sorted(set(spec.answer)), spec.explanation
        )

    async def delete_question(self, activity_id: int, question_id: int) -> None:
        """Retire a question: new sessions no longer draw it (open ones still mark it)."""
        table = quiz_questions
        async with self.engine.begin() as conn:
            done = await conn.execute(
                table.update()
                .where(table.c.id == question_id, table.c.activity_id == activity_id, table.c.deleted.is_(False))
                .values(deleted=True)
            )
        if done.rowcount == 0:
            raise not_found("question_not_found", f"no question {question_id} in activity {activity_id}")

    async def questions(self, activity_id: int, *, with_deleted: bool = False) -> dict[int, Question]:
        table = quiz_questions
        query = sa.select(table).where(table.c.activity_id == activity_id).order_by(table.c.id)
        if not with_deleted:
            query = query.where(table.c.deleted.is_(False))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {
            int(r.id): Question(
                int(r.id), r.text, r.kind, list(r.options), [int(i) for i in r.answer.split(",")], r.explanation
            )
            for r in rows
        }

    async def counters(self, activity: Activity) -> QuizCounters:
        keys = ActivityKeys(activity.id)
        async with self.engine.connect() as conn:
            sessions = (
                await conn.execute(sa.select(sa.func.count()).where(quiz_sessions.c.activity_id == activity.id))
            ).scalar_one()
            passed = (
                await conn.execute(
                    sa.select(sa.func.count()).where(
                        quiz_results.c.activity_id == activity.id, quiz_results.c.passed.is_(True)
                    )
                )
            ).scalar_one()
        return QuizCounters(
            activity_id=activity.id,
            status=activity.status,
            loaded=bool(await self.store.redis.exists(keys.state)),
            questions=len(await self.questions(activity.id)),
            sessions_in_sql=int(sessions),
            passed_in_sql=int(passed),
            audit_backlog=await AuditStore(self.store.redis).backlog(keys.events),
            quarantined=await self.activities.repository.count_dead_letters(activity.id),
        )

    # --- members -----------------------------------------------------------------------------------

    async def _quiz(self, player: Identity, activity_id: int) -> tuple[Activity, QuizRules]:
        activity = await self.activities.published(activity_id, (ACTIVITY_TYPE,), "a quiz")
        await self.activities.admit(activity, player)
        return activity, self.rules(activity)

    async def start(self, player: Identity, activity_id: int) -> QuizSession:
        """A session of N random questions of the bank, without their answers."""
        activity, rules = await self._quiz(player, activity_id)
        bank = list((await self.questions(activity.id)).values())
        picked = self._rng.sample(bank, min(rules.questions, len(bank)))
        now_ms = self.clock.now_ms()
        today = local_day(now_ms, activity.tz)
        deadline_ms = now_ms + rules.time_limit_s * 1000
        request = StartRequest(
            activity_id=activity.id,
            user_id=player.subject,
            session_id=new_id("qs", now_ms),
            now_ms=now_ms,
            day=today,
            deadline_ms=deadline_ms,
            questions=",".join(str(q.id) for q in picked),
            key="|".join(canonical(q.answer) for q in picked),
            day_ttl_ms=day_end_ms(today, activity.tz) + GRACE_MS - now_ms,
            session_ttl_ms=deadline_ms + 24 * 3600 * 1000 - now_ms,
        )
        reply = await self.activities.run_loaded(
            activity.id, lambda: self.store.start(request), unknown="the session may or may not have started"
        )
        if reply.kind == "refused":
            raise refusal(reply.values[0], None, _REFUSALS)
        return QuizSession(
            session_id=request.session_id,
            activity_id=activity.id,
            deadline=from_ms(deadline_ms, activity.tz),
            pass_mark=rules.pass_mark,
            questions=[SessionQuestion(q.id, q.text, q.kind, q.options) for q in picked],
        )

    async def submit(self, player: Identity, activity_id: int, session_id: str, body: AnswersBody) -> QuizResult:
        """Mark the answers (once: a second submission answers the first result)."""
        activity, rules = await self._quiz(player, activity_id)
        ids = await self.store.session_questions(activity.id, session_id)
        if ids is None:
            raise refusal("session_not_found", None, _REFUSALS)
        question_ids = [int(i) for i in ids.split(",") if i]
        if len(body.answers) != len(question_ids):
            raise invalid(
                "answers_count_mismatch", f"answer each of the {len(question_ids)} questions", field="answers"
            )
        answers = "|".join(canonical(choice) for choice in body.answers)
        reply = await self.store.submit(
            activity.id, player.subject, session_id, self.clock.now_ms(), answers, rules.pass_mark
        )
        if reply.kind == "refused":
            raise refusal(reply.values[0], None, _REFUSALS)
        correct, passed, key = int(reply.values[0]), reply.values[1] == "1", reply.values[2].split("|")
        chances = 0
        if passed:
            chances = rules.chances
            await self.draws.credit_chances(
                rules.linked_lottery_id, player.subject, chances, f"quiz:{session_id}", "quiz_pass"
            )
        bank = await self.questions(activity.id, with_deleted=True)
        given = answers.split("|")
        marked = [
            Marked(
                qid,
                given[i] == key[i],
                bank[qid].answer if qid in bank else [],
                bank[qid].explanation if qid in bank else None,
            )
            for i, qid in enumerate(question_ids)
        ]
        return QuizResult(session_id, correct, passed, chances, rules.linked_lottery_id, marked, reply.kind == "replay")

    # --- the kernel's questions --------------------------------------------------------------------

    async def load(self, activity: Activity) -> None:
        async def read() -> QuizSnapshot:
            now_ms = self.clock.now_ms()
            today = local_day(now_ms, activity.tz)
            query = sa.select(quiz_sessions.c.user_id).where(
                quiz_sessions.c.activity_id == activity.id, quiz_sessions.c.day == today.isoformat()
            )
            async with self.engine.connect() as conn:
                users = Counter(str(u) for u in (await conn.execute(query)).scalars())
            return QuizSnapshot(
                state={
                    "status": activity.status,
                    "starts_at_ms": to_ms(activity.starts_at),
                    "ends_at_ms": to_ms(activity.ends_at),
                    "attempts_per_day": self.rules(activity).attempts_per_day,
                },
                today=today,
                day_ttl_ms=day_end_ms(today, activity.tz) + GRACE_MS - now_ms,
                user_today=dict(users),
            )

        await self.store.load(activity.id, read)

    async def release_held(self, activity_id: int, epoch: str, counter: str, units: int) -> str:
        return "nothing_held"

    def audit_handlers(self) -> Mapping[str, EventHandler]:
        return {"quiz_start": _start_rows, "quiz_result": _result_rows}

    async def sweep(self) -> int:
        return 0

    async def reconcile(self) -> int:
        return 0


async def _start_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    if activity_id is None:
        raise ValueError(f"quiz event {entry_id} outside an activity stream")
    row = {
        "session_id": fields["session_id"],
        "activity_id": activity_id,
        "user_id": fields["user_id"],
        "day": fields["day"],
        "questions": fields["questions"],
        "started_at_ms": int(fields["started_at_ms"]),
        "deadline_ms": int(fields["deadline_ms"]),
        "stream_id": entry_id,
    }
    return [(quiz_sessions, row)]


async def _result_rows(activity_id: int | None, entry_id: str, fields: dict[str, str]) -> list[Row]:
    if activity_id is None:
        raise ValueError(f"quiz event {entry_id} outside an activity stream")
    row = {
        "session_id": fields["session_id"],
        "activity_id": activity_id,
        "user_id": fields["user_id"],
        "correct": int(fields["correct"]),
        "passed": fields["passed"] == "1",
        "at_ms": int(fields["at_ms"]),
        "stream_id": entry_id,
    }
    return [(quiz_results, row)]
