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
	FUZZ_API_EXCLUDE=1,2,3,4,5,N1,N2 PYTHONPATH=$(CURDIR) \
	  $(VENV)/bin/python tests/fuzz/fuzz_api.py --write-seeds tests/fuzz/corpus/api

# make fuzz-api-defects: how fast the harness finds each known defect of
# issue 11, and each it found besides (FUZZ_API_FOUND), alone (the others
# left out), from an empty corpus, for each libFuzzer seed in
# FUZZ_API_SEEDS; then with all of them left out (what else it finds).
# FUZZ_API_DEFECTS="3 none" runs some of these only.  One line a run: seconds to the first failure (or "none" in
# FUZZ_SECONDS), executions, and what failed; logs in $(FUZZ_DIR)/defects/.
FUZZ_API_SEEDS ?= 1 2 3
FUZZ_API_FOUND ?= N1 N2
FUZZ_API_DEFECTS ?= 1 2 3 4 5 $(FUZZ_API_FOUND) none
.PHONY: fuzz-api-defects
fuzz-api-defects: fuzz-deps fuzz-tap-build
	@out=$(FUZZ_DIR)/defects; rm -rf $$out; mkdir -p $$out; \
	for only in $(FUZZ_API_DEFECTS); do \
	  exclude=$$(echo 1 2 3 4 5 $(FUZZ_API_FOUND) | tr ' ' '\n' | grep -vx "$$only" | paste -sd,); \
	  for seed in $(FUZZ_API_SEEDS); do \
	    run=$$out/defect-$$only-seed-$$seed; mkdir -p $$run/corpus; \
	    start=$$(date +%s.%N); \
	    $(FUZZ_ENV) PYTHONMALLOC=malloc PYTHONPATH=$(CURDIR) \
	      FUZZ_API_EXCLUDE=$$exclude \
	      FUZZ_CORE=$$(echo $(FUZZ_DIR)/lib/slixmpp_ping_c/_core*.so) \
	      LD_PRELOAD=$$($(VENV)/bin/python -c 'import atheris; print(atheris.path())')/asan_with_fuzzer.so \
	      $(VENV)/bin/python tests/fuzz/fuzz_api.py -detect_leaks=0 -seed=$$seed \
	      -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	      -print_final_stats=1 -artifact_prefix=$$run/ $$run/corpus \
	      >$$run/log 2>&1; \
	    rc=$$?; end=$$(date +%s.%N); \
	    execs=$$(grep -o 'number_of_executed_units: *[0-9]*' $$run/log | grep -o '[0-9]*$$'); \
	    what=$$(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-zA-Z-]+|runtime error: .*|^[A-Za-z]*Error: .*' $$run/log | cut -c1-70); \
	    frame=$$(grep -E '^ +#[0-9]+ ' $$run/log | grep -m1 -oE 'in [a-z_]+ /[^ ]*csrc/[a-z_]+\.c:[0-9]+' | sed 's|/[^ ]*/csrc/|csrc/|'); \
	    if [ $$rc = 0 ]; then secs=none; else secs=$$(echo "$$end - $$start" | bc); fi; \
	    printf 'defect %-4s seed %s: %8s s %8s execs  %s %s\n' $$only $$seed \
	      $$secs "$$execs" "$$what" "$$frame" | tee -a $$out/summary; \
	  done; \
	done
