# Arbiter — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py
# Debian packages WeasyPrint needs; without libharfbuzz-subset0 it renders ~10x slower.
WEASYPRINT_DEBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
# The browser the end-to-end tests drive (tests/e2e/): Debian's, as `playwright install`
# needs a download this machine may not have.
BROWSER_DEBS := chromium

.PHONY: run test test-races lint security-audit deps dev-deps lock lock-upgrade lock-consistent system-deps browser-deps bench-deps translations messages migrate seed worker beat bench bench-pdf bench-sweep bench-pages bench-migrate bench-replay bench-audit clean

# Installs come from the lock files in requirements/ (pinned, with every file's hash), so a
# fresh machine gets exactly the versions that were tested; `make lock` writes them from
# pyproject.toml's ranges. build.txt: pip and setuptools (the build backend); main.txt: the
# application; dev.txt: the application and its extras test and e2e, at main.txt's versions.
# The project itself is installed without dependencies: everything it needs is in the lock.
REQ := requirements
LOCKS := $(REQ)/build.txt $(REQ)/main.txt $(REQ)/dev.txt

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# A package that no lock file names any more (dropped from pyproject.toml, then `make lock`)
# is uninstalled, so the venv never passes with something a fresh machine would not have.
define PRUNE_UNLOCKED
	@locked=$$(sed -n 's/^\([A-Za-z0-9._-]*\)==.*/\1/p' $(LOCKS) | tr 'A-Z_.' 'a-z--' | sort -u); \
	installed=$$($(BIN)/pip freeze --all --exclude-editable \
	  | sed -n 's/^\([A-Za-z0-9._-]*\)==.*/\1/p' | tr 'A-Z_.' 'a-z--' | sort -u); \
	unlocked=$$(comm -13 <(echo "$$locked") <(echo "$$installed")); \
	if [ -n "$$unlocked" ]; then \
	  echo "Uninstalling what no lock file names:" $$unlocked; \
	  $(BIN)/pip uninstall --quiet --yes $$unlocked; \
	fi
endef

$(VENV)/.installed: $(REQ)/build.txt $(REQ)/main.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r $(REQ)/build.txt
	$(BIN)/pip install --quiet --require-hashes -r $(REQ)/main.txt
	$(PRUNE_UNLOCKED)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $@

$(VENV)/.installed-dev: $(REQ)/dev.txt $(VENV)/.installed
	@$(MAKE) --no-print-directory lock-consistent
	$(BIN)/pip install --quiet --require-hashes -r $(REQ)/dev.txt
	$(PRUNE_UNLOCKED)
	$(BIN)/pip check
	touch $@

deps: $(VENV)/.installed
dev-deps: $(VENV)/.installed-dev

# The lock files agree: dev.txt pins every package of main.txt, and each package that it
# shares with build.txt or main.txt at the same version (a hand edit or a bot's update of one
# file alone fails here; `make lock` brings them back in line).
lock-consistent:
	@pins() { sed -n 's/^\([A-Za-z0-9._-]*\)==\([^ ]*\).*/\1 \2/p' "$$@" | sort -u; }; \
	missing=$$(comm -23 <(pins $(REQ)/main.txt | cut -d' ' -f1) <(pins $(REQ)/dev.txt | cut -d' ' -f1)); \
	differ=$$(join <(pins $(REQ)/build.txt $(REQ)/main.txt) <(pins $(REQ)/dev.txt) | awk '$$2 != $$3'); \
	if [ -n "$$missing$$differ" ]; then \
	  echo "The lock files disagree; run 'make lock'."; \
	  [ -z "$$missing" ] || echo "Not in $(REQ)/dev.txt:" $$missing; \
	  [ -z "$$differ" ] || echo "Pinned differently (package, build/main, dev):" $$differ; \
	  exit 1; \
	fi

