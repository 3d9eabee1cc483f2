# ---- make test-slixmpp-matrix, make test-slixmpp-own-suite ------------------
# make test-slixmpp-matrix: the compat suite on the newest patch of every
# slixmpp minor release from 1.8 on (and on 1.8.3, the oldest supported),
# one line per version at the end; fails if any version fails.
# The compat suite is the tests that run over slixmpp's plugin and ours
# (test_compat_*.py) plus test_fast_path.py, whose counters fail if the C
# fast path has switched itself off on that version.
SLIXMPP_MATRIX_VERSIONS ?= 1.8.3 1.8.6 1.9.1 1.10.0 1.11.0 1.12.0 1.13.2 \
  1.14.1 1.15.0 1.16.0 1.17.0
SLIXMPP_COMPAT_TESTS ?= $(wildcard tests/test_compat_*.py) tests/test_fast_path.py
SLIXMPP_VENVS ?= build/slixmpp-venvs
SLIXMPP_MATRIX_LOGS ?= build/slixmpp-matrix

# One virtualenv per slixmpp version ($(1)), kept while $(VENV) is. Made
# without pip by $(VENV)'s interpreter; a .pth file puts $(VENV)'s
# site-packages (pytest, uvloop, slixmpp's usual dependencies) after the
# venv's own, so that only slixmpp==$(1) (even if $(VENV) has the same),
# and whatever it needs that $(VENV) lacks, is installed into it (from
# pip's shared wheel cache).
define slixmpp_venv
$(SLIXMPP_VENVS)/$(1)/.installed: $(VENV)/.deps-installed
	rm -rf $(SLIXMPP_VENVS)/$(1)
	$(VENV)/bin/python -m venv --without-pip $(SLIXMPP_VENVS)/$(1)
	$(VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))' \
	  >$$$$($(SLIXMPP_VENVS)/$(1)/bin/python -c \
	    'import sysconfig; print(sysconfig.get_path("purelib"))')/base-venv.pth
	$(VENV)/bin/pip --python $(SLIXMPP_VENVS)/$(1)/bin/python install -q \
	  --no-deps --ignore-installed slixmpp==$(1)
	$(VENV)/bin/pip --python $(SLIXMPP_VENVS)/$(1)/bin/python install -q \
	  slixmpp==$(1)
	$(SLIXMPP_VENVS)/$(1)/bin/python -c 'import slixmpp, sys; \
	  sys.exit(slixmpp.__version__ != "$(1)")'
	touch $$@
endef
$(foreach version,$(SLIXMPP_MATRIX_VERSIONS),\
  $(eval $(call slixmpp_venv,$(version))))

.PHONY: slixmpp-venvs test-slixmpp-matrix test-slixmpp-own-suite
slixmpp-venvs: $(SLIXMPP_MATRIX_VERSIONS:%=$(SLIXMPP_VENVS)/%/.installed)

# Every version runs, whatever the one before did; pytest's last line
# (the counts) of each is the summary.
test-slixmpp-matrix: build slixmpp-venvs
	@mkdir -p $(SLIXMPP_MATRIX_LOGS); status=0; \
	for version in $(SLIXMPP_MATRIX_VERSIONS); do \
	  echo "== slixmpp $$version"; \
	  $(SLIXMPP_VENVS)/$$version/bin/python -m pytest -q -p no:cacheprovider \
	    $(SLIXMPP_COMPAT_TESTS) $(PYTEST_ARGS) \
	    >$(SLIXMPP_MATRIX_LOGS)/$$version.log 2>&1 || status=1; \
	  tail -n 1 $(SLIXMPP_MATRIX_LOGS)/$$version.log; \
	done; \
	echo "== summary (logs in $(SLIXMPP_MATRIX_LOGS)/)"; \
	for version in $(SLIXMPP_MATRIX_VERSIONS); do \
	  printf 'slixmpp %-7s %s\n' $$version \
	    "$$(tail -n 1 $(SLIXMPP_MATRIX_LOGS)/$$version.log | tr -d =)"; \
	done; \
	exit $$status

# make test-slixmpp-own-suite: slixmpp's own unit tests (its sdist's tests/,
# as its run_tests.py collects them) on $(SLIXMPP_OWN_SUITE_VERSIONS), four
# ways (tests/slixmpp_suite/run.py): as is; with slixmpp_ping_c imported
# first ('ours'); with SlixTest registering the plugins before the stream
# opens ('early'); both ('ours-early': the tap reads the whole stream).
# Prints each way's counts and every test whose outcome with the plugin
# differs from its outcome without it, registered the same way, and fails
# if any does. The sdists are downloaded once into
# $(SLIXMPP_SUITE_DIR)/sdists; the tests run on the matrix's virtualenvs,
# with the optional packages the tests import.
SLIXMPP_OWN_SUITE_VERSIONS ?= 1.8.3 1.17.0
SLIXMPP_OWN_SUITE_PACKAGES ?= aiohttp emoji cryptography
SLIXMPP_SUITE_DIR ?= build/slixmpp-suite
SLIXMPP_SUITE_MODES := as-is ours early ours-early

$(SLIXMPP_VENVS)/%/.own-suite-installed: $(SLIXMPP_VENVS)/%/.installed
	$(VENV)/bin/pip --python $(SLIXMPP_VENVS)/$*/bin/python install -q \
	  $(SLIXMPP_OWN_SUITE_PACKAGES)
	touch $@

$(SLIXMPP_SUITE_DIR)/%/.unpacked: | $(VENV)/.deps-installed
	$(VENV)/bin/pip download -q --no-binary :all: --no-deps \
	  -d $(SLIXMPP_SUITE_DIR)/sdists slixmpp==$*
	rm -rf $(@D) && mkdir -p $(@D)
	tar -xzf $(SLIXMPP_SUITE_DIR)/sdists/slixmpp-$*.tar.gz -C $(@D) \
	  --strip-components=1
	touch $@

test-slixmpp-own-suite: build \
    $(SLIXMPP_OWN_SUITE_VERSIONS:%=$(SLIXMPP_VENVS)/%/.own-suite-installed) \
    $(SLIXMPP_OWN_SUITE_VERSIONS:%=$(SLIXMPP_SUITE_DIR)/%/.unpacked)
	@status=0; \
	for version in $(SLIXMPP_OWN_SUITE_VERSIONS); do \
	  suite=$(SLIXMPP_SUITE_DIR)/$$version; \
	  for mode in $(SLIXMPP_SUITE_MODES); do \
	    $(SLIXMPP_VENVS)/$$version/bin/python tests/slixmpp_suite/run.py \
	      $$mode $$suite $$suite/$$mode.json >$$suite/$$mode.log 2>&1 \
	      || { status=1; tail -n 20 $$suite/$$mode.log; }; \
	  done; \
	  $(VENV)/bin/python tests/slixmpp_suite/compare.py \
	    $(SLIXMPP_SUITE_MODES:%=$$suite/%.json) || status=1; \
	done; \
	exit $$status
# ---- end of make test-slixmpp-matrix, make test-slixmpp-own-suite ----------
