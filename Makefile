# RADIANT — `make run` serves the app, `make test` runs the tests. No environment needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint migrate worker clean package bench-cold

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate
	@$(PY) manage.py seed_demo --with-key | $(PY) -c 'import json,sys; d=json.load(sys.stdin); print("\n  Admin:        http://$(HOST):$(PORT)/admin/  (admin / admin)\n  API docs:     http://$(HOST):$(PORT)/api/docs/\n  Demo API key: " + d["key"] + "  (tenant " + d["tenant"] + ")\n  Try:          curl -H \"Authorization: Bearer " + d["key"] + "\" http://$(HOST):$(PORT)/api/v1/tenant\n  Chat (echo):  curl -H \"Authorization: Bearer " + d["key"] + "\" -H \"Content-Type: application/json\" -d \x27{\"model\": \"gpt-4o-mini\", \"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}\x27 http://$(HOST):$(PORT)/api/v1/chat/completions\n")'
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

worker: install
	$(VENV)/bin/celery -A radiant worker -l info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles build

# --- rate limits: throttling on vs off, same run (needs DATABASE_URL, REDIS_URL) ---
.PHONY: bench-throttle
bench-throttle: install
	$(PY) -m bench.throttle_overhead $(BENCH_ARGS)

# --- Lambda (docs/DEPLOY.md) -----------------------------------------------------------
# `make package` builds the Lambda archive offline with `zappa package` (no AWS account or
# credentials) from the committed tree only (`git archive` into build/src: nothing untracked
# or ignored can ship) and a clean virtualenv holding only requirements.txt and Zappa, then
# checks its size, that every file in it is committed or installed, and that it serves
# requests in a Lambda-like interpreter. PACKAGE_ARGS=--allow-dirty packages the last commit
# even with uncommitted changes in the working tree.
LAMBDA_STAGE ?= production
LAMBDA_VENV := build/venv
LAMBDA_SRC := build/src
LAMBDA_ZIP := build/radiant-$(LAMBDA_STAGE).zip
PACKAGE_ARGS ?=

$(LAMBDA_VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/pip install -q -r requirements.txt $$(grep -i '^zappa==' requirements-dev.txt)
	touch $@

package: $(LAMBDA_VENV)/.installed
	$(PYTHON) deploy/source_tree.py $(LAMBDA_SRC) $(PACKAGE_ARGS)
	cd $(LAMBDA_SRC) && VIRTUAL_ENV=$(CURDIR)/$(LAMBDA_VENV) PATH=$(CURDIR)/$(LAMBDA_VENV)/bin:$$PATH \
		$(CURDIR)/$(LAMBDA_VENV)/bin/zappa package $(LAMBDA_STAGE) -o $(CURDIR)/$(LAMBDA_ZIP)
	$(LAMBDA_VENV)/bin/python deploy/check_package.py $(LAMBDA_ZIP) --stage $(LAMBDA_STAGE) --source $(LAMBDA_SRC)

# Cold start from the archive: a fresh process, laid out like Lambda's python3.11 runtime
# with the extracted package, imports Zappa's handler and serves its first event; next to a
# bare Django + DRF app through the same handler, alternating, median of BENCH_RUNS each.
BENCH_RUNS ?= 5
bench-cold: package
	$(LAMBDA_VENV)/bin/python bench/cold_start.py --archive $(LAMBDA_ZIP) --runs $(BENCH_RUNS)

# --- hot read path (docs/PERFORMANCE.md) ----------------------------------------
# `make bench`: the app and a bare Django floor under identical gunicorns, wrk at 16
# connections, table + bench-results/latest.json (DATABASE_URL/REDIS_URL, or its own); GET
# models again with 2 workers (bench-results/workers-2.json); then the request log and metrics on vs off for GET models (bench/observability.py) and a
# 60 s soak at a mixed open-loop rate with each worker's memory (bench/soak.py).
# `make profile`: where a warm request's time goes (PROFILE_ARGS="--path /api/v1/tenant").
.PHONY: bench profile
bench: install
	@command -v wrk >/dev/null 2>&1 || { echo "wrk is not installed: apt-get install -y wrk"; exit 2; }
	$(PY) -m bench.run $(BENCH_ARGS)
	$(PY) -m bench.run --workers 2 --only "GET /api/v1/models" --out bench-results/workers-2.json
	$(PY) -m bench.observability $(BENCH_OBSERVABILITY_ARGS)
	$(PY) -m bench.soak $(BENCH_SOAK_ARGS)

profile: install
	$(PY) -m bench.profile $(PROFILE_ARGS)

# `make bench-versus BASE=<rev>`: this tree against an earlier revision, alternately, in one
# run (each on a database of its own): what a change costs, as a ratio.
.PHONY: bench-versus
bench-versus: install
	@command -v wrk >/dev/null 2>&1 || { echo "wrk is not installed: apt-get install -y wrk"; exit 2; }
	$(PY) -m bench.versus --base $(BASE) $(BENCH_ARGS)

# `make bench-audit`: POST usage with the Celery broker up, then unreachable (audit records
# written directly): what the fallback adds to a request's p99 (docs/BILLING.md).
.PHONY: bench-audit
bench-audit: install
	@command -v wrk >/dev/null 2>&1 || { echo "wrk is not installed: apt-get install -y wrk"; exit 2; }
	$(PY) -m bench.audit_fallback $(BENCH_ARGS)
