# ---- make lint-types, make test-fast ----------------------------------------
# make lint-types (part of make lint): mypy --strict on the package, with
# _core.pyi standing for the C module.  slixmpp ships annotations, so what
# mypy finds depends on its release as much as on mypy's: both are pinned,
# in a virtualenv of their own (mypy by pyproject.toml's lint extra).
VENV_LINT ?= .venv-lint$(PYTHON_VERSION)
LINT_SLIXMPP ?= slixmpp==1.17.0
$(eval $(call make_venv,$(VENV_LINT),$(LINT_SLIXMPP),lint))

.PHONY: lint-types test-fast clean-lint-types
lint: lint-types

lint-types: deps $(VENV_LINT)/.deps-installed
	$(VENV_LINT)/bin/mypy --strict -p slixmpp_ping_c

# make test-fast: the in-memory tier alone (pytest -m fast), in seconds;
# make test runs every tier (fast, server, slow: see tests/conftest.py).
test-fast: build
	$(VENV)/bin/python -m pytest -m fast $(PYTEST_ARGS)

clean: clean-lint-types
clean-lint-types:
	rm -rf $(VENV_LINT) .mypy_cache
