# Heed: `make serve` to run it locally, `make test` to run every check CI runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PORT ?= 8000
WEB := examples/web
WEB_INSTALLED := $(WEB)/node_modules/.installed

# Node tooling for the schema lint and the typed client build (tools/codegen).
CODEGEN := tools/codegen
CODEGEN_INSTALLED := $(CODEGEN)/node_modules/.installed

.PHONY: serve test test-web lint format schema clean bench bench-quick profile graphiql-assets schema-lint typed-client

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(INSTALLED)

$(CODEGEN_INSTALLED): $(CODEGEN)/package.json $(CODEGEN)/package-lock.json
	cd $(CODEGEN) && npm ci --no-audit --no-fund
	touch $(CODEGEN_INSTALLED)

# The example app, its browser tests and the client tests (pinned by package-lock.json).
$(WEB_INSTALLED): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $(WEB_INSTALLED)

serve: $(INSTALLED)
	$(BIN)/heed serve --port $(PORT)

test: $(INSTALLED) $(WEB_INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/heed export-schema --check
	$(BIN)/heed schema-changes
	$(MAKE) schema-lint typed-client
	$(BIN)/heed content check content
	cd $(WEB) && npm test
	$(BIN)/pytest --db sqlite
	$(BIN)/pytest --db postgres

# Browser, cache, persisted-query and GraphQL-over-HTTP audit tests against a real Heed.
test-web: $(INSTALLED) $(WEB_INSTALLED)
	cd $(WEB) && npm test

# Refresh the GraphiQL files Heed serves from the versions pinned in tools/graphiql.
graphiql-assets:
	tools/graphiql/copy.sh

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
	rm -rf $(VENV) data .pytest_cache .ruff_cache $(WEB)/node_modules $(WEB)/dist \
		$(CODEGEN)/node_modules $(CODEGEN)/generated
