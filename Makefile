# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test docs screenshots dist bench bench-peers peer-envs bench-mo bench-panda lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[sklearn,plot]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,bench]'
	touch $@ $(VENV)/.demo-installed $(VENV)/.docs-installed

$(VENV)/.docs-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[docs]' build
	touch $@

## demo: tune an MLP on the bundled digits data with four search strategies (trials kept in shoal.db)
demo: $(VENV)/.demo-installed
	$(BIN)/python examples/demo.py

## test: the whole suite, against in-memory, SQLite and a local PostgreSQL server, and the dashboard in chromium
test: $(VENV)/.dev-installed $(VENV)/.torch-installed
	@bash scripts/browser.sh || { [ -z "$${SHOAL_REQUIRE_BROWSER:-}" ] && \
		echo "make test: chromium could not be installed; the browser test is skipped" >&2; }
	@url=$$(bash scripts/postgres.sh | tail -n 1) || url=""; \
	if [ -z "$$url" ] && [ -n "$${SHOAL_REQUIRE_POSTGRES:-}" ]; then \
		echo "make test: PostgreSQL could not be started (see above)" >&2; exit 1; fi; \
	SHOAL_TEST_POSTGRES_URL="$$url" $(BIN)/python -m pytest

## docs: the documentation site (docs/, README, ARCHITECTURE, benchmark results, the API reference from
## the docstrings) into site/; --strict: a broken link, anchor or API reference fails (open site/index.html)
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

## screenshots: refresh the dashboard screenshots in docs/img/ from a fresh run (scripts/screenshots.py;
## needs Chromium: bash scripts/browser.sh)
screenshots: $(VENV)/.dev-installed
	PYTHONPATH=src $(BIN)/python scripts/screenshots.py docs/img

## dist: the sdist and the wheel into dist/ (tests/test_package.py installs one into a fresh environment)
dist: $(VENV)/.docs-installed
	$(BIN)/python -m build --outdir dist

## bench: overhead of optimize() against Optuna, side by side
bench: $(VENV)/.dev-installed
	$(BIN)/python benchmarks/overhead.py

$(VENV)/.torch-installed: | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	touch $@

## peer-envs: one virtual environment each for Ax, HEBO and SMAC3 under .tmp/peer-envs (never .venv:
## HEBO pins numpy 1.24), from the pins in benchmarks/peers/requirements/; an up-to-date env is kept
peer-envs: | $(BIN)/python
	$(BIN)/python benchmarks/peers/envs.py

## bench-peers: shoal's samplers against Optuna, Hyperopt, scikit-optimize, Ax, HEBO and SMAC3 on shared
## tasks and seeds (resumes from .tmp/bench-peers; delete it for a fresh run; peer runs committed under
## benchmarks/peers/results/ are reused, not rerun), then the overhead and the report. The scikit-learn
## tasks get seeds 5-9 too: their error rates move in steps of one validation example, so 5 seeds cannot
## tell a few points apart (knn_digits stays at 5: the model-based optimizers find its best of 150
## configurations on every seed, and a HEBO run there takes up to an hour). The parallel target (the GP
## with 4 trials outstanding against itself sequential) is judged on 20 seeds of those two and random search
PEER_SEEDS_10 = dt_breast,hgb_breast,lasso_diabetes,mlp-adam_digits,mlp-sgd_breast,rf_wine,ridge_diabetes,svc_digits
bench-peers: $(VENV)/.dev-installed $(VENV)/.torch-installed peer-envs
	$(BIN)/python benchmarks/peers/run.py --jobs 2 --out .tmp/bench-peers
	$(BIN)/python benchmarks/peers/run.py --jobs 2 --seeds 10 --tasks $(PEER_SEEDS_10) --out .tmp/bench-peers
	$(BIN)/python benchmarks/peers/run.py --jobs 2 --seeds 20 --optimizers shoal-random,shoal-gp,shoal-gp-par4 \
		--out .tmp/bench-parallel
	$(BIN)/python benchmarks/peers/overhead.py --out .tmp/bench-peers
	$(BIN)/python benchmarks/peers/report.py --out .tmp/bench-peers --parallel .tmp/bench-parallel \
		--figures benchmarks/peers/figures --results benchmarks/RESULTS.md --command "make bench-peers"

## bench-mo: several objectives and constraints, shoal's default against Optuna's NSGA-II, TPE and GP
## (5 seeds, 100 trials, hypervolume at 50 and 100; resumes from .tmp/bench-mo), then the report
bench-mo: $(VENV)/.dev-installed $(VENV)/.torch-installed
	$(BIN)/python benchmarks/multiobjective.py --jobs 2 --out .tmp/bench-mo
	$(BIN)/python benchmarks/multiobjective.py --report --out .tmp/bench-mo --results benchmarks/RESULTS.md \
		--command "make bench-mo"

## bench-panda: ReduceOnPlateau against fixed hyperparameters and PBT at equal epochs (3 tasks, 5 seeds;
## a few minutes on 2 cores); figures recorded in benchmarks/RESULTS.md
bench-panda: $(VENV)/.dev-installed
	nice $(BIN)/python benchmarks/panda.py --markdown

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests benchmarks examples

clean:
	-bash scripts/postgres.sh stop
	rm -rf $(VENV) .tmp site dist shoal.db shoal.db-wal shoal.db-shm
