# netgrind — one non-recursive build. Objects, binaries and test programs go under build/.
#
#   make            build build/bin/netgrind and its tool links
#   make demo       install what is missing, build, run each tool over loopback
#   make check      install what is missing, build, run every test; last line "N passed, N failed"
#   make test       the same without installing; `make sys`: only the system tests
#   make san        the same binary and unit tests with ASan and UBSan, under build/san/
#   make fuzz       libFuzzer harnesses (clang) under build/fuzz/bin/
#   make bench      side-by-side benchmarks against peer tools (prints ratios)
#   make deps       install the Debian packages the build and tests need (apt-get)
#   make BUILD=dir  any of the above in another build tree (san and fuzz go under dir/)

CC       ?= cc
BUILD    ?= build
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifneq ($(CI),)
WARN     += -Werror
endif
CPPFLAGS += -Isrc -D_GNU_SOURCE -MMD -MP
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -pthread
LDLIBS   += -lssl -lcrypto -pthread -lm   # OpenSSL: tcpkali --ssl and WebSocket's SHA-1
# xmlrpc-c (flowgrind's control plane): the Abyss server for flowgrindd, the curl client for
# the controller.
LDLIBS   += -lxmlrpc_server_abyss -lxmlrpc_server -lxmlrpc_abyss -lxmlrpc_client -lxmlrpc \
            -lxmlrpc_xmlparse -lxmlrpc_xmltok -lxmlrpc_util
CPPFLAGS += -DNETGRIND_HAVE_OPENSSL -DNETGRIND_HAVE_XMLRPC
# libpcap is optional: flowgrindd -M dumps traffic only when it was there at build time.
HAVE_PCAP ?= $(shell test -e /usr/include/pcap/pcap.h && echo 1)
ifeq ($(HAVE_PCAP),1)
CPPFLAGS += -DNETGRIND_HAVE_PCAP
LDLIBS   += -lpcap
endif

# Tools: one folder each under src/, one entry each in src/main.c.
TOOLS     := seqtest udping tcpkali flowgrind
TOOL_LINKS := seqtest udping_client udping_server tcpkali flowgrind flowgrindd flowgrind-stop

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
# Their builds run in parallel (-j with the number of cores) unless the caller gave its own -j.
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
SUBJOBS   = $(if $(filter -j%,$(MAKEFLAGS)),,-j$(JOBS))
demo: deps
	@$(MAKE) --no-print-directory $(SUBJOBS) all
	@scripts/demo.sh $(BUILD)

# Everything tests/run.sh runs: the binary, the unit tests, their sanitizer build, the fuzzers.
check: deps
	@$(MAKE) --no-print-directory $(SUBJOBS) all unit san fuzz
	@tests/run.sh $(BUILD)

test:
	@$(MAKE) --no-print-directory $(SUBJOBS) all unit san fuzz
	@tests/run.sh $(BUILD)

# One kind of test only (no deps, no san or fuzz build): `make sys`, e.g. while writing one.
sys: all
	@tests/run.sh $(BUILD) sys

# Sanitizer build: a separate tree, $(BUILD)/san, so it never mixes with the optimised objects.
SAN_BUILD := $(BUILD)/san
san:
	@$(MAKE) --no-print-directory BUILD=$(SAN_BUILD) \
	    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" all unit

# libFuzzer harnesses, one per parser of untrusted bytes, built with clang under
# $(BUILD)/fuzz/bin/. The library is compiled with fuzzer-no-link (coverage hooks only) and
# never contains src/main.c; each harness brings its own LLVMFuzzerTestOneInput.
FUZZ_BUILD := $(BUILD)/fuzz
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_BUILD)/bin/%)
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=undefined
fuzz:
ifneq ($(FUZZ_BIN),)
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang CFLAGS="$(FUZZ_CFLAGS)" $(FUZZ_BIN)
else
	@echo "fuzz: no tests/fuzz/fuzz_*.c yet"
endif

# Only meaningful inside the `fuzz` sub-make, where $(BUILD) is the fuzz tree.
$(BUILD)/bin/fuzz_%: tests/fuzz/fuzz_%.c $(LIB)
	@mkdir -p $(@D)
	clang $(CPPFLAGS) -std=gnu11 $(WARN) -Wno-missing-prototypes -O1 -g -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -o $@ $< $(LIB) $(LDLIBS)

bench: all
	@bench/run.sh $(BUILD)

format:
	clang-format -i $(shell find src tests bench -name '*.[ch]')

clean:
	rm -rf $(BUILD)

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BIN:=.d) $(wildcard $(BUILD)/bin/fuzz_*.d)
