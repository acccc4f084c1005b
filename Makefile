# The two README commands (`make run`, `make test`) and the pieces they are built from.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export VENV
# The web port; honcho hands it to the first Procfile entry as $$PORT.
PORT ?= 8000

# The integration profile: real MariaDB and Redis on this machine (a test_ database is made).
TEST_DATABASE_URL ?= mysql://root@127.0.0.1:3306/opsproject
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1
# Each pass keeps its files (SQLite, broker folder, flags, artifacts) apart from `make run`'s var/.
# Both passes run on TEST_WORKERS pytest-xdist workers (the suite mostly waits on the processes
# and servers it starts), whole files per worker; tests/support/xdist_worker.py gives each worker
# its own Redis database and VAR_DIR folder. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -p tests.support.xdist_worker -n $(TEST_WORKERS) --dist loadfile
# pytest exits 5 when a pass selects no test; that is not a failure of the suite.
PYTEST_OK = rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 5 ] || exit $$rc

.PHONY: run demo screenshot test lint deploy-check format migrate services system-deps test-integration test-embedded clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.base-installed: requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.test-installed: requirements/base.txt requirements/production.txt requirements/test.txt | $(BIN)/python system-deps
	$(BIN)/pip install --quiet -r requirements/test.txt
	touch $@ $(VENV)/.base-installed

migrate: $(VENV)/.base-installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/python manage.py schedule_sync

## make run: web (uvicorn, HTTP + websockets on :8000), a Celery worker and beat until Ctrl-C.
## Development only: it makes sure the local operator account exists and says how to sign in,
## and on a first start offers the demo day (on a terminal; `make demo` any time).
run: migrate
	$(BIN)/python manage.py local_operator --url http://127.0.0.1:$(PORT)/
	$(BIN)/python manage.py demo --offer
	exec $(BIN)/honcho --procfile Procfile start --port $(PORT)

## make demo: load a realistic day (tickets, mail, a backup and its drill, 24 h of history).
demo: migrate
	$(BIN)/python manage.py demo

## make screenshot: the five-minutes browser test, keeping its dashboard screenshot in docs/.
screenshot: $(VENV)/.test-installed
	OPS_SCREENSHOT_DIR=$(CURDIR)/docs $(MAKE) test-embedded PYTEST_ARGS="tests/operations/test_first_five_minutes.py"

## make test: lint, the deploy check, then the integration profile (MariaDB + Redis), then the
## embedded profile.
test: lint deploy-check test-integration test-embedded

system-deps:
	@scripts/test-system-deps.sh

# The websocket tests drive the helpdesk's own client (Laravel Echo over pusher-js) in Node.
JS_TEST_DIR := tests/realtime/js
$(JS_TEST_DIR)/node_modules/.installed: $(JS_TEST_DIR)/package-lock.json | system-deps
	npm ci --prefix $(JS_TEST_DIR) --no-audit --no-fund --loglevel=error
	touch $@

services:
	@scripts/test-services.sh

test-integration: $(VENV)/.test-installed $(JS_TEST_DIR)/node_modules/.installed services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) VAR_DIR=$${VAR_DIR:-$(CURDIR)/var/test-integration} \
		$(PYTEST) -m "not embedded" $(PYTEST_ARGS); $(PYTEST_OK)

test-embedded: $(VENV)/.test-installed $(JS_TEST_DIR)/node_modules/.installed
	DATABASE_URL= REDIS_URL= VAR_DIR=$${VAR_DIR:-$(CURDIR)/var/test-embedded} \
		$(PYTEST) -m embedded $(PYTEST_ARGS); $(PYTEST_OK)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo --cache-dir $(CURDIR)/var/import-linter

## make deploy-check: `manage.py check --deploy` in the production profile must give no warning.
deploy-check: $(VENV)/.test-installed
	PYTHON=$(BIN)/python scripts/deploy-check.sh

format: $(VENV)/.test-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf var/broker var/test_db.sqlite3*

## make bench: every benchmark under bench/ against this machine's MariaDB and Redis, each
## beside its baseline in the same run; writes docs/BENCHMARKS.md from what they print.
## Within 30 minutes on this loaded 2-core machine: each benchmark has a time budget in
## bench/run_all.py (the budgets add up to at most 29 min; one that overruns is cut and
## recorded as not finished). The heavy ones size themselves to fit: backup and restore go to
## about 1 GB of SQL and share that database (backup --keep), pitr replays one simulated hour
## of binlogs, and health, queue, webhook and ws_scale run fewer or shorter rounds than their
## defaults when run by hand (bench/run_all.py ARGS). growth makes its 1M-row databases
## (ops_bench_growth_*) on its first run, in forked processes, within its budget; later runs
## reuse them and only top up. ONLY=health,growth runs some (not cut at their budgets) and keeps
## the other sections.
.PHONY: bench soak
bench: $(VENV)/.test-installed services
	$(BIN)/pip install --quiet -r requirements/bench.txt
	$(BIN)/python -m bench.run_all $(if $(ONLY),--only $(ONLY))

## make soak: 10 minutes of steady API, task, webhook and websocket load on a whole stack of its
## own (MariaDB, Redis, web, realtime, two workers, two beats); fails if any process's memory
## grows. Not part of `make test`. Writes its section of docs/BENCHMARKS.md.
soak: $(VENV)/.test-installed services
	$(BIN)/python -m bench.run_all --only soak
