# micro-user: build, run, test.  Plain GNU make; libraries via pkg-config.

PKGS     := fcgi json-c libmariadb librabbitmq libesmtp-1.0 libsodium libjwt
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes
CPPFLAGS += -D_GNU_SOURCE -Ifcgi-app
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcrypt -pthread

# Shared by both programs.
CORE    := arena buf cfg log db tmpl mq
# The FastCGI application, less its main.
APP     := http route valid auth auth_api user user_api reset reset_api outbox admin pages throttle
MAILER  := mail mail_smtp mailer_consume mailer_sent mailer_relay mailer_cleanup

ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	      -fno-sanitize-recover=undefined -Werror

BIN      := build
ASAN_BIN := build/asan

core_objs   = $(CORE:%=$(1)/obj/%.o)
app_objs    = $(APP:%=$(1)/obj/%.o)
mailer_objs = $(MAILER:%=$(1)/obj/%.o)

.PHONY: all asan deps run test unit bench fuzz fmt man clean
all: $(BIN)/user-fcgi $(BIN)/reset-mailer
asan: $(ASAN_BIN)/user-fcgi $(ASAN_BIN)/reset-mailer

$(BIN)/obj/%.o: fcgi-app/%.c fcgi-app/*.h | $(BIN)/obj
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(PKG_CFLAGS) -c -o $@ $<
$(ASAN_BIN)/obj/%.o: fcgi-app/%.c fcgi-app/*.h | $(ASAN_BIN)/obj
	$(CC) $(CPPFLAGS) $(ASAN_FLAGS) $(WARN) $(PKG_CFLAGS) -c -o $@ $<
$(BIN)/obj $(ASAN_BIN)/obj $(ASAN_BIN)/unit:
	mkdir -p $@

$(BIN)/user-fcgi: $(BIN)/obj/user_fcgi.o $(call app_objs,$(BIN)) $(call core_objs,$(BIN))
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)
$(BIN)/reset-mailer: $(BIN)/obj/reset_mailer.o $(call mailer_objs,$(BIN)) $(call core_objs,$(BIN))
	$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS)
$(ASAN_BIN)/user-fcgi: $(ASAN_BIN)/obj/user_fcgi.o $(call app_objs,$(ASAN_BIN)) $(call core_objs,$(ASAN_BIN))
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(PKG_LIBS)
$(ASAN_BIN)/reset-mailer: $(ASAN_BIN)/obj/reset_mailer.o $(call mailer_objs,$(ASAN_BIN)) $(call core_objs,$(ASAN_BIN))
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(PKG_LIBS)

# Unit tests: each tests/unit/test-<unit>-*.c is one program linked with
# every library object (sanitizers on); `make unit` runs them all.
UNIT_SRCS := $(sort $(wildcard tests/unit/test-*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(ASAN_BIN)/unit/%)
LIB_ASAN  := $(call core_objs,$(ASAN_BIN)) $(call app_objs,$(ASAN_BIN)) $(call mailer_objs,$(ASAN_BIN))

$(ASAN_BIN)/unit/%: tests/unit/%.c tests/unit/check.h $(LIB_ASAN) | $(ASAN_BIN)/unit
	$(CC) $(CPPFLAGS) -Itests/unit $(ASAN_FLAGS) $(WARN) $(PKG_CFLAGS) -o $@ $< $(LIB_ASAN) $(PKG_LIBS)

unit: $(UNIT_BINS)
	@pass=0; fail=0; \
	for t in $(UNIT_BINS); do \
		if TEMPLATE_DIR=templates $$t; then pass=$$((pass+1)); \
		else echo "FAIL: $$t"; fail=$$((fail+1)); fi; \
	done; \
	echo "unit: $$pass passed, $$fail failed"; test $$fail -eq 0

deps:
	scripts/install-deps.sh

run: deps
	$(MAKE) all
	scripts/run.sh

test: deps
	$(MAKE) all asan
	scripts/test.sh

fmt:
	clang-format -i fcgi-app/*.[ch] tests/unit/*.[ch]

# Checks the man pages: mandoc's linter when installed, else groff's.
# Read one with: man -l fcgi-app/user-fcgi.8
MANS := fcgi-app/user-fcgi.8 fcgi-app/reset-mailer.8
man:
	@if command -v mandoc >/dev/null; then mandoc -Tlint -W warning $(MANS); \
	else for m in $(MANS); do groff -mandoc -z -ww $$m || exit 1; done; fi
	@echo "man: $(words $(MANS)) pages checked"

clean:
	rm -rf build

# --- libFuzzer harnesses (tests/fuzz) -------------------------------------
# Each tests/fuzz/fuzz-<target>.c is a libFuzzer program linked with every
# library object; both built by clang with ASan and UBSan into build/fuzz,
# apart from the gcc builds.  Seeds are in tests/fuzz/corpus/<target>, the
# inputs libFuzzer finds go to build/fuzz/corpus/<target>, a crashing input
# to build/fuzz/crashes/<target>-*, and each run's log to build/fuzz/logs.
# `make fuzz` runs each harness for FUZZ_SECONDS; `make fuzz-smoke` (run by
# scripts/test.sh) for FUZZ_SMOKE_SECONDS, so a regression fails the tests.
FUZZ_CC            := clang
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_BIN   := build/fuzz
FUZZ_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	      -fno-sanitize-recover=undefined
FUZZ_SRCS  := $(sort $(wildcard tests/fuzz/fuzz-*.c))
FUZZ_NAMES := $(FUZZ_SRCS:tests/fuzz/fuzz-%.c=%)
FUZZ_BINS  := $(FUZZ_NAMES:%=$(FUZZ_BIN)/fuzz-%)
LIB_FUZZ   := $(call core_objs,$(FUZZ_BIN)) $(call app_objs,$(FUZZ_BIN)) \
	      $(call mailer_objs,$(FUZZ_BIN))

$(FUZZ_BIN)/obj/%.o: fcgi-app/%.c fcgi-app/*.h | $(FUZZ_BIN)/obj
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(WARN) \
	    $(PKG_CFLAGS) -c -o $@ $<
$(FUZZ_BIN)/fuzz-%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h \
    tests/unit/mail_fixture.h $(LIB_FUZZ) | $(FUZZ_BIN)/obj
	$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz -Itests/unit $(FUZZ_FLAGS) \
	    -fsanitize=fuzzer $(WARN) $(PKG_CFLAGS) -o $@ $< $(LIB_FUZZ) \
	    $(PKG_LIBS)
$(FUZZ_BIN)/obj:
	mkdir -p $@
# Only pattern rules name these objects: keep make from deleting them.
.SECONDARY: $(LIB_FUZZ)

# Runs every harness for $(1) seconds; prints libFuzzer's last status line
# (coverage, features, exec/s) or the end of the log of a failure.
fuzz_run = @fail=0; \
	mkdir -p $(FUZZ_BIN)/crashes $(FUZZ_BIN)/logs; \
	for t in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_BIN)/corpus/$$t; \
		dict=; \
		if test -f tests/fuzz/fuzz-$$t.dict; then \
			dict=-dict=tests/fuzz/fuzz-$$t.dict; fi; \
		log=$(FUZZ_BIN)/logs/$$t.log; \
		if $(FUZZ_BIN)/fuzz-$$t -max_total_time=$(1) $$dict \
		    -artifact_prefix=$(FUZZ_BIN)/crashes/$$t- \
		    $(FUZZ_BIN)/corpus/$$t tests/fuzz/corpus/$$t >$$log 2>&1; \
		then echo "fuzz-$$t: $$(grep -E '^\#[0-9]+' $$log | tail -n 1)"; \
		else echo "FAIL: fuzz-$$t (log $$log)"; tail -n 40 $$log; \
			fail=$$((fail+1)); fi; \
	done; \
	echo "fuzz: $(words $(FUZZ_NAMES)) harnesses, $$fail failed"; \
	test $$fail -eq 0

.PHONY: fuzz-build fuzz-smoke
fuzz-build: $(FUZZ_BINS)
fuzz: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SECONDS))
fuzz-smoke: $(FUZZ_BINS)
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS))
# --- end of libFuzzer harnesses --------------------------------------------

# --- bench (bench/, issue 7) -----------------------------------------------
# `make bench`: release build, a private stack on its own ports, every
# measurement in one run; writes build/bench/results.md and results.png and
# tears the stack down at the end (bench/run.sh says what it measures).
BENCH_BIN   := build/bench/bin
BENCH_TOOLS := $(BENCH_BIN)/fcgi-hello $(BENCH_BIN)/argon2-verify $(BENCH_BIN)/smtp-blast
BENCH_CFLAGS := -O2 -g -Wall -Wextra -Wshadow

$(BENCH_BIN):
	mkdir -p $@
$(BENCH_BIN)/fcgi-hello: bench/fcgi-hello.c | $(BENCH_BIN)
	$(CC) $(BENCH_CFLAGS) $(shell pkg-config --cflags fcgi) -o $@ $< $(shell pkg-config --libs fcgi)
$(BENCH_BIN)/argon2-verify: bench/argon2-verify.c | $(BENCH_BIN)
	$(CC) $(BENCH_CFLAGS) $(shell pkg-config --cflags libsodium) -o $@ $< $(shell pkg-config --libs libsodium)
$(BENCH_BIN)/smtp-blast: bench/smtp-blast.c | $(BENCH_BIN)
	$(CC) $(BENCH_CFLAGS) -o $@ $<

.PHONY: bench-tools
bench-tools: $(BENCH_TOOLS)
bench: deps
	$(MAKE) all bench-tools
	bench/run.sh
# --- end of bench -----------------------------------------------------------

# --- soak and valgrind (tests/soak, tests/valgrind; issue 6) ---------------
# `make soak`: a private stack on its own ports (release build), mixed
# requests for SOAK_SECONDS, every worker's VmRSS after the warm-up and at
# the end; fails if one grew past SOAK_MAX_GROWTH_KB / SOAK_MAX_GROWTH_PCT,
# died, or any request got a 5xx (tests/soak/soak.py says more).
# `make valgrind`: the same kind of stack with one worker and the mailer
# under memcheck, every route once or twice, then the reports: no invalid
# access, no definitely/indirectly lost block from fcgi-app/. Logs in
# build/soak-logs and build/valgrind-logs.
SOAK_SECONDS ?= 180
.PHONY: soak valgrind
soak: deps
	$(MAKE) all
	SOAK_SECONDS=$(SOAK_SECONDS) /usr/bin/python3 tests/soak/soak.py
valgrind: deps
	$(MAKE) all
	/usr/bin/python3 tests/valgrind/valgrind.py
# --- end of soak and valgrind -----------------------------------------------
