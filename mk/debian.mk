# ---- make test-debian ---------------------------------------------------------
# The whole suite inside a chroot of another Debian release, with that
# release's Python, GCC, libxml2, expat, Prosody and ejabberd:
#   make test-debian DEBIAN=trixie PY=python3
#   make test-debian DEBIAN=sid PY=python3.15
# The chroot (build/debian/$(DEBIAN)) is made once with debootstrap from the
# mirror the machine's apt sources name and kept; each run copies this tree
# into it and runs $(DEBIAN_TARGET) there (mk/debian-chroot.sh), with
# SLIXMPP_PING_C_WERROR as set here.
DEBIAN ?= trixie
PY ?= python3
DEBIAN_TARGET ?= test
DEBIAN_DIR ?= build/debian/$(DEBIAN)
DEBIAN_APT_PACKAGES ?= debootstrap rsync debian-archive-keyring

.PHONY: test-debian
test-debian:
	$(call apt_install,$(DEBIAN_APT_PACKAGES))
	mk/debian-chroot.sh $(DEBIAN) $(abspath $(DEBIAN_DIR)) $(PY) \
	  env SLIXMPP_PING_C_WERROR=$(SLIXMPP_PING_C_WERROR) CI=$(CI) \
	  make $(DEBIAN_TARGET) PYTHON=$(PY) \
	  'PYTEST_ARGS=$(subst ','\'',$(PYTEST_ARGS))'
# ---- end of make test-debian --------------------------------------------------
