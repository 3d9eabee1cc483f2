# ---- the public C API's fuzzing harness -------------------------------------
# tests/fuzz/fuzz_api.py drives Tap, Peer and the module's functions with
# arbitrary call sequences, re-entrant callbacks included, on the module
# built as for the tap's harness (ASan, UBSan, libFuzzer's coverage); make
# fuzz runs it for FUZZ_SECONDS from tests/fuzz/corpus/api/.  A crash, a
# sanitizer report, a SystemError or its oracle failing fails it.
# FUZZ_API_EXCLUDE="1,2" leaves out what reaches known defects (see the
# harness's docstring); make fuzz-api-seeds rewrites the seed corpus.
.PHONY: fuzz-run-api fuzz-api-seeds
fuzz: fuzz-run-api

fuzz-run-api: fuzz-deps fuzz-tap-build
	$(call fuzz_run,api,$(FUZZ_ENV) PYTHONMALLOC=malloc PYTHONPATH=$(CURDIR) \
	  FUZZ_CORE=$$(echo $(FUZZ_DIR)/lib/slixmpp_ping_c/_core*.so) \
	  LD_PRELOAD=$$($(VENV)/bin/python -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so \
	  $(VENV)/bin/python tests/fuzz/fuzz_api.py -detect_leaks=0)

fuzz-api-seeds: build
	rm -rf tests/fuzz/corpus/api
	FUZZ_API_EXCLUDE=1,2,3,4,5 PYTHONPATH=$(CURDIR) \
	  $(VENV)/bin/python tests/fuzz/fuzz_api.py --write-seeds tests/fuzz/corpus/api
