# ---- the Python matrix --------------------------------------------------
# make test-py3.12 runs the whole suite on Python 3.12 (pyenv's, else
# python3.12 on PATH) in its own virtualenvs (.venv-3.12); make
# test-pythons on every version we support.  make check-c-api compiles
# every C file, the fuzzing harnesses too, against each version's headers
# with deprecation warnings as errors.
PYTHON_VERSIONS ?= 3.11 3.12 3.13
C_API_CFLAGS := -std=c11 -Wall -Wextra -Werror -Werror=deprecated-declarations

.PHONY: test-pythons check-c-api
test-pythons: $(PYTHON_VERSIONS:%=test-py%)
check-c-api: $(PYTHON_VERSIONS:%=check-c-api-py%)

# The interpreter of version $*, in $$python, or one line saying how to get
# it and a failure.
find_python = python="$$(pyenv prefix $* 2>/dev/null)/bin/python$*"; \
  [ -x "$$python" ] || python="$$(command -v python$*)"; \
  "$$python" -c 'import sys; assert sys.version_info[:2] == ($(subst .,$(comma),$*))' \
    2>/dev/null || { echo "python $* not found: install it with pyenv" \
    "(pyenv install $*)"; exit 1; }

test-py%:
	@$(find_python); \
	echo "== the suite on $$("$$python" --version)"; \
	$(MAKE) --no-print-directory test PYTHON="$$python"

check-c-api-py%: deps
	@$(find_python); \
	include="$$("$$python" -c 'import sysconfig; print(sysconfig.get_path("include"))')"; \
	echo "== csrc/ and tests/fuzz/ against $$include"; \
	for source in csrc/*.c tests/fuzz/*.c; do \
	  gcc $(C_API_CFLAGS) -fsyntax-only -Icsrc -Itests/fuzz -I"$$include" \
	    $$(pkg-config --cflags libxml-2.0) "$$source" || exit 1; \
	done
