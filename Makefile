# Two commands do all set-up: `make reproduce` (the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROFILE ?= cpu
ONLY ?=
PYTEST_ARGS ?=

.PHONY: venv reproduce figures test clean-runs

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

test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-runs:
	rm -rf runs
