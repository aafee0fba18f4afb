# The course's commands. Each one sets up what it needs in ./.venv first, so on a fresh clone
# `make lab` or `make test` is all a newcomer types.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.llmlab-installed
# Keep in step with pyproject.toml. PyTorch's CPU-only wheels: a few hundred MB, where the
# default index gives Linux a CUDA build of several GB that a CPU course never uses.
TORCH     := torch>=2.4
CPU_INDEX := https://download.pytorch.org/whl/cpu
# JupyterLab refuses to run as root (a container, a cloud notebook VM) unless told it may.
LAB_FLAGS := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
PYTEST_ARGS ?=
# Test workers: two files at a time, each lesson's kernel on one thread ($LLMLAB_THREADS): a lesson
# that leaves its thread count to setup() would otherwise take every core while the other worker
# runs, and the two fight (lesson 05's ladder took 676 s under CI). The notebooks are built with
# setup()'s default (the CPU count), so every test run also checks that no printed number depends
# on the thread count. `TEST_JOBS=0` for one worker.
TEST_JOBS ?= 2
TEST_THREADS := LLMLAB_THREADS=$${LLMLAB_THREADS:-1}

.PHONY: setup torch lab test test-arithmetic notebooks check-notebooks lint benchmarks clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(MAKE) torch
	$(BIN)/python -m pip install -e ".[lab,test,site]"
	touch $(STAMP)

# A torch that satisfies the range stays. Otherwise: with an NVIDIA GPU, the default build;
# without one, the CPU build from PyTorch's index, or the default index if that one is unreachable.
torch:
	@if $(BIN)/python -c "import sys, torch; v = torch.__version__.split('+')[0].split('.'); \
	  sys.exit(tuple(map(int, v[:2])) < (2, 4))" 2>/dev/null; then \
	  echo "torch $$($(BIN)/python -c 'import torch; print(torch.__version__)') is installed: kept"; \
	elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install "$(TORCH)"; \
	elif $(BIN)/python -m pip install --index-url $(CPU_INDEX) --timeout 15 --retries 1 "$(TORCH)"; then \
	  true; \
	else \
	  echo "PyTorch's CPU index ($(CPU_INDEX)) cannot be reached: torch from the default index"; \
	  $(BIN)/python -m pip install "$(TORCH)"; \
	fi

# assets/lab-settings.json, as .venv's JupyterLab defaults (nothing outside the project changes):
# no news pop-up or update check (they cover the widgets on every load), and widget messages on the
# kernel's main shell, in the order they were sent (see assets/README.md). The browser tests'
# JupyterLab reads the same file.
LAB_SETTINGS := $(VENV)/share/jupyter/lab/settings
lab: setup  ## set up, then open the course in JupyterLab
	mkdir -p $(LAB_SETTINGS)
	cp assets/lab-settings.json $(LAB_SETTINGS)/overrides.json
	$(BIN)/jupyter lab $(LAB_FLAGS) --LabApp.news_url= \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate notebooks/00_start_here.ipynb

test: setup  ## set up, then run the unit tests and every notebook under nbval
	$(TEST_THREADS) $(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder \
	  $(PYTEST_ARGS)

# Every lesson under nbval once per arithmetic path a learner's machine may take: MKL's kernels
# for other CPUs, ATen's plain C++ kernels instead of its vector ones.
# Nothing nbval compares may change; one line per setting, and a failure names the settings.
ARITHMETIC ?= MKL_CBWR=COMPATIBLE MKL_CBWR=SSE4_2 MKL_CBWR=AVX2 MKL_CBWR=AVX512 \
              ATEN_CPU_CAPABILITY=default
test-arithmetic: setup  ## the notebooks under nbval, once per setting in ARITHMETIC
	@failed=""; for setting in $(ARITHMETIC); do \
	  env $(TEST_THREADS) $$setting $(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder \
	    notebooks $(PYTEST_ARGS) > .arithmetic.log 2>&1 || failed="$$failed $$setting"; \
	  echo "$$setting: $$(tail -n 1 .arithmetic.log)"; \
	  grep '^FAILED' .arithmetic.log || true; \
	done; rm -f .arithmetic.log; \
	if [ -n "$$failed" ]; then echo "failed under:$$failed"; exit 1; fi

notebooks: setup  ## re-execute the lesson sources into committed .ipynb files
	$(BIN)/python notebooks/build.py $(LESSONS)

# Every lesson (or LESSONS="03 06") run twice, with an empty and then a warm $LLMLAB_HOME; the wall
# seconds go into README.md's timing table, with the machine's name. About 25 minutes for all.
.PHONY: timings
timings: setup  ## time the lessons, cold and warm cache, into README.md's table
	$(BIN)/python notebooks/timings.py $(LESSONS)

check-notebooks: setup
	$(BIN)/python notebooks/build.py --check

# The executed course as a static site in _site/ (open _site/index.html): the committed notebooks
# rendered as they are, never re-run, no network; each widget shown as its picture in use.
.PHONY: site screenshots
site: setup  ## build the static site of the executed course into _site/
	$(BIN)/python notebooks/site/build.py --out _site

# The pictures of the widgets in use (README, site): the browser tests save them, then any
# picture over 150 KB is shrunk (also after a failed test: the pictures taken before it count).
screenshots: setup  ## refresh assets/screenshots/ by running the browser tests
	$(TEST_THREADS) LLMLAB_SCREENSHOTS=assets/screenshots CI=true $(BIN)/python -m pytest -q \
	  -p no:cacheprovider tests/ui $(PYTEST_ARGS); status=$$?; \
	$(BIN)/python notebooks/site/build.py --shrink assets/screenshots && exit $$status

lint: setup
	$(BIN)/ruff check llmlab tests benchmarks notebooks

benchmarks: setup
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
