# RADIANT — `make run` serves the app, `make test` runs the tests. No environment needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test migrate worker clean

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
	rm -rf $(VENV) db.sqlite3 staticfiles

# --- rate limits (issue 4): throttling on vs off, same run (needs DATABASE_URL, REDIS_URL) ---
.PHONY: bench-throttle
bench-throttle: install
	$(PY) -m bench.throttle_overhead $(BENCH_ARGS)

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
