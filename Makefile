# Two habits: `make check` (lint, format, types) and `make test`. `make demo` runs the main job.
# Works on a fresh machine with only Python 3.11, pip and make: uv is bootstrapped into .tools/.

PYTHON ?= python3.11
UV_BOOT := .tools/bin/uv
UV := $(or $(shell command -v uv 2>/dev/null),$(UV_BOOT))
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup demo test test-heavy browser postgres check fmt dagster-dev bench clean-store

$(UV_BOOT):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv>=0.9,<1"

# Bytecode compiled at install: processes then start without compiling every module from
# source (where PYTHONDONTWRITEBYTECODE is set, nothing else would ever write it), which cut
# `memgraph-ops status` from 1.5 s to 0.65 s here.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON) --compile-bytecode
	$(PY) -m compileall -q memgraph_ops pipelines > /dev/null
	touch $@

setup: $(VENV)/.synced

demo: setup
	$(PY) -m pipelines.demo

test: setup
	$(PY) -m pytest -m "not heavy"

test-heavy: setup browser postgres
	$(PY) -m pytest

# Debian's Chromium for the browser test of the Dagster UI (tests/pipelines/test_ui.py, heavy):
# Playwright drives it; nothing is downloaded at run time.
browser:
	@command -v chromium > /dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium \
		|| { $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium; }; }

# Debian's PostgreSQL server binaries, for the tests of Dagster on PostgreSQL (heavy): each test
# starts its own cluster in a temporary folder (tests/servers.py); no system service is used.
postgres:
	@ls /usr/lib/postgresql/*/bin/postgres > /dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends postgresql \
		|| { $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends postgresql; }; }

check: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/dg check defs

fmt: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

dagster-dev: setup
	$(PY) -c "from memgraph_ops import load_settings; from pipelines.instance import prepare_dagster_home; prepare_dagster_home(load_settings())"
	DAGSTER_HOME=$(CURDIR)/store/dagster VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/dg dev

bench: setup
	$(PY) -m benchmarks.run

clean-store:
	find store -mindepth 1 ! -name README.md ! -name .gitignore -exec rm -rf {} +
