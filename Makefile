# The two set-up commands of the README: `make up` and `make test`.
# Both create the virtual environment on first use, so they work from a clean clone.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint bench install clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)  ## the whole system locally, with demo data
	$(BIN)/reporting up

test: $(STAMP)  ## the whole test suite (starts its own PostgreSQL and broker)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/reporting bench --scale full

clean:
	rm -rf $(VENV) .local
