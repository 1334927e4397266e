# Heed: `make serve` to run it locally, `make test` to run every check CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: serve test lint format schema clean bench bench-quick profile

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(INSTALLED)

serve: $(INSTALLED)
	$(BIN)/heed serve

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/heed export-schema --check
	$(BIN)/heed content check content
	$(BIN)/pytest --db sqlite
	$(BIN)/pytest --db postgres

lint: $(INSTALLED)
	$(BIN)/ruff check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: $(INSTALLED)
	$(BIN)/heed export-schema

bench: $(INSTALLED)
	$(BIN)/python -m bench.run

bench-quick: $(INSTALLED)
	$(BIN)/python -m bench.run --quick

profile: $(INSTALLED)
	$(BIN)/python -m bench.profile home

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
