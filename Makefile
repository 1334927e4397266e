# Heed: `make serve` to run it locally, `make test` to run every check CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

# Node tooling for the schema lint and the typed client build (tools/codegen).
CODEGEN := tools/codegen
CODEGEN_INSTALLED := $(CODEGEN)/node_modules/.installed

.PHONY: serve test lint format schema clean bench bench-quick profile schema-lint typed-client

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(INSTALLED)

$(CODEGEN_INSTALLED): $(CODEGEN)/package.json $(CODEGEN)/package-lock.json
	cd $(CODEGEN) && npm ci --no-audit --no-fund
	touch $(CODEGEN_INSTALLED)

serve: $(INSTALLED)
	$(BIN)/heed serve

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/heed export-schema --check
	$(MAKE) schema-lint typed-client
	$(BIN)/heed content check content
	$(BIN)/pytest --db sqlite
	$(BIN)/pytest --db postgres

lint: $(INSTALLED)
	$(BIN)/ruff check .

# schema.graphql follows Heed's conventions (tools/codegen/eslint.config.mjs).
schema-lint: $(CODEGEN_INSTALLED)
	$(CODEGEN)/node_modules/.bin/eslint --config $(CODEGEN)/eslint.config.mjs schema.graphql

# Types generated from schema.graphql and the example documents compile under tsc --strict,
# and none of Heed's own data is `any`.
typed-client: $(CODEGEN_INSTALLED)
	cd $(CODEGEN) && npm run --silent typed-client

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
	rm -rf $(VENV) data .pytest_cache .ruff_cache $(CODEGEN)/node_modules $(CODEGEN)/generated
