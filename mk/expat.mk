# ---- Python 3.13: expat 2.6 ("reparse deferral") ---------------------------
# CPython 3.13 bundles expat 2.6, whose parser holds input back until more
# arrives; 3.11 and 3.12 bundle 2.5.  make test-py3.13 runs the whole suite
# on it, make fuzz-tap-py3.13 the tap's harness, each in its own virtualenv
# ($(VENV_PY313)) beside the default one: the in-place builds of the two
# ABIs coexist.  PYTHON_PY313 is pyenv's 3.13.0 where there is one.
PYTHON_PY313 ?= $(shell pyenv prefix 3.13.0 2>/dev/null || echo /usr)/bin/python3.13
VENV_PY313 ?= .venv-py3.13
PY313_MAKE = $(MAKE) PYTHON=$(PYTHON_PY313) VENV=$(VENV_PY313)

.PHONY: test-py3.13 fuzz-tap-py3.13

test-py3.13:
	$(PY313_MAKE) test

fuzz-tap-py3.13: fuzz-deps
	$(PY313_MAKE) FUZZ_DIR=$(FUZZ_DIR)-py3.13 $(VENV_PY313)/.fuzz-installed \
	  $(FUZZ_DIR)-py3.13/lib/.built
	$(PY313_MAKE) FUZZ_DIR=$(FUZZ_DIR)-py3.13 fuzz-run-tap
