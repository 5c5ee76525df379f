# Every target sets itself up on a fresh machine: a virtual environment in .venv and an install.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench run install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/tickerbell demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The tools that hold the layers: style and bugs (ruff), types (mypy, strict for bot/core and jobs),
# and the import contracts between the layers (import-linter; see ARCHITECTURE.md).
lint: $(STAMP)
	$(BIN)/ruff check bot jobs storage tests bench seeds
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

run: $(STAMP)
	$(BIN)/tickerbell run $(if $(CONFIG),--config $(CONFIG),)

clean:
	rm -rf $(VENV) var charts
