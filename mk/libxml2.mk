# ---- make test-libxml2-newest ---------------------------------------------
# The whole suite on the extension built against the newest libxml2, Debian
# unstable's, besides Debian 12's 2.9.14 that `make test` uses.  Its source
# comes through apt with a sources list, package lists and cache of its own
# under $(LIBXML2_NEWEST_DIR)/apt: the system's sources and package lists
# are neither read nor written.  The library is built once (a stamp) into a prefix inside
# $(LIBXML2_NEWEST_DIR), the extension into $(LIBXML2_NEWEST_DIR)/ext (with
# -Werror, an rpath to that prefix), never in place; PYTHONSAFEPATH keeps the
# in-place build off sys.path, as `make sanitize` does.
LIBXML2_NEWEST_VERSION ?= 2.15.4
# The mirror this machine's apt uses, read from its sources (no host is
# written here).
LIBXML2_MIRROR ?= $(shell mk/debian-mirror.sh)
LIBXML2_KEYRING ?= /usr/share/keyrings/debian-archive-keyring.gpg
LIBXML2_BUILD_APT_PACKAGES ?= gcc make xz-utils debian-archive-keyring
LIBXML2_NEWEST_DIR ?= build/libxml2-$(LIBXML2_NEWEST_VERSION)
LIBXML2_NEWEST_ABS = $(abspath $(LIBXML2_NEWEST_DIR))
LIBXML2_NEWEST_PREFIX = $(LIBXML2_NEWEST_ABS)/prefix
LIBXML2_APT = apt-get -q -o APT::Sandbox::User=root \
  -o Dir::Etc::sourcelist=$(LIBXML2_NEWEST_ABS)/apt/sources.list \
  -o Dir::Etc::sourceparts=- \
  -o Dir::State::Lists=$(LIBXML2_NEWEST_ABS)/apt/lists \
  -o Dir::Cache=$(LIBXML2_NEWEST_ABS)/apt/cache
# Lean: none of the optional libraries, nothing the extension does not use.
LIBXML2_CONFIGURE_FLAGS ?= --disable-static --without-python --without-icu \
  --without-zlib --without-http --without-docs --without-readline \
  --without-history
# The rpath makes the module load this libxml2, and lets auditwheel find it
# when the suite builds the wheel.  That wheel is built in a build base of
# its own (DIST_EXTRA_CONFIG: setuptools reads that file too), so neither
# reuses the other's objects with `make wheel`'s build/lib.*.
LIBXML2_NEWEST_ENV = PKG_CONFIG_PATH=$(LIBXML2_NEWEST_PREFIX)/lib/pkgconfig \
  SLIXMPP_PING_C_LDFLAGS="-Wl,-rpath,$(LIBXML2_NEWEST_PREFIX)/lib" \
  DIST_EXTRA_CONFIG=$(LIBXML2_NEWEST_ABS)/setuptools.cfg \
  PYTHONSAFEPATH=1 PYTHONPATH=$(LIBXML2_NEWEST_ABS)/ext

.PHONY: libxml2-newest test-libxml2-newest

# The upstream tarball of sid's libxml2.  When sid has moved on from the
# version named here, that newer one is built and tested, and said so.
LIBXML2_TARBALL = $(LIBXML2_NEWEST_DIR)/download/libxml2_*.orig.tar.*
$(LIBXML2_NEWEST_DIR)/.fetched:
	$(call apt_install,$(LIBXML2_BUILD_APT_PACKAGES))
	rm -rf $(LIBXML2_NEWEST_DIR)/apt $(LIBXML2_NEWEST_DIR)/download
	mkdir -p $(LIBXML2_NEWEST_DIR)/apt/lists/partial \
	  $(LIBXML2_NEWEST_DIR)/apt/cache/archives/partial \
	  $(LIBXML2_NEWEST_DIR)/download
	echo "deb-src [signed-by=$(LIBXML2_KEYRING)] $(LIBXML2_MIRROR) sid main" \
	  >$(LIBXML2_NEWEST_DIR)/apt/sources.list
	$(LIBXML2_APT) update
	cd $(LIBXML2_NEWEST_DIR)/download && \
	  $(LIBXML2_APT) source --download-only libxml2
	@got=$$(basename $(LIBXML2_TARBALL)); case "$$got" in \
	  libxml2_$(LIBXML2_NEWEST_VERSION)[+.]*) ;; \
	  *) echo "NOTE: Debian sid's libxml2 is no longer" \
	       "$(LIBXML2_NEWEST_VERSION): building $$got instead";; \
	esac
	touch $@

$(LIBXML2_NEWEST_DIR)/.built: $(LIBXML2_NEWEST_DIR)/.fetched
	rm -rf $(LIBXML2_NEWEST_DIR)/src $(LIBXML2_NEWEST_PREFIX)
	mkdir -p $(LIBXML2_NEWEST_DIR)/src
	tar -xf $(LIBXML2_TARBALL) --strip-components=1 -C $(LIBXML2_NEWEST_DIR)/src
	cd $(LIBXML2_NEWEST_DIR)/src && \
	  ./configure -q --prefix=$(LIBXML2_NEWEST_PREFIX) \
	    $(LIBXML2_CONFIGURE_FLAGS) && \
	  $(MAKE) -s -j2 && $(MAKE) -s install >install.log
	touch $@

libxml2-newest: $(LIBXML2_NEWEST_DIR)/.built

# tests/libxml2_in_use.py prints which libxml2 the module runs with, and
# tests/test_libxml2.py checks it is the one pkg-config names, this one.
test-libxml2-newest: deps $(VENV)/.deps-installed libxml2-newest
	rm -rf $(LIBXML2_NEWEST_DIR)/ext $(LIBXML2_NEWEST_DIR)/ext-build \
	  $(LIBXML2_NEWEST_DIR)/wheel-build
	printf '[build]\nbuild_base = %s\n' $(LIBXML2_NEWEST_ABS)/wheel-build \
	  >$(LIBXML2_NEWEST_DIR)/setuptools.cfg
	$(LIBXML2_NEWEST_ENV) SLIXMPP_PING_C_WERROR=1 \
	  $(VENV)/bin/python setup.py -q build \
	  --build-base $(LIBXML2_NEWEST_DIR)/ext-build \
	  --build-lib $(LIBXML2_NEWEST_DIR)/ext
	$(LIBXML2_NEWEST_ENV) $(VENV)/bin/python tests/libxml2_in_use.py
	$(LIBXML2_NEWEST_ENV) $(VENV)/bin/python -m pytest -p no:cacheprovider \
	  $(PYTEST_ARGS)
# ---- end of make test-libxml2-newest ---------------------------------------
