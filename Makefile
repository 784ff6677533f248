# The README's two commands: `make demo` and `make test`. Both install from this repo's files.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup demo test lint typecheck bench bench-push
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml emulator/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]' --editable ./emulator
	touch $@

demo: setup
	$(BIN)/sfsync demo

test: setup typecheck
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: setup typecheck
	$(BIN)/ruff check src emulator tests bench
	$(BIN)/lint-imports

# What it checks, and how strictly: [tool.mypy] in pyproject.toml.
typecheck: setup
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/import.py

bench-push: setup
	$(BIN)/python bench/push.py
