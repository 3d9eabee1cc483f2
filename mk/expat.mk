# ---- the tap's fuzzing harness on another Python ----------------------------
# CPython 3.13 bundles expat 2.6, whose parser holds input back until more
# arrives (3.11 and 3.12 bundle 2.5): make fuzz-tap-py3.13 runs the tap's
# harness on it, in that Python's virtualenv (mk/pythons.mk finds the
# interpreter) and a fuzzing build dir of its own.
.PHONY: fuzz-tap-py%
fuzz-tap-py%: fuzz-deps
	@$(find_python); \
	sub="$(MAKE) --no-print-directory PYTHON=$$python FUZZ_DIR=$(FUZZ_DIR)-py$*"; \
	$$sub fuzz-tap-build && $$sub fuzz-run-tap

# The tap harness's build alone: the extension with libFuzzer's coverage and
# atheris, for $(PYTHON).
.PHONY: fuzz-tap-build
fuzz-tap-build: $(VENV)/.fuzz-installed $(FUZZ_DIR)/lib/.built
