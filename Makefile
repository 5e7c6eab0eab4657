# Task runner. `make` (no target) runs lint, type check and the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
.DEFAULT_GOAL := check

.PHONY: help setup check lint format typecheck test test-fast bench samples run

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: ## install everything (apt packages, venv, torch CPU, project, models)
	bash scripts/setup.sh

check: lint typecheck test ## lint, type check and all tests (what CI runs)

lint: ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: ## apply ruff formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: ## mypy on the library
	$(VENV)/bin/mypy

test: ## all tests, real models included
	$(PY) -m pytest

test-fast: ## tests that load no model
	$(PY) -m pytest -m "not models"

bench: ## benchmarks (print figures; not part of the tests)
	$(PY) bench/transcription.py

samples: ## regenerate the sample calls with espeak-ng
	$(PY) samples/make_samples.py

run: ## the demo: transcribe a bundled sample call
	$(VENV)/bin/assistant demo
