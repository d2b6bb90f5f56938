"""Request bodies that work, per operation, for the API document's examples (api/openapi.py)."""

from __future__ import annotations

from typing import Any

# Bodies that work, for the docs UI and as the fuzzer's starting points (its examples phase sends
# them, its coverage phase varies them one field at a time).
_WINDOW = {"starts_at": "2026-12-01T00:00:00+08:00", "ends_at": "2027-12-01T00:00:00+08:00"}
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/operator/activities"): {
        "wheel": {
            "type": "wheel",
            "name": "Winter wheel",
            **_WINDOW,
            "timezone": "Asia/Shanghai",
            "limits": {"per_user_daily": 3},
            "prizes": [
                {"name": "Phone", "type": "goods", "weight": 10, "stock": 2, "value_cny": "4999.00"},
                {"name": "10 CNY coupon", "type": "coupon", "weight": 290, "stock": 1000, "value_cny": "10.00"},
                {"name": "50 points", "type": "points", "weight": 100, "stock": 1000, "points": 50},
                {"name": "Thanks", "type": "thanks", "weight": 600},
            ],
        },
        "bucketed_egg": {  # bucketed stock (库存分桶, lottery/buckets.py): a hot lottery over 8 Redis slots
            "type": "golden_egg",
            "name": "Opening-minute golden egg",
            **_WINDOW,
            "timezone": "Asia/Shanghai",
            "limits": {"per_user_daily": 3, "global_daily": 100_000},
            "stock_buckets": 8,
            "prizes": [
                {"name": "Phone", "type": "goods", "weight": 10, "stock": 20, "value_cny": "4999.00"},
                {"name": "Thanks", "type": "thanks", "weight": 990},
            ],
        },
        "checkin": {
            "type": "checkin",
            "name": "Winter sign-in",
            **_WINDOW,
            "checkin": {
                "cycle": {"kind": "weekly"},
                "daily_reward": {"type": "points", "points": 5},
                "streak_rewards": [{"days": 3, "reward": {"type": "points", "points": 20}}],
                "makeup": {"per_cycle": 1, "max_days_back": 2, "points_cost": 10},
            },
        },
    },
    ("POST", "/operator/activities/{activity_id}/prizes/{prize_id}/stock"): {"add": {"units": 100}},
    ("POST", "/operator/members/{user_id}/points"): {"grant": {"amount": 100, "reason": "welcome_gift"}},
    ("POST", "/operator/audit/lookup"): {"draws": {"kind": "draw", "ids": ["d0193c2a7b1e4f00a1"]}},
    ("POST", "/operator/activities/{activity_id}/simulations"): {
        "traffic": {"members": 100_000, "runs": 1000, "draws_per_day": 1.5, "seed": 1}
    },
}
