# Two entry points, both self-contained on a fresh machine (they create .venv):
#   make conformance   run the conformance suites against the built-in emulators -> reports/
#   make test          run the harness's own self-tests
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: conformance test bench fuzz allure clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

conformance: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# two xdist workers, a test module on one worker (its batched suite runs are run once); the
# self-tests' own suite runs start at collection (tests/suite_run.py). PYTEST_ARGS=-n0: serial
test: $(STAMP)
	$(BIN)/pytest -c tests/pytest.ini tests -n 2 --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench

# long fuzz campaign (100,000 engine inputs, 10,000 emulator inputs) -> bench/results/fuzz.json
fuzz: $(STAMP)
	$(BIN)/python -m bench.fuzz $(FUZZ_ARGS)

# Allure 3 (npm package allure) renders allure-results/ as one file: reports/allure/index.html
ALLURE = .allure/node_modules/.bin/allure
$(ALLURE):
	@command -v npm >/dev/null || { echo "make allure: npm not found (Allure 3 is an npm package)"; exit 2; }
	npm install --prefix .allure --no-fund --no-audit allure@3

allure: $(STAMP) $(ALLURE)
	$(BIN)/atconform allure

clean:
	rm -rf $(VENV) reports allure-results .pytest_cache .allure
