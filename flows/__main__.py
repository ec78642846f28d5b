"""`python -m flows ...` is the same as the `payerbench` console script."""

from flows.cli import main

raise SystemExit(main(exec_build=True))
