# The course's commands. Each one sets up what it needs in ./.venv first, so on a fresh clone
# `make lab` or `make test` is all a newcomer types.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.llmlab-installed

.PHONY: setup lab test notebooks check-notebooks lint benchmarks clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[lab,test]"
	touch $(STAMP)

lab: setup  ## set up, then open the course in JupyterLab
	$(BIN)/jupyter lab notebooks/00_start_here.ipynb

test: setup  ## set up, then run the unit tests and every notebook under nbval
	$(BIN)/python -m pytest

notebooks: setup  ## re-execute the lesson sources into committed .ipynb files
	$(BIN)/python notebooks/build.py $(LESSONS)

check-notebooks: setup
	$(BIN)/python notebooks/build.py --check

lint: setup
	$(BIN)/ruff check llmlab tests benchmarks notebooks

benchmarks: setup
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
