# The two commands the README promises: `make run` (main job on bundled data) and `make test`.
# Both bootstrap .venv from scratch on a machine with Python 3.11+ and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench clean-warehouse install

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/payerbench run

test: $(STAMP)
	$(BIN)/python -m pytest

clean-warehouse:
	rm -rf warehouse/lake warehouse/payerbench.duckdb reports
