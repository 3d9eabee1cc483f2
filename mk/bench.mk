# The old build against the new, side by side in one run (benchmarks/compare.py):
#   make bench-compare OLD=<commit> [BENCH_COMPARE_ARGS='--rounds 3 --no-e2e']
.PHONY: bench-compare
bench-compare: build
	@test -n "$(OLD)" || { echo 'make bench-compare: say OLD=<commit>' >&2; exit 2; }
	$(VENV)/bin/python -m benchmarks.compare $(OLD) $(BENCH_COMPARE_ARGS)
