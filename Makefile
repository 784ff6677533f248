# The README's two commands: `make demo` and `make test`. Both install from this repo's files.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup demo test lint bench
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml emulator/pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint constraints.txt --editable '.[dev]' --editable ./emulator
	touch $@

demo: setup
	$(BIN)/sfsync demo

test: setup
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src emulator tests bench
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python bench/import.py
