# Two commands do everything: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DB := data/papers.db
HOST ?= 127.0.0.1
PORT ?= 8001

.PHONY: serve build rebuild test mutation bench-relevance bench soak clean FORCE

# pip compiles loader/_bm25.c too (the search's ranking at scale; see loader/bm25.py).
$(BIN)/.installed: pyproject.toml loader/_bm25.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Always asks the loader, which is quick when nothing changed: a file's date cannot tell that it is
# an empty, truncated or foreign file, or that a dump was replaced by an older one. The loader
# rebuilds a broken database from the dumps, and waits while another build runs.
$(DB): $(BIN)/.installed FORCE
	$(BIN)/papers-db build --db $(DB)

FORCE:

build: $(DB)

rebuild: $(BIN)/.installed
	$(BIN)/papers-db build --db $(DB) --rebuild

# Read-only and immutable: Datasette may cache counts and offers /papers.db for download.
# A rebuild (make build in another terminal) is picked up within a second, with no failed
# request and no page mixing two versions. The whole story is in loader/site.py.
serve: $(DB)
	$(BIN)/python -m loader.site $(DB) --host $(HOST) --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/pytest -q

# Mutation score of the parser, the search query builder, links, capture years and the plugins
# (docs/testing.md: the score, the accepted survivors and why). Its own venv: mutmut brings `rich`,
# which Datasette 0.65 misuses on a 404 (see pyproject.toml). Both cores, at nice 19.
MUTATION_VENV := .venv-mutation
$(MUTATION_VENV)/bin/.installed: pyproject.toml
	$(PYTHON) -m venv $(MUTATION_VENV)
	$(MUTATION_VENV)/bin/pip install --quiet --upgrade pip
	$(MUTATION_VENV)/bin/pip install --quiet -e '.[test,mutation]'
	touch $@

mutation: $(MUTATION_VENV)/bin/.installed
	rm -rf mutants
	nice -n 19 $(MUTATION_VENV)/bin/mutmut run --max-children 2
	$(MUTATION_VENV)/bin/mutmut results

# Relevance of `search` against plain FTS5, by query class; also rewrites the table in docs/search.md.
bench-relevance: $(BIN)/.installed
	$(BIN)/python -m bench.relevance.evaluate --write-docs

# Relevance with the real papers hidden among 100k and 1M synthetic ones (an honest crowd, see
# bench/relevance/crowd.py): ours over HTTP against tantivy, R@5, MRR and latency per query class.
.PHONY: bench-relevance-scale
bench-relevance-scale: $(BIN)/.installed
	$(BIN)/python -m bench.relevance.scale --papers 100000,1000000 --out docs/relevance-scale.md --benchmarks docs/benchmarks.md

# Scale and speed, 10k to 1M papers (see docs/benchmarks.md; about an hour on 2 cores), then search
# against tantivy at 100k and 1M (its own section of docs/benchmarks.md); `make test` runs smoke runs of both.
bench: $(BIN)/.installed
	$(BIN)/python -m bench.scale --sizes 10000,100000,1000000 --one-dump --out docs/benchmarks.md
	$(MAKE) bench-relevance-scale

# make serve's server under 20 busy connections for 30 s per target; appends to docs/benchmarks.md.
soak: $(DB)
	$(BIN)/python -m bench.soak --db $(DB) --out docs/benchmarks.md

clean:
	rm -rf $(VENV) $(MUTATION_VENV) mutants $(DB) $(DB).lock $(dir $(DB)).$(notdir $(DB)).standby
