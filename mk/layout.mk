# The C core's dependency graph between its units, and its cycles
# (tests/c_layout.py; C_LAYOUT_ARGS=--check exits 1 on a cycle).
.PHONY: c-layout
c-layout: build
	$(VENV)/bin/python tests/c_layout.py $(C_LAYOUT_ARGS)