# `make lock` re-resolves the lock files after a change to pyproject.toml's dependencies
# (adding, dropping, moving a range), keeping every pin that still fits; `make lock-upgrade`
# moves every package to the newest release its range allows, and
# `make lock UPGRADE="flask celery"` moves those only. pip-tools runs from a venv of its own
# (.venv-lock), so .venv holds only what the lock names. The lock is resolved for CPython
# 3.11 on Linux, as every machine of the project runs; hashes cover all of each pinned
# release's files.
PIP_TOOLS_VERSION := 7.7.0
LOCK_VENV := .venv-lock
PIP_COMPILE = $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)
# --upgrade-package for each package of UPGRADE that the lock file $(1) pins (pip-compile
# would add a package it is given that the file does not need).
upgrade-in = $(foreach p,$(UPGRADE),$(if $(shell grep -i -s '^$(p)==' $(1)),--upgrade-package $(p)))

$(LOCK_VENV)/.pip-tools-$(PIP_TOOLS_VERSION):
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet pip==26.3 pip-tools==$(PIP_TOOLS_VERSION)
	touch $@

lock: $(LOCK_VENV)/.pip-tools-$(PIP_TOOLS_VERSION)
	$(PIP_COMPILE) $(call upgrade-in,$(REQ)/build.txt) --output-file $(REQ)/build.txt $(REQ)/build.in
	$(PIP_COMPILE) $(call upgrade-in,$(REQ)/main.txt) --constraint $(REQ)/build.txt \
	  --output-file $(REQ)/main.txt pyproject.toml
	$(PIP_COMPILE) $(call upgrade-in,$(REQ)/dev.txt) --extra test --extra e2e \
	  --constraint $(REQ)/build.txt --constraint $(REQ)/main.txt \
	  --output-file $(REQ)/dev.txt pyproject.toml
	@$(MAKE) --no-print-directory lock-consistent

lock-upgrade:
	@$(MAKE) --no-print-directory lock LOCK_ARGS=--upgrade

