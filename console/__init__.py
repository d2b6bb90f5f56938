"""The back office (issue 13): server-rendered pages at /console (Jinja2 through Litestar's
template engine, htmx and Apache ECharts vendored in console/static/), logged in with an
operator account; every change goes through the operator API with the session cookie and the
session's CSRF token, so the console and the API share one set of rules."""
