"""The QA load-test kit: one Locust entry point for every gameplay.

    locust -f loadtests/locustfile.py --host https://promo.example.com [DrawStorm | EarlyRiser | Friend | Fan ...]

Name user classes to run their scenarios; name none for the campaign-day mix, every scenario at
once with realistic weights (draws 5 : sign-ins 2 : assist 2 : reservations 1 : events 1 : tasks 2):

    DrawStorm   loadtests/draw_storm.py    the wheel: open it, draw; retries with the same key
    EarlyRiser  loadtests/morning_peak.py  the morning sign-in peak: calendar, sign in, resend
    Friend      loadtests/viral_spread.py  bargains shared and helped, some helpers start their own
    Fan         loadtests/flash_crowd.py   everyone reserves at the opening second; refresh, cancel
    BrandCrm    loadtests/task_centre.py   the brand's CRM pushes event batches (POST /events)...
    TaskHunter  loadtests/task_centre.py   ...while members read their tasks and claim them

Every scenario sets up its own activity through the operator API (or takes the one its
PROMO_*_ACTIVITY_ID names), mints its members' tokens up front, behaves like front ends (think
time, Idempotency-Keys, resent requests, 2 % bad requests that must get their 4xx), and checks
its invariants when Locust quits; a broken one makes Locust exit 1. With PROMO_RUN_TIME (seconds)
the run lasts that long from the first request (`make loadtest` sets it; Locust's --run-time
would count the set-up too); the results land beside the --html/--csv report (loadtests/results.py).
The server's JWT secret mints the tokens: PROMO_JWT_SECRET, or PROMO_JWT_SECRET_FILE. `make
loadtest` runs it all against the embedded server (loadtests/run.py).

Distributed: the master sets the activities up and sends their ids to the workers. When the run
ends it asks every worker for what only the worker saw (the actions it was acknowledged, looked
up in SQL; its members' limits; its 5xx count) and reports it with the invariants of the whole
run; a worker that does not report is a failure.
"""

from __future__ import annotations

import time
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from loadtests.draw_storm import DrawStorm
from loadtests.flash_crowd import Fan
from loadtests.kit import Check, Scenario, operator_token, report, server_errors
from loadtests.morning_peak import EarlyRiser
from loadtests.results import clock, start_clock_at_first_request, write_results
from loadtests.task_centre import BrandCrm, TaskHunter
from loadtests.viral_spread import Friend

__all__ = ["BrandCrm", "DrawStorm", "EarlyRiser", "Fan", "Friend", "TaskHunter"]
SCENARIOS: dict[str, Scenario] = {
    cls.scenario.name: cls.scenario for cls in (DrawStorm, EarlyRiser, Friend, Fan, TaskHunter)
}
from_workers: dict[str, Any] = {"expected": 0, "reports": 0, "checks": [], "server_errors": 0}


def selected(environment: Environment) -> list[Scenario]:
    """The scenarios of the user classes this run has, in order."""
    found: dict[str, Scenario] = {}
    for user_class in environment.user_classes:
        scenario: Scenario = getattr(user_class, "scenario")  # noqa: B009 (every user class of the kit has one)
        found.setdefault(scenario.name, scenario)
    return list(found.values())


@events.init.add_listener
def on_init(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner):

        def set_up(msg: Any, **_: Any) -> None:
            for name, activity_id in msg.data.items():
                SCENARIOS[name].ready(int(activity_id))

        def send_report(**_: Any) -> None:
            runner.stop()  # this worker's users first: what it saw is then final
            checks = _checks_here(environment)
            runner.send_message(
                "checks", {"checks": [list(c) for c in checks], "server_errors": server_errors["count"]}
            )

        runner.register_message("setup", set_up)
        runner.register_message("report", send_report, concurrent=True)
    if isinstance(runner, MasterRunner):

        def worker_report(msg: Any, **_: Any) -> None:
            from_workers["reports"] += 1
            from_workers["checks"] += [tuple(c) for c in msg.data["checks"]]
            from_workers["server_errors"] += msg.data["server_errors"]

        runner.register_message("checks", worker_report)


@events.request.add_listener
def count_server_errors(response: Any = None, **_: Any) -> None:
    if response is not None and getattr(response, "status_code", 0) >= 500:
        server_errors["count"] += 1


@events.test_start.add_listener
def on_test_start(environment: Environment, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return  # the master sets up and sends the ids
    clock["setup_started"] = time.time()
    try:
        ids = {scenario.name: scenario.set_up(environment.host or "") for scenario in selected(environment)}
    finally:  # a failed set-up must not leave the run without an end
        start_clock_at_first_request(environment)
    if isinstance(environment.runner, MasterRunner):
        from_workers["expected"] = environment.runner.worker_count
        environment.runner.send_message("setup", ids)


@events.test_stop.add_listener
def on_test_stop(environment: Environment, **_: Any) -> None:
    """The master asks each worker for its own checks while it still listens to them (once the
    run is over it stops listening), and waits for them."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner) or from_workers["reports"]:
        return
    runner.send_message("report", None)
    deadline = time.monotonic() + 120
    while from_workers["reports"] < from_workers["expected"] and time.monotonic() < deadline:
        gevent.sleep(0.5)


@events.quitting.add_listener
def on_quitting(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner) or not any(s.activity_id for s in selected(environment)):
        return
    operator = operator_token()
    checks: list[Check] = []
    for scenario in selected(environment):
        try:
            checks += scenario.check(environment, scenario.activity_id or 0, operator)
        except Exception as exc:  # the server is unreachable or answered nonsense
            checks.append((f"{scenario.name}: invariants could be checked", False, repr(exc)))
    if isinstance(runner, LocalRunner):
        checks += _checks_here(environment)
    elif isinstance(runner, MasterRunner):
        expected, got = from_workers["expected"], from_workers["reports"]
        checks += [*from_workers["checks"], ("every worker reported", got >= expected, f"{got} of {expected}")]
        server_errors["count"] += from_workers["server_errors"]
    write_results(environment, report(environment, checks))


def _checks_here(environment: Environment) -> list[Check]:
    """What this process saw: its acknowledged actions in SQL, its scenarios' own checks."""
    operator, checks = operator_token(), []
    for scenario in selected(environment):
        try:
            checks += scenario.checks_here(environment.host or "", operator)
        except Exception as exc:
            checks.append((f"{scenario.name}: what this process saw could be checked", False, repr(exc)))
    return checks
