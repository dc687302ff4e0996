# Two commands do all set-up: `make reproduce` (the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make reproduce` checks the committed study (profile cpu, 3 to 5 seeds a row: spec.NOTEBOOKS): it re-executes every
# notebook from the run records (nothing trains that is recorded), redraws every figure and table, then retrains a
# sample of the recorded runs and compares each with its record (quarbert_lib verify, VERIFY_MINUTES of recorded
# training). PROFILE=quick runs the one-hour smaller study instead (reports under reports/quick/, not comparable to
# the study's numbers). Every other target defaults to the committed study, whose saved results ship with the repo.
PROFILE ?=
RUN_PROFILE := $(or $(PROFILE),cpu)
STUDY_PROFILE := $(or $(PROFILE),cpu)
VERIFY_MINUTES ?= 3.5
ONLY ?=
# Runs to train at once (core.workers): empty is QUARBERT_WORKERS, else one per core (about even with one at a time on
# a 2-core CPU, docs/performance.md; it pays with more cores); 1 trains one run at a time.
WORKERS ?=
PYTEST_ARGS ?=

.PHONY: venv reproduce figures test bench chromium browser-check clean-runs lab

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# Execute notebooks/NN_*.py through papermill (finished or recorded runs are not trained again), refresh README,
# and for a recorded profile retrain a sample of its runs against their records.
reproduce: venv
	$(BIN)/python -m quarbert_lib reproduce --profile $(RUN_PROFILE) $(if $(ONLY),--only $(ONLY)) $(if $(WORKERS),--workers $(WORKERS))
	$(BIN)/python -m quarbert_lib figures --profile $(RUN_PROFILE)
	$(if $(filter cpu paper,$(RUN_PROFILE)),$(BIN)/python -m quarbert_lib verify --profile $(RUN_PROFILE) --budget-minutes $(VERIFY_MINUTES))

# JupyterLab from the venv, opened on notebooks/: a double-click opens NN_*.py as a notebook (jupytext), its kernel
# starts by itself, no .ipynb is written beside a source; a notebook run here writes under reports/local/ (ignored).
# LAB_ARGS passes JupyterLab options (e.g. LAB_ARGS="--no-browser --port 8889").
LAB_ARGS ?=
lab: venv
	$(BIN)/python -m quarbert_lib lab $(LAB_ARGS)

# Rebuild every figure, reports/results.md and the README table from saved results, without training.
figures: venv
	$(BIN)/python -m quarbert_lib figures --profile $(STUDY_PROFILE)

# Naive vs default training/inference throughput, FLOP floor, regularizer and LoRA step costs,
# quartet serving -> reports/tables/bench.csv and reports/benchmarks.md (about 10 minutes here).
bench: venv
	$(BIN)/python -m quarbert_lib bench --profile $(STUDY_PROFILE)

# A Chromium for the real-browser test, without root where possible (tools/chromium.py): one found
# (QUARBERT_CHROMIUM, the system's, Playwright's), else Debian's package where apt works, else Playwright's
# download. If none can be had, this prints one line and the real-browser test fails with it (never skips).
chromium: venv
	-$(BIN)/python -m tools.chromium

test: venv chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Notebook 10's browser in JupyterLab + Chromium over this profile's runs, checked against
# error_table; saves reports/figures/error_browser.png.
browser-check: venv chromium
	$(BIN)/python -m tools.browser_check --profile $(STUDY_PROFILE)

clean-runs:
	rm -rf runs
