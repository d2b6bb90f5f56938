"""Prometheus metrics of the platform, in one place (served at `GET /metrics`).

Every process has its own registry (the default one of `prometheus_client`); with several API
workers each answers for itself. Labels are bounded sets: a route template (never a raw path),
a gameplay, an error code, a stream key.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# --- HTTP ---------------------------------------------------------------------------------------
REQUESTS = Counter("promo_http_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "promo_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# --- actions of members (one per state-changing script) ---------------------------------------
ACTIONS = Counter("promo_actions_total", "Member actions by gameplay and outcome", ["gameplay", "action", "outcome"])

# --- the audit pipeline (Redis streams -> SQL) ---------------------------------------------------
AUDIT_BACKLOG = Gauge("promo_audit_backlog_entries", "Stream entries not yet written to SQL", ["stream"])
AUDIT_LAG = Gauge("promo_audit_lag_seconds", "Age of the oldest entry not yet written to SQL", ["stream"])
AUDIT_WRITTEN = Counter("promo_audit_written_total", "Stream entries written to SQL")
AUDIT_BATCH = Histogram(
    "promo_audit_batch_entries",
    "Entries per SQL transaction of the audit writer",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
)
AUDIT_FAILURES = Counter("promo_audit_write_failures_total", "Audit writer steps that failed (retried)")
AUDIT_QUARANTINED = Counter(
    "promo_audit_quarantined_total", "Stream entries the writer could not write, moved to the dead-letter table"
)

# --- Redis, rebuilds, repairs -------------------------------------------------------------------
REDIS_LATENCY = Histogram(
    "promo_redis_roundtrip_seconds",
    "Round trip of a batch of scripts to Redis",
    buckets=(0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0),
)
REBUILDS = Counter("promo_rebuilds_total", "Live states rebuilt from SQL", ["gameplay", "mode"])
RECONCILED = Counter("promo_reconciler_repairs_total", "Half-done changes completed or undone by the reconciler")

# --- outbound webhooks (outbound/dispatcher.py) ------------------------------------------------
WEBHOOK_ATTEMPTS = Counter(
    "promo_webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"]
)  # delivered | retry | dead
WEBHOOK_CIRCUIT_OPEN = Counter("promo_webhook_circuit_open_total", "Times an endpoint's circuit breaker opened")

# --- the script batcher's groups (activities/scripts.py; issue 17) ------------------------------
SCRIPT_GROUP = Histogram(
    "promo_script_group_calls",
    "Calls one EVALSHA of a groupable script carried (draws of one activity in one call)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)

# --- bucketed stock (lottery/buckets.py) --------------------------------------------------------
STOCK_MOVES = Counter(
    "promo_stock_bucket_moves_total", "Fallovers of a bucket that ran out of a prize, by outcome", ["outcome"]
)  # moved (units from another bucket) | out (none anywhere: marked out) | settled (retries spent: the fallback)
