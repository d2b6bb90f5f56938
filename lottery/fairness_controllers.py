"""The lottery's fairness routes (issue 18): the public history of its config versions, the
public verification of a draw once the seed is revealed, and operators' live odds changes."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, PathParameter

from activities.auth import Identity
from activities.errors import conflict
from api.params import Id
from api.security import platform_of, provide_operator, service_for
from lottery.fairness_service import DrawVerification, Fairness, Versions
from lottery.model import LOTTERY_TYPES
from lottery.service import DrawService
from lottery.versions import NewVersion

DrawId = Annotated[str, PathParameter(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


def _fairness(request: Request[Any, Any, Any]) -> Fairness:
    return Fairness(platform_of(request).service(DrawService))


class FairnessController(Controller):
    """Anyone's routes: what was disclosed, and checking a draw."""

    @get("/activities/{activity_id:int}/versions", opt={"activity": "published", "errors": ("wrong_activity_type",)})
    async def versions(self, request: Request[Any, Any, Any], activity_id: Id) -> Versions:
        """The history of a lottery's disclosed odds.

        Every config version frozen since the publication, with the time it took (or takes)
        effect and each prize's odds and value then. A live change is listed from the moment it
        is made, before it takes effect; `current_version` is the one in effect now."""
        fairness = _fairness(request)
        activity = await fairness.draws.activities.published(activity_id, LOTTERY_TYPES, "a lottery")
        return await fairness.history(activity)

    @get(
        "/activities/{activity_id:int}/draws/{draw_id:str}/verification",
        opt={
            "activity": "published",
            "errors": ("wrong_activity_type", "seed_not_revealed", "not_verifiable", "draw_not_found"),
        },
    )
    async def verification(self, request: Request[Any, Any, Any], activity_id: Id, draw_id: DrawId) -> DrawVerification:
        """A draw recomputed from the revealed seed.

        Once the activity has ended its seed is public (sha256(seed) is the `commitment` shown
        since the publication). The draw's number is HMAC-SHA256(seed, draw id) mapped onto its
        config version's total weight; the prize follows from the version's weight table and the
        stock state the draws before it left (audit order). Answers "verified" or the checks
        that differ. Before the end: 409 `seed_not_revealed`."""
        fairness = _fairness(request)
        activity = await fairness.draws.activities.published(activity_id, LOTTERY_TYPES, "a lottery")
        return await fairness.verification(activity, draw_id)


class FairnessOperatorController(Controller):
    """Operators' live odds changes."""

    path = "/operator/activities/{activity_id:int}"
    dependencies = {  # noqa: RUF012 (Litestar's class attribute)
        "draws": Provide(service_for(DrawService, "operator"), sync_to_thread=False),
        "operator": Provide(provide_operator),
    }

    @post(
        "/versions",
        status_code=201,
        opt={
            "roles": "write",
            "activity": "any",
            "errors": (
                "wrong_activity_type",
                "activity_not_live",
                "activity_ended",
                "effective_at_not_future",
                "effective_at_not_after_latest",
                "prize_not_in_activity",
                "prize_value_invalid",
                "prize_value_too_high",
                "points_amount_mismatch",
                "weights_all_zero",
                "weights_too_large",
                "version_empty",
                "unlock_beyond_total_limit",
            ),
        },
    )
    async def new_version(
        self,
        operator: NamedDependency[Identity],
        draws: NamedDependency[DrawService],
        activity_id: Id,
        data: JSONBody[NewVersion],
    ) -> Versions:
        """Change a live lottery's odds or prize values from a future time.

        A new config version: the prizes listed get their new `weight`, `value_cny` or `points`
        (others keep theirs) and, when `limits` is given, the limits become those, effective at
        `effective_at`, which must be in the future (422
        `effective_at_not_future`) and after any version already announced. It is disclosed at
        once (public view `upcoming_versions`, `GET /activities/{id}/versions`) and logged; each
        draw uses exactly one version, the one in effect at its time. Stock additions and a later
        end time need no version. Answers the version history."""
        activity = await draws.activities.get(activity_id)
        if activity.type not in LOTTERY_TYPES:
            raise conflict("wrong_activity_type", f"activity {activity_id} is a {activity.type}, not a lottery")
        return await Fairness(draws).add_version(activity_id, data, operator.subject)


ROUTES = [FairnessController, FairnessOperatorController]
