"""The `promo` commands that are not the server: mint tokens, manage operator accounts (and the
first admin), simulate a lottery, verify its draws, migrate (api/cli.py parses and dispatches)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from activities.config import Settings, default_var_dir, jwt_secret, load_settings
from activities.migrate import upgrade


def token(args: argparse.Namespace) -> int:
    """Mint a token with the server's secret, found where the server finds it; never make one up
    (a secret the server does not have would only mint tokens it rejects)."""
    from activities.auth import Tokens

    var_dir = default_var_dir()
    secret = jwt_secret(var_dir, create=False)
    if secret is None:
        print(
            f"promo token: no JWT secret: {var_dir / 'jwt-secret'} does not exist and PROMO_JWT_SECRET is not set.\n"
            "  Start the server once (`promo serve` creates it), or set PROMO_VAR_DIR to the server's var/ folder,\n"
            "  or PROMO_JWT_SECRET to the server's secret.",
            file=sys.stderr,
        )
        return 2
    tokens = Tokens(secret)
    tags = tuple(t for t in (args.tags or "").split(",") if t)
    stores = tuple(t for t in (args.stores or "").split(",") if t)
    if (args.role or stores) and not args.operator:
        print("promo token: --role and --stores are for operator tokens (add --operator)", file=sys.stderr)
        return 2
    if args.role == "clerk" and not stores:
        print("promo token: a clerk redeems at its stores: give --stores", file=sys.stderr)
        return 2
    print(
        tokens.issue(
            args.user,
            "system" if args.system else "operator" if args.operator else "player",
            level=args.level,
            tags=tags,
            new_user=args.new_user,
            operator_role=args.role,
            stores=stores,
            ttl_s=args.ttl,
        )
    )
    return 0


def operator(args: argparse.Namespace) -> int:
    """`promo operator create`: an operator account in SQL, with a password given or generated."""
    import secrets

    from activities.accounts import Accounts
    from activities.clock import SystemClock
    from activities.db import make_engine
    from activities.errors import PromoError

    settings = load_settings()
    upgrade(settings.database_url)
    password = args.password or secrets.token_urlsafe(12)
    stores = tuple(t for t in (args.stores or "").split(",") if t)

    async def create() -> None:
        engine = make_engine(settings.database_url)
        try:
            await Accounts(engine, SystemClock()).create(args.user, password, args.role, stores)
        finally:
            await engine.dispose()

    try:
        asyncio.run(create())
    except PromoError as exc:
        print(f"promo operator: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    shown = "" if args.password else f", password {password} (shown once)"
    print(f"operator account {args.user!r} ({args.role}{', stores ' + ','.join(stores) if stores else ''}){shown}")
    return 0


def bootstrap_admin(settings: Settings) -> str | None:
    """On a fresh database: the `admin` account with a random password, to print once."""
    from activities.accounts import Accounts
    from activities.clock import SystemClock
    from activities.db import make_engine

    async def run() -> str | None:
        engine = make_engine(settings.database_url)
        try:
            return await Accounts(engine, SystemClock()).bootstrap_admin()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def simulate(args: argparse.Namespace) -> int:
    """The pre-launch simulator on an activity read from SQL (a draft or a live one)."""
    import msgspec

    from activities.db import make_engine
    from activities.errors import PromoError
    from activities.repository import ActivityRepository
    from lottery.repository import LotteryRepository
    from lottery.simulate import Traffic
    from lottery.simulate_report import render, simulate_lottery

    async def read() -> Any:
        engine = make_engine(load_settings().database_url)
        try:
            activity = await ActivityRepository(engine).get(args.activity)
            return None if activity is None else await LotteryRepository(engine).read(activity)
        finally:
            await engine.dispose()

    try:
        traffic = msgspec.convert(
            {
                "members": args.members,
                "runs": args.runs,
                "draws_per_day": args.draws_per_day,
                "distribution": args.distribution,
                "spread": args.spread,
                "days": args.days,
                "seed": args.seed,
            },
            Traffic,
        )
        activity = asyncio.run(read())
        if activity is None:
            print(f"promo simulate: no activity {args.activity}", file=sys.stderr)
            return 2
        result = simulate_lottery(activity, traffic)
    except (msgspec.ValidationError, PromoError) as exc:
        print(f"promo simulate: {exc}", file=sys.stderr)
        return 2
    title = f"activity {activity.id} {activity.name!r}"
    print(msgspec.json.encode(result).decode() if args.json else render(result, title))
    return 0


def verify(args: argparse.Namespace) -> int:
    """Every draw of a lottery recomputed from its seed (issue 18: lottery/verify.py)."""
    import msgspec

    from lottery.verify import Report

    async def run() -> Report | str:
        from activities.db import make_engine
        from activities.errors import PromoError
        from activities.repository import ActivityRepository
        from lottery.fairness_service import audit_trail
        from lottery.model import LOTTERY_TYPES
        from lottery.repository import LotteryRepository
        from lottery.seeds import Seeds, seed_key
        from lottery.verify import report

        settings = load_settings()
        engine = make_engine(settings.database_url)
        try:
            activity = await ActivityRepository(engine).get(args.activity)
            if activity is None or activity.type not in LOTTERY_TYPES or activity.status == "draft":
                return f"no published lottery {args.activity}"
            repository = LotteryRepository(engine)
            lottery = await repository.read(activity)
            seed = await Seeds(engine, seed_key(settings.var_dir)).seed(activity.id)
            if lottery is None or seed is None:
                return f"lottery {args.activity} has no readable seed (published before seeds? another key?)"
            rows, added = await audit_trail(engine, repository, activity.id)
            return report(lottery, seed, rows, added)
        except (PromoError, ValueError) as exc:
            return str(exc)
        finally:
            await engine.dispose()

    found = asyncio.run(run())
    if isinstance(found, str):
        print(f"promo verify: {found}", file=sys.stderr)
        return 2
    if args.json:
        print(msgspec.json.encode(found).decode())
    else:
        print(f"activity {found.activity_id}: commitment {found.commitment}")
        print(f"seed matches the commitment: {'yes' if found.seed_matches_commitment else 'NO'}")
        for draw in found.differing:
            wrong = ", ".join(
                f"{c.name} recorded {c.recorded} recomputed {c.recomputed}" for c in draw.checks if not c.ok
            )
            print(f"draw {draw.draw_id} differs: {wrong}")
        verdict = "verified" if found.ok else "DIFFERS"
        print(f"{found.verified} of {found.draws} draws verified: {verdict}")
    return 0 if found.ok else 1


def migrate(_: argparse.Namespace) -> int:
    upgrade(load_settings().database_url)
    print("schema is up to date")
    return 0
