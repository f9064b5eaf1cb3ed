# Two commands do everything: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB := data/papers.db
DUMPS := $(wildcard data/*.txt) $(wildcard data/dumps.yml)
HOST ?= 127.0.0.1
PORT ?= 8001
# Datasette settings live in settings.json (read by the tests too), passed here as --setting flags.
SETTINGS := $(shell $(PYTHON) -c 'import json; print(" ".join(f"--setting {k} {str(v).lower()}" for k, v in json.load(open("settings.json")).items()))')
SITE := --metadata metadata.yml --plugins-dir plugins --template-dir templates --static static:static $(SETTINGS)

.PHONY: serve build rebuild test clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Rebuilt when a dump (or the manifest) is newer than the database.
$(DB): $(BIN)/.installed $(DUMPS)
	$(BIN)/papers-db build --db $(DB)
	touch $(DB)

build: $(DB)

rebuild: $(BIN)/.installed
	$(BIN)/papers-db build --db $(DB) --rebuild

# Read-only and immutable (-i): Datasette may cache counts and offer /papers.db for download.
serve: $(DB)
	$(BIN)/datasette serve -i $(DB) $(SITE) --host $(HOST) --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) $(DB)
