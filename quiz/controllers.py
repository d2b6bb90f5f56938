"""Quiz draws: members' sessions and answers; operators' question bank."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter

from activities.auth import Identity
from api.body import NoBody
from api.params import Id
from api.security import provide_operator, provide_player, service_for
from quiz.model import Question, QuestionSpec
from quiz.schemas import AnswersBody, QuizResult, QuizSession
from quiz.service import QuizService

SessionPath = Annotated[str, PathParameter(pattern=r"^qs[0-9a-f]{28}$")]


class QuizController(Controller):
    """Members' quiz sessions and answers on a published quiz activity."""

    dependencies = {  # noqa: RUF012
        "player": Provide(provide_player),
        "quiz": Provide(service_for(QuizService, "player"), sync_to_thread=False),
    }

    @post(
        "/activities/{activity_id:int}/quiz-sessions",
        status_code=201,
        opt={"activity": "published", "action": "start", "errors": ("wrong_activity_type", "attempts_used")},
    )
    async def start_quiz(
        self,
        player: NamedDependency[Identity],
        quiz: NamedDependency[QuizService],
        activity_id: Id,
        data: JSONBody[NoBody | None] = None,
    ) -> QuizSession:
        """Start a quiz session: N random questions of the bank, without their answers.

        Answer them before `deadline`; a member has a number of attempts a day (429 attempts_used)."""
        return await quiz.start(player, activity_id)

    @post(
        "/activities/{activity_id:int}/quiz-sessions/{session_id:str}/answers",
        status_code=200,
        opt={
            "activity": "published",
            "action": "submit",
            "errors": ("wrong_activity_type", "session_not_found", "session_expired", "answers_count_mismatch"),
        },
    )
    async def answer_quiz(
        self,
        player: NamedDependency[Identity],
        quiz: NamedDependency[QuizService],
        activity_id: Id,
        session_id: SessionPath,
        data: JSONBody[AnswersBody],
    ) -> QuizResult:
        """Submit the answers (`{"answers": [[1], [0, 2], ...]}`, option indexes per question, in
        the session's order). Enough correct ones grant draw chances on the linked lottery. Once:
        submitting again answers the first result (`replayed: true`)."""
        return await quiz.submit(player, activity_id, session_id, data)


class QuestionsController(Controller):
    """Operators' question bank of a quiz activity (with the answers)."""

    path = "/operator/activities/{activity_id:int}/questions"
    opt = {"roles": "write"}  # noqa: RUF012 (api/roles.py; reading the bank too: it holds the answers, not for analysts)
    dependencies = {  # noqa: RUF012
        "operator": Provide(provide_operator),
        "quiz": Provide(service_for(QuizService, "operator"), sync_to_thread=False),
    }

    @post(
        "/",
        status_code=201,
        opt={
            "activity": "any",
            "errors": ("wrong_activity_type", "answer_not_an_option", "answer_repeated", "single_needs_one_answer"),
        },
    )
    async def add_question(
        self,
        operator: NamedDependency[Identity],
        quiz: NamedDependency[QuizService],
        activity_id: Id,
        data: JSONBody[QuestionSpec],
    ) -> Question:
        """Add a question to the quiz's bank (single or multiple choice, optional explanation)."""
        return await quiz.add_question(activity_id, data)

    @get("/", opt={"activity": "any", "errors": ("wrong_activity_type",)})
    async def list_questions(
        self, operator: NamedDependency[Identity], quiz: NamedDependency[QuizService], activity_id: Id
    ) -> list[Question]:
        """The quiz's question bank, with the answers (operators only)."""
        return list((await quiz.questions(activity_id)).values())

    @delete(
        "/{question_id:int}",
        status_code=204,
        opt={"activity": "any", "errors": ("wrong_activity_type", "question_not_found")},
    )
    async def delete_question(
        self, operator: NamedDependency[Identity], quiz: NamedDependency[QuizService], activity_id: Id, question_id: Id
    ) -> None:
        """Retire a question: new sessions no longer draw it."""
        await quiz.delete_question(activity_id, question_id)


ROUTES = [QuizController, QuestionsController]
