"""The console page of a quiz's question bank (/console/activities/{id}/questions): the questions
with their answers and explanations, a form to add one (single or multiple choice) and a button
to retire one. Changes go through the operator API (POST and DELETE
/operator/activities/{id}/questions, console/static/questions.js), so the console checks exactly
what the API checks."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from api.params import Id
from api.security import platform_of
from console.activity_pages import _activity
from console.web import gate, render
from quiz.model import ACTIVITY_TYPE
from quiz.service import QuizService


@get("/console/activities/{activity_id:int}/questions", include_in_schema=False)
async def questions_page(request: Request[Any, Any, Any], activity_id: Id) -> Response[Any]:
    session = await gate(request)
    if isinstance(session, Response):
        return session
    activity = await _activity(request, activity_id)
    questions = []
    if activity.type == ACTIVITY_TYPE:
        questions = list((await platform_of(request).service(QuizService).questions(activity_id)).values())
    return render(
        request,
        "questions.html",
        session,
        activity=activity,
        is_quiz=activity.type == ACTIVITY_TYPE,
        questions=questions,
    )


ROUTES = [questions_page]
