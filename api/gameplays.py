"""The registry: every gameplay the platform runs, in build order (a gameplay's `build` may use
the services of those above it: a sign-in's rewards draw on a lottery). Adding a gameplay is its
folder, one line here and its migration."""

from __future__ import annotations

from activities.gameplay import Gameplay, by_type
from assist.gameplay import GAMEPLAY as ASSIST
from checkin.gameplay import GAMEPLAY as CHECKIN
from event_gift.gameplay import GAMEPLAY as EVENT_GIFT
from lottery.gameplay import GAMEPLAY as LOTTERY
from quiz.gameplay import GAMEPLAY as QUIZ
from reservation.gameplay import GAMEPLAY as RESERVATION
from tasks.gameplay import GAMEPLAY as TASKS

GAMEPLAYS: tuple[Gameplay, ...] = (LOTTERY, CHECKIN, ASSIST, RESERVATION, EVENT_GIFT, TASKS, QUIZ)

GAMEPLAY_BY_TYPE: dict[str, Gameplay] = by_type(GAMEPLAYS)
SPECS_BY_TYPE = {activity_type: gameplay.spec for activity_type, gameplay in GAMEPLAY_BY_TYPE.items()}
