# netgrind — one non-recursive build. Objects, binaries and test programs go under build/.
#
#   make            build build/bin/netgrind and its tool links
#   make demo       install what is missing, build, run each tool over loopback
#   make check      install what is missing, build, run every test; last line "N passed, N failed"
#   make san        the same binary with ASan and UBSan, under build/san/
#   make fuzz       libFuzzer harnesses (clang) under build/fuzz/
#   make bench      side-by-side benchmarks against peer tools (prints ratios)
#   make deps       install the Debian packages the build and tests need (apt-get)

CC       ?= cc
BUILD    ?= build
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifneq ($(CI),)
WARN     += -Werror
endif
CPPFLAGS += -Isrc -D_GNU_SOURCE -MMD -MP
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -pthread
LDLIBS   += -pthread -lm

# Tools: one folder each under src/, one entry each in src/main.c.
TOOLS     := seqtest
TOOL_LINKS := seqtest

CORE_SRC  := $(wildcard src/core/*.c)
TOOL_SRC  := $(foreach t,$(TOOLS),$(wildcard src/$(t)/*.c))
LIB_SRC   := $(CORE_SRC) $(TOOL_SRC)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ  := $(BUILD)/obj/src/main.o
LIB       := $(BUILD)/libnetgrind.a
BIN       := $(BUILD)/bin/netgrind
LINKS     := $(TOOL_LINKS:%=$(BUILD)/bin/%)

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)

.PHONY: all demo check test unit sys san fuzz bench deps clean format
all: $(BIN) $(LINKS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(LINKS): $(BIN)
	ln -sf netgrind $@

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) -lcmocka $(LDLIBS)

unit: $(UNIT_BIN)

deps:
	@scripts/deps.sh

# `make check` and `make demo` first install what is missing, then build.
demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(BUILD)

check: deps
	@$(MAKE) --no-print-directory all unit
	@tests/run.sh $(BUILD)

test: all unit
	@tests/run.sh $(BUILD)

# Sanitizer build: a separate tree so that it never mixes with the optimised objects.
san:
	@$(MAKE) --no-print-directory BUILD=build/san \
	    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" all unit

# libFuzzer harnesses: one per parser of untrusted bytes, built with clang.
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/bin/%)
fuzz:
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" $(FUZZ_BIN)

build/fuzz/bin/%: tests/fuzz/%.c build/fuzz/libnetgrind.a
	@mkdir -p $(@D)
	clang $(CPPFLAGS) -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

bench: all
	@bench/run.sh $(BUILD)

format:
	clang-format -i $(shell find src tests bench -name '*.[ch]')

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BIN:=.d)