system-deps:
	@missing=$$(for p in $(WEASYPRINT_DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian packages for WeasyPrint: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "WeasyPrint needs these Debian packages: $$missing"; \
	    echo "Install them with: sudo apt-get install $$missing"; \
	    echo "(PDF decision documents will not render until they are installed.)"; \
	  fi; \
	fi

# Only `make test` needs a browser; `make run` does not.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BROWSER_DEBS); \
	  else \
	    echo "The browser tests need Debian's chromium (/usr/bin/chromium)."; \
	    echo "Install it with: sudo apt-get install $(BROWSER_DEBS)"; \
	    echo "(Until then they are skipped, and the test summary says so.)"; \
	  fi; \
	fi

translations: deps
	@$(BIN)/pybabel compile -d arbiter/translations -D messages

I18N_SOURCES := accounts arbiter orders disputes claims settlements appeals incidents integrations dashboards signals templates
messages: deps
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
	  --width 100 --project Arbiter -o arbiter/translations/messages.pot $(I18N_SOURCES)
	$(BIN)/pybabel update --no-fuzzy-matching --width 100 -i arbiter/translations/messages.pot \
	  -d arbiter/translations -D messages

migrate: deps translations
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask seed
	$(BIN)/flask audit keygen   # the audit log's checkpoint key, once (instance/audit-signing.key)

run: system-deps seed
	$(BIN)/flask serve --host 127.0.0.1 --port 5000

# Production-style background processes: Celery with Redis at ARBITER_REDIS_URL.
worker: deps translations
	$(BIN)/celery -A arbiter.worker worker --loglevel=INFO

beat: deps
	$(BIN)/celery -A arbiter.worker beat --loglevel=INFO --schedule instance/celerybeat-schedule

lint: dev-deps
	$(BIN)/ruff check .

# bandit: no high-severity finding (a justified exception is an inline `# nosec BXXX: reason`).
# pip-audit: no known vulnerability in the installed environment; exceptions with their
# reasons in .pip-audit-ignore. This machine reaches only a package mirror, not pip-audit's
# vulnerability service, so packages it cannot look up are counted and announced in a
# loud banner instead of failing every run; a vulnerability it does find fails the run.
PIP_AUDIT_IGNORES := $(addprefix --ignore-vuln ,$(shell grep -v '^\s*\(#\|$$\)' .pip-audit-ignore))
security-audit: dev-deps
	$(BIN)/bandit -q -r accounts arbiter claims dashboards disputes incidents integrations orders signals -lll
	@# A known vulnerability fails the run. Packages pip-audit cannot look up (its service
	@# is out of reach from a mirror-only machine) are reported loudly, not silently passed.
	@$(BIN)/pip-audit --skip-editable --progress-spinner off $(PIP_AUDIT_IGNORES) \
	  > .pip-audit.log 2>&1; status=$$?; cat .pip-audit.log; \
	if [ $$status -ne 0 ]; then echo "pip-audit: known vulnerabilities (see above)"; exit 1; fi; \
	if grep -q "could not be audited" .pip-audit.log; then \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	  echo "pip-audit could not reach its vulnerability service (pypi.org / osv.dev):"; \
	  echo "$$(grep -c 'could not be audited' .pip-audit.log) packages were NOT audited."; \
	  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"; \
	fi

# RACE_REPEAT=N (CI sets 20) then runs the race and deadline tests N times in a row: a race
# or a boundary that passes by luck fails there. `make test-races` runs that pass alone.
RACE_REPEAT ?=
test: system-deps browser-deps dev-deps translations lint security-audit
	$(BIN)/pytest $(PYTEST_ARGS)
	@if [ -n "$(RACE_REPEAT)" ]; then $(MAKE) --no-print-directory test-races; fi

test-races: dev-deps translations
	$(BIN)/pytest -m "race or deadline" --count $(or $(RACE_REPEAT),20) -q -p no:cacheprovider

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .ruff_cache

# Benchmarks (not part of `make test`); PostgreSQL at BENCH_DATABASE_URL (a server where
# they may CREATE DATABASE; default postgresql://postgres@127.0.0.1:5432/postgres).
bench-sweep: deps
	$(BIN)/python -m bench.sweep

# The impact replay of a policy version against its floor, the same read of the claims;
# BENCH_REPLAY_ARGS, e.g. "--claims 10000 --repeat 1" for a quick run.
bench-replay: deps
	$(BIN)/python -m bench.replay $(BENCH_REPLAY_ARGS)

# The audit log: 16 writers on distinct cases before/after the per-case chains, and the
# sequencer on 1,000,000 entries; BENCH_AUDIT_ARGS, e.g. "--entries 100000".
bench-audit: deps
	$(BIN)/python -m bench.audit_log $(BENCH_AUDIT_ARGS)

# BENCH_MIGRATE_ARGS, e.g. "--engines postgresql --size 100000" for a quick run.
bench-migrate: deps
	$(BIN)/python -m bench.migrate $(BENCH_MIGRATE_ARGS)

bench-pdf: deps translations
	$(BIN)/python -m bench.pdf

# The page benchmarks load the app with wrk (Debian's package), installed here when root.
bench-deps:
	@if ! command -v wrk >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing wrk for the page benchmarks"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else \
	    echo "The page benchmarks need wrk: sudo apt-get install wrk"; exit 1; \
	  fi; \
	fi

# BENCH_PAGES_ARGS, e.g. "--duration 5 --discussions 100000" for a quick run.
bench-pages: deps translations bench-deps
	$(BIN)/python -m bench.pages $(BENCH_PAGES_ARGS)

# Every benchmark runs even when an earlier one misses its target; the status says if any did.
bench:
	@status=0; for target in bench-pdf bench-sweep bench-pages bench-replay bench-audit; do \
	  $(MAKE) --no-print-directory $$target || status=1; \
	done; exit $$status
