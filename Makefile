# The newcomer's path: `make serve` (set up + start the simulator with its demo world), `make test`.
#   make serve PORT=8181 DATA_DIR=/tmp/sim2     another port, another world
#   make test-served                            the installed wheel, every README example and the -n 4 world run, served
PYTHON ?= python3
PORT   ?= 8080
DATA_DIR ?=
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: serve test test-served lint setup clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[sim,dev,load]'
	$(BIN)/python -m compileall -q client simulator  # bytecode even under PYTHONDONTWRITEBYTECODE (cold start)
	touch $(STAMP)

setup: $(STAMP)

serve: $(STAMP)
	$(BIN)/egov-sim serve --port $(PORT) $(if $(DATA_DIR),--data-dir $(DATA_DIR))

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

test-served: $(STAMP)
	EGOV_SERVED_TESTS=1 $(BIN)/pytest -q -p no:cacheprovider tests/test_installed.py tests/test_readme.py \
		"tests/test_worlds.py::test_the_feature_suite_runs_with_four_workers_in_worlds_of_one_served_simulator" \
		tests/test_worlds_multiproc.py \
		"tests/test_journal_store.py::test_served_with_two_workers_one_journal_holds_every_request"

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
