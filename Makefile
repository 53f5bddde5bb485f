# gantry build. `make` builds build/gantry; `make test` installs test deps, builds with ASan+UBSan
# and runs every test; `make run` installs, builds and starts `gantry dev`.
CC ?= cc
FUZZCC ?= clang
PKGS := libuv libmicrohttpd jansson sqlite3 libcrypto libcurl libarchive zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wvla -Wimplicit-fallthrough -Werror
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc $(WARN) -g
LIBS = $(PKG_LIBS) -lm -lpthread

LIB_SRC := $(sort $(filter-out src/cmd/%,$(wildcard src/*/*.c)))
CMD_SRC := $(sort $(wildcard src/cmd/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
HDRS := $(wildcard src/*/*.h)

# Release build
OUT := build
REL_CFLAGS := $(BASE_CFLAGS) -O2
# Sanitizer build: what the test suite runs
SAN := build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_CFLAGS := $(BASE_CFLAGS) -O1 $(SAN_FLAGS)
# Fuzz build (clang + libFuzzer)
FUZZ := build/fuzz
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -Isrc -g -O1 $(FUZZ_FLAGS)

.PHONY: all san fuzz test run clean format format-check unit bench
all: $(OUT)/gantry

$(OUT)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo '  CC      $<'
	@$(CC) $(REL_CFLAGS) $(PKG_CFLAGS) -c $< -o $@
$(SAN)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo '  CC san  $<'
	@$(CC) $(SAN_CFLAGS) $(PKG_CFLAGS) -c $< -o $@
$(FUZZ)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo '  CC fuzz $<'
	@$(FUZZCC) $(FUZZ_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(OUT)/libgantry.a: $(LIB_SRC:%.c=$(OUT)/obj/%.o)
	@rm -f $@; ar rcs $@ $^
$(SAN)/libgantry.a: $(LIB_SRC:%.c=$(SAN)/obj/%.o)
	@rm -f $@; ar rcs $@ $^
$(FUZZ)/libgantry.a: $(LIB_SRC:%.c=$(FUZZ)/obj/%.o)
	@rm -f $@; ar rcs $@ $^

$(OUT)/gantry: $(CMD_SRC:%.c=$(OUT)/obj/%.o) $(OUT)/libgantry.a
	@echo '  LD      $@'
	@$(CC) $(REL_CFLAGS) -o $@ $^ $(LIBS)
$(SAN)/gantry: $(CMD_SRC:%.c=$(SAN)/obj/%.o) $(SAN)/libgantry.a
	@echo '  LD      $@'
	@$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS)

$(SAN)/tests/%: $(SAN)/obj/tests/unit/%.o $(SAN)/libgantry.a
	@mkdir -p $(dir $@)
	@echo '  LD      $@'
	@$(CC) $(SAN_CFLAGS) -o $@ $^ $(LIBS) -lcmocka
$(FUZZ)/%: $(FUZZ)/obj/tests/fuzz/%.o $(FUZZ)/libgantry.a
	@echo '  LD      $@'
	@$(FUZZCC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(SAN)/tests/%)
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ)/%)

san: $(SAN)/gantry $(UNIT_BINS)
fuzz: $(FUZZ_BINS)

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory -j2 san fuzz
	@tests/run.sh

run:
	@scripts/deps.sh build
	@$(MAKE) --no-print-directory -j2 all
	exec $(OUT)/gantry dev

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory -j2 all
	@bench/api/run.sh

format:
	clang-format -i $(wildcard src/*/*.[ch] tests/*/*.[ch])
format-check:
	@scripts/format-check.sh

clean:
	rm -rf build
.SECONDARY:
