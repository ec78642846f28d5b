# The two commands the README promises: `make run` (main job on bundled data) and `make test`
# (lint first, then the tests; CI runs `make test`).
# Both bootstrap .venv from scratch on a machine with Python 3.11+ and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format bench clean-warehouse install

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/payerbench run

# One pytest worker per core (pytest-xdist); --dist loadfile keeps each test module on one worker, so a
# module's fixtures are built once, and each worker runs the session's bundled pipeline once.
# --no-loadscope-reorder keeps tests/conftest.py's order: modules with the most `slow` tests go out first.
test: lint
	$(BIN)/python -m pytest -n auto --dist loadfile --no-loadscope-reorder

# ruff's and sqlfluff's rules are in pyproject.toml. `make format` rewrites Python; `make lint` only checks.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint --processes 2 warehouse/sql

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Every benchmark once, at sizes that finish in minutes on a 2-core machine (each script prints
# throughput, peak memory and its ratio to a baseline measured in the same run; see README).
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_commands.py --repeat 3
	$(BIN)/python benchmarks/bench_policy_load.py
	$(BIN)/python benchmarks/bench_medicare_load.py
	$(BIN)/python benchmarks/bench_partb_utilization.py
	$(BIN)/python benchmarks/bench_tic.py --sizes 1024
	$(BIN)/python benchmarks/bench_tic_ingest.py --size-mb 1024 --repeat 3
	$(BIN)/python benchmarks/bench_tic_network.py --size-mb 1024 --repeat 3
	$(BIN)/python benchmarks/bench_hospital.py --gb 1 --repeat 1

clean-warehouse:
	rm -rf warehouse/lake warehouse/payerbench.duckdb reports
