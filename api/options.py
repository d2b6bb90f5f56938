"""OPTIONS answers that list every method of a path.

Litestar 2 builds a path's default OPTIONS handler with the path's first route; when a second
handler joins the path (GET and POST /operator/activities), the route is rebuilt but the OPTIONS
handler still reads the first one's methods, so `Allow` leaves some out (litestar#4169, fixed in
Litestar 3). Point each default OPTIONS handler at the route that serves it.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute


def repair_options(app: Litestar) -> None:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            fn = handler.fn
            if "OPTIONS" not in handler.http_methods or getattr(fn, "__name__", "") != "options_handler":
                continue
            for cell in getattr(fn, "__closure__", None) or ():
                if isinstance(cell.cell_contents, HTTPRoute) and cell.cell_contents is not route:
                    cell.cell_contents = route
