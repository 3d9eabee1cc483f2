# The C core's instructions under callgrind, an older build against this
# tree's (benchmarks/instructions.py): make bench-instructions OLD=<commit>
.PHONY: bench-instructions
bench-instructions: build
	@test -n "$(OLD)" || { echo 'make bench-instructions: say OLD=<commit>' >&2; exit 2; }
	$(call apt_install,valgrind)
	$(VENV)/bin/python -m benchmarks.instructions $(OLD) $(BENCH_INSTRUCTIONS_ARGS)
