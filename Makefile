# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# The virtual environment lives outside the clone so a second clone or run never reinstalls torch.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= $(HOME)/.cache/protopool-study/venv
PY := $(VENV)/bin/python
PORT ?= 8000
PYTEST_ARGS ?=
# The torch pair that installs from local wheels; a plain `torch` would download several GB.
TORCH_PINS := torch==2.14.1 torchvision==0.29.1

.PHONY: venv demo demo-check test lint bench clean-demo

venv:
	@set -e; \
	if ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
	  echo "error: Python 3.11 is required (found $$($(PYTHON) --version)); set PYTHON=..." >&2; \
	  exit 1; fi; \
	key="$$(cat pyproject.toml | sha1sum | cut -c1-16) $(CURDIR)"; \
	if [ ! -x "$(PY)" ]; then \
	  echo "==> creating the virtual environment in $(VENV)"; \
	  $(PYTHON) -m venv "$(VENV)"; \
	  $(PY) -m pip install --quiet --upgrade pip; \
	fi; \
	if [ "$$(cat "$(VENV)/.install-key" 2>/dev/null)" != "$$key" ]; then \
	  echo "==> installing dependencies (first time: several minutes for torch)"; \
	  $(PY) -m pip install --quiet $(TORCH_PINS); \
	  $(PY) -m pip install --quiet -e '.[dev]'; \
	  echo "$$key" > "$(VENV)/.install-key"; \
	fi

demo: venv
	DEBUG=1 $(PY) manage.py demo --port $(PORT)

# The same as `make demo`, but stops once every part has answered.
demo-check: venv
	DEBUG=1 $(PY) manage.py demo --port $(PORT) --check

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# House rules: lint, formatting and strict types on the four packages (CI runs this first).
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# Every benchmark prints its figures; none of them is a test. `make bench` takes about 45 minutes
# (bench_survey.py needs a PostgreSQL server: BENCH_POSTGRES, default 127.0.0.1:5432).
bench: venv
	$(PY) bench/bench_synth.py
	$(PY) bench/bench_engine.py all
	$(PY) bench/bench_engine.py quality
	$(PY) bench/bench_tree.py all
	$(PY) bench/bench_analysis.py
	$(PY) bench/bench_survey.py

clean-demo:
	rm -rf var/demo var/db.sqlite3 var/broker var/media
