"""Quiz draws: a bank managed by operators, sessions without answers, a time limit, attempts per
day, a pass granting chances on the linked lottery once."""

from __future__ import annotations

from typing import Any

from tests.conftest import Env, wheel


def quiz_spec(lottery_id: int, **rules: Any) -> dict[str, Any]:
    quiz: dict[str, Any] = {
        "questions": 3,
        "pass_mark": 2,
        "time_limit_s": 60,
        "attempts_per_day": 2,
        "chances": 2,
        "linked_lottery_id": lottery_id,
    }
    quiz.update(rules)
    return {
        "type": "quiz",
        "name": "Tea quiz",
        "starts_at": "2026-05-01T00:00:00+08:00",
        "ends_at": "2026-07-01T00:00:00+08:00",
        "timezone": "Asia/Shanghai",
        "quiz": quiz,
    }


QUESTIONS = [
    {"text": f"Question {i}?", "options": ["a", "b", "c"], "answer": [i % 3], "explanation": f"because {i}"}
    for i in range(4)
] + [{"text": "Pick b and c", "kind": "multiple", "options": ["a", "b", "c"], "answer": [2, 1]}]


async def make_quiz(env: Env) -> tuple[int, int, dict[int, list[int]]]:
    lottery = (await env.create(wheel(limits={})))["id"]
    quiz = (await env.create(quiz_spec(lottery), publish=False))["id"]
    answers = {}
    for question in QUESTIONS:
        response = await env.client.post(
            f"/operator/activities/{quiz}/questions", json=question, headers=env.operator()
        )
        assert response.status_code == 201, response.text
        answers[response.json()["id"]] = response.json()["answer"]
    published = await env.client.post(f"/operator/activities/{quiz}/publish", headers=env.operator())
    assert published.status_code == 200, published.text
    return lottery, quiz, answers


async def start(env: Env, quiz: int, user: str = "m1") -> Any:
    return await env.client.post(f"/activities/{quiz}/quiz-sessions", headers=env.player(user))


async def submit(env: Env, quiz: int, session: str, answers: list[list[int]], user: str = "m1") -> Any:
    return await env.client.post(
        f"/activities/{quiz}/quiz-sessions/{session}/answers", json={"answers": answers}, headers=env.player(user)
    )


async def test_a_pass_grants_chances_once(env: Env) -> None:
    lottery, quiz, key = await make_quiz(env)
    session = await start(env, quiz)
    assert session.status_code == 201, session.text
    body = session.json()
    assert len(body["questions"]) == 3
    assert all(set(q) == {"id", "text", "kind", "options"} for q in body["questions"])  # no answers
    right = [key[q["id"]] for q in body["questions"]]
    wrong_one = [[(right[0][0] + 1) % 3], *right[1:]]  # the first one wrong
    result = await submit(env, quiz, body["session_id"], wrong_one)
    assert result.status_code == 200, result.text
    assert (result.json()["correct"], result.json()["passed"], result.json()["chances"]) == (2, True, 2)
    assert result.json()["questions"][0]["correct"] is False and result.json()["questions"][0]["answer"] == right[0]
    again = await submit(env, quiz, body["session_id"], right)  # the first result stands
    assert again.json()["replayed"] is True and again.json()["correct"] == 2
    chances = await env.client.get(f"/activities/{lottery}/chances", headers=env.player("m1"))
    assert chances.json()["chances"] == 2


async def test_attempts_time_limit_and_ownership(env: Env) -> None:
    _, quiz, _ = await make_quiz(env)
    first = (await start(env, quiz)).json()
    assert (await start(env, quiz)).status_code == 201
    used = await start(env, quiz)
    assert used.status_code == 429 and used.json()["code"] == "attempts_used"
    other = await submit(env, quiz, first["session_id"], [[0], [0], [0]], user="m2")
    assert other.status_code == 404 and other.json()["code"] == "session_not_found"
    short = await submit(env, quiz, first["session_id"], [[0]])
    assert short.status_code == 422 and short.json()["code"] == "answers_count_mismatch"
    env.clock.advance(seconds=61)
    late = await submit(env, quiz, first["session_id"], [[0], [0], [0]])
    assert late.status_code == 409 and late.json()["code"] == "session_expired"
    env.clock.advance(days=1)
    assert (await start(env, quiz)).status_code == 201  # a new day, new attempts


async def test_operators_manage_the_bank(env: Env) -> None:
    lottery = (await env.create(wheel()))["id"]
    quiz = (await env.create(quiz_spec(lottery), publish=False))["id"]
    too_small = await env.client.post(f"/operator/activities/{quiz}/publish", headers=env.operator())
    assert too_small.status_code == 409 and too_small.json()["code"] == "question_bank_too_small"
    bad = await env.client.post(
        f"/operator/activities/{quiz}/questions",
        json={"text": "?", "options": ["a", "b"], "answer": [0, 1]},
        headers=env.operator(),
    )
    assert bad.status_code == 422 and bad.json()["code"] == "single_needs_one_answer"
    added = await env.client.post(f"/operator/activities/{quiz}/questions", json=QUESTIONS[0], headers=env.operator())
    qid = added.json()["id"]
    listed = await env.client.get(f"/operator/activities/{quiz}/questions", headers=env.operator())
    assert [q["id"] for q in listed.json()] == [qid]
    gone = await env.client.delete(f"/operator/activities/{quiz}/questions/{qid}", headers=env.operator())
    assert gone.status_code == 204
    assert (await env.client.get(f"/operator/activities/{quiz}/questions", headers=env.operator())).json() == []
