# Two commands do all set-up: `make reproduce` (the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= cpu
ONLY ?=
PYTEST_ARGS ?=

.PHONY: venv reproduce figures test bench browser-check clean-runs

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# Execute notebooks/NN_*.py through papermill (finished runs are skipped), then refresh README.
reproduce: venv
	$(BIN)/python -m quarbert_lib.reproduce --profile $(PROFILE) $(if $(ONLY),--only $(ONLY))
	$(BIN)/python -m quarbert_lib.figures --profile $(PROFILE)

# Rebuild every figure, reports/results.md and the README table from saved results, without training.
figures: venv
	$(BIN)/python -m quarbert_lib.figures --profile $(PROFILE)

# Naive vs default training/inference throughput, FLOP floor, regularizer and LoRA step costs,
# quartet serving -> reports/tables/bench.csv and reports/benchmarks.md (about 10 minutes here).
bench: venv
	$(BIN)/python -m quarbert_lib.bench --profile $(PROFILE)

# Debian's Chromium for the real-browser test; Playwright's own browser download fails offline.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver \
	  || ($(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium chromium-driver)

test: venv $(CHROMIUM)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Notebook 10's browser in JupyterLab + Chromium over this profile's runs, checked against
# error_table; saves reports/figures/error_browser.png.
browser-check: venv $(CHROMIUM)
	$(BIN)/python -m quarbert_lib.browser_check --profile $(PROFILE)

clean-runs:
	rm -rf runs
