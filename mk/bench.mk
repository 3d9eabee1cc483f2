# The old build against the new, side by side in one run (benchmarks/compare.py):
#   make bench-compare OLD=<commit> [BENCH_COMPARE_ARGS='--rounds 3 --no-e2e']
.PHONY: bench-compare
bench-compare: build
	@test -n "$(OLD)" || { echo 'make bench-compare: say OLD=<commit>' >&2; exit 2; }
	$(VENV)/bin/python -m benchmarks.compare $(OLD) $(BENCH_COMPARE_ARGS)

# The C core's instructions under callgrind, an older build against this
# tree's (benchmarks/instructions.py): make bench-instructions OLD=<commit>
.PHONY: bench-instructions
bench-instructions: build
	@test -n "$(OLD)" || { echo 'make bench-instructions: say OLD=<commit>' >&2; exit 2; }
	$(call apt_install,valgrind)
	$(VENV)/bin/python -m benchmarks.instructions $(OLD) $(BENCH_INSTRUCTIONS_ARGS)
