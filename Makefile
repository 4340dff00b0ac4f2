# RADIANT — `make run` serves the app, `make test` runs the tests. No environment needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test migrate worker clean package bench-cold

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

run: migrate
	@$(PY) manage.py seed_demo --with-key | $(PY) -c 'import json,sys; d=json.load(sys.stdin); print("\n  Admin:        http://$(HOST):$(PORT)/admin/  (admin / admin)\n  API docs:     http://$(HOST):$(PORT)/api/docs/\n  Demo API key: " + d["key"] + "  (tenant " + d["tenant"] + ")\n  Try:          curl -H \"Authorization: Bearer " + d["key"] + "\" http://$(HOST):$(PORT)/api/v1/tenant\n")'
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

worker: install
	$(VENV)/bin/celery -A radiant worker -l info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles build

# --- rate limits (issue 4): throttling on vs off, same run (needs DATABASE_URL, REDIS_URL) ---
.PHONY: bench-throttle
bench-throttle: install
	$(PY) -m bench.throttle_overhead $(BENCH_ARGS)

# --- Lambda (docs/DEPLOY.md) -----------------------------------------------------------
# `make package` builds the Lambda archive offline with `zappa package` (no AWS account or
# credentials) from a clean virtualenv holding only requirements.txt and Zappa, then checks
# its size, contents and that it serves requests in a Lambda-like interpreter.
LAMBDA_STAGE ?= production
LAMBDA_VENV := build/venv

$(LAMBDA_VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/pip install -q -r requirements.txt $$(grep -i '^zappa==' requirements-dev.txt)
	touch $@

package: $(LAMBDA_VENV)/.installed
	VIRTUAL_ENV=$(CURDIR)/$(LAMBDA_VENV) PATH=$(CURDIR)/$(LAMBDA_VENV)/bin:$$PATH \
		$(LAMBDA_VENV)/bin/zappa package $(LAMBDA_STAGE) -o build/radiant-$(LAMBDA_STAGE).zip
	$(LAMBDA_VENV)/bin/python deploy/check_package.py build/radiant-$(LAMBDA_STAGE).zip --stage $(LAMBDA_STAGE)

# Cold start: a fresh process imports Zappa's handler and serves its first event, this
# app next to a bare Django + DRF app (bench/bare_app), median of BENCH_RUNS runs each.
BENCH_RUNS ?= 7
bench-cold: install
	$(PY) bench/cold_start.py --runs $(BENCH_RUNS)

# --- hot read path (issue 5; docs/PERFORMANCE.md) ----------------------------------------
# `make bench`: the app and a bare Django floor under identical gunicorns, wrk at 16
# connections, table + bench-results/latest.json (DATABASE_URL/REDIS_URL, or its own).
# `make profile`: where a warm request's time goes (PROFILE_ARGS="--path /api/v1/tenant").
.PHONY: bench profile
bench: install
	@command -v wrk >/dev/null 2>&1 || { echo "wrk is not installed: apt-get install -y wrk"; exit 2; }
	$(PY) -m bench.run $(BENCH_ARGS)

profile: install
	$(PY) -m bench.profile $(PROFILE_ARGS)

# `make bench-audit`: POST usage with the Celery broker up, then unreachable (audit records
# written directly): what the fallback adds to a request's p99 (docs/BILLING.md).
.PHONY: bench-audit
bench-audit: install
	@command -v wrk >/dev/null 2>&1 || { echo "wrk is not installed: apt-get install -y wrk"; exit 2; }
	$(PY) -m bench.audit_fallback $(BENCH_ARGS)
