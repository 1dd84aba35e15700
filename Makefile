# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# The virtual environment lives outside the clone so a second clone or run never reinstalls torch.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= $(HOME)/.cache/protopool-study/venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
# `make demo SIMULATE=40`: a 60-question study taken by 40 simulated participants over HTTP,
# then exported and reported (the report's path on the line that starts with `report`).
SIMULATE ?=
DEMO_ARGS := $(if $(SIMULATE),--simulate $(SIMULATE))
# Every runtime, development and build dependency at an exact version with its hashes, torch
# 2.14.1 and torchvision 0.29.1 included; `make lock` regenerates it from pyproject.toml.
LOCK := requirements/lock.txt
# The lock is only reproducible with the installer and resolver that wrote it.
PIP_VERSION := 26.3
PIP_TOOLS_VERSION := 7.6.2
# pip-compile gets an environment of its own so that the project's holds exactly the lock.
LOCK_VENV ?= $(VENV)-pip-tools
# e.g. LOCK_ARGS=--upgrade, or LOCK_ARGS='--upgrade-package ruff'; by default pins stay put.
LOCK_ARGS ?=

require_python_3_11 = if ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; \
  then echo "error: Python 3.11 is required (found $$($(PYTHON) --version)); set PYTHON=..." >&2; \
  exit 1; fi

.PHONY: venv lock demo demo-check test lint bench clean-demo

# Keyed on the lock, not on pyproject.toml: the lock is what gets installed. The project itself
# goes in last, without dependencies and without build isolation, so nothing unlocked is fetched.
venv:
	@set -e; \
	$(require_python_3_11); \
	key="$$(sha1sum $(LOCK) | cut -c1-16) pip-$(PIP_VERSION) $(CURDIR)"; \
	if [ ! -x "$(PY)" ]; then \
	  echo "==> creating the virtual environment in $(VENV)"; \
	  $(PYTHON) -m venv "$(VENV)"; \
	fi; \
	if [ "$$(cat "$(VENV)/.install-key" 2>/dev/null)" != "$$key" ]; then \
	  echo "==> installing $(LOCK) (first time: several minutes for torch)"; \
	  $(PY) -m pip install --quiet "pip==$(PIP_VERSION)"; \
	  $(PY) -m pip install --quiet --require-hashes -r $(LOCK); \
	  $(PY) -m pip install --quiet --no-deps --no-build-isolation -e .; \
	  echo "$$key" > "$(VENV)/.install-key"; \
	fi

# Regenerates the lock from pyproject.toml, keeping every pin that still satisfies it. Paths,
# indexes and link locations stay out of the lock, so it reads the same on any machine.
lock:
	@set -e; \
	$(require_python_3_11); \
	if [ ! -x "$(LOCK_VENV)/bin/python" ]; then $(PYTHON) -m venv "$(LOCK_VENV)"; fi; \
	"$(LOCK_VENV)/bin/python" -m pip install --quiet "pip==$(PIP_VERSION)" \
	  "pip-tools==$(PIP_TOOLS_VERSION)"; \
	echo "==> resolving pyproject.toml into $(LOCK) (a few minutes)"; \
	CUSTOM_COMPILE_COMMAND="make lock" "$(LOCK_VENV)/bin/pip-compile" --quiet \
	  --all-extras --build-deps-for editable --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --newline lf \
	  --output-file $(LOCK) $(LOCK_ARGS) pyproject.toml

demo: venv
	DEBUG=1 $(PY) manage.py demo --port $(PORT) $(DEMO_ARGS)

# The same as `make demo`, but stops once every part has answered.
demo-check: venv
	DEBUG=1 $(PY) manage.py demo --port $(PORT) --check $(DEMO_ARGS)

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# House rules: lint, formatting and strict types on the four packages (CI runs this first).
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Every benchmark prints its figures; none of them is a test. `make bench` takes about 80 minutes
# (bench_survey.py needs a PostgreSQL server: BENCH_POSTGRES, default 127.0.0.1:5432).
bench: venv
	$(PY) bench/bench_synth.py
	$(PY) bench/bench_engine.py all
	$(PY) bench/bench_engine.py quality
	$(PY) bench/bench_tree.py all
	$(PY) bench/bench_analysis.py
	$(PY) bench/bench_calibration.py
	$(PY) bench/bench_survey.py

# SQLite runs in WAL mode: its log files go with the database, or a stale log meets a new file.
clean-demo:
	rm -rf var/demo var/db.sqlite3 var/db.sqlite3-wal var/db.sqlite3-shm var/broker var/media
