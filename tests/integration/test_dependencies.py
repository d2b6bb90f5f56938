"""Every route resolves its dependencies one batch of one at a time: Litestar resolves a batch
of several (dependencies with nothing between them) in an anyio task group, two tasks per
request, a cost the hot paths must not pay (api/security.py `service_for`)."""

from __future__ import annotations

from litestar.routes import HTTPRoute

from api.app import create_app


def test_no_route_resolves_dependencies_in_a_task_group() -> None:
    grouped = []
    for route in create_app().routes:
        if not isinstance(route, HTTPRoute):
            continue
        for method, (_, kwargs_model) in route.route_handler_map.items():
            batches = [sorted(dependency.key for dependency in batch) for batch in kwargs_model.dependency_batches]
            if any(len(batch) > 1 for batch in batches):
                grouped.append((method, route.path, batches))
    assert grouped == []
