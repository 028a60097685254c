# i2kit — build, test, install.
#
#   make              build ./i2kit and ./i2kit-build
#   make deps         apt-get install every Debian package the project needs
#   make test         unit tests (ASan+UBSan) + integration tests; last line "N passed, N failed"
#   make unit         unit tests only
#   make fuzz         libFuzzer harnesses for a bounded time (tests/fuzz/run.sh)
#   make bench        benchmarks (ratios vs the standard-tools pipeline)
#   make install PREFIX=/usr/local
#   make format       apply .clang-format

PREFIX ?= /usr/local
CC ?= gcc
# libcurl: headers only; builder/base/curlload.c loads it when first used
# (a start without it is ~30 ms of CPU cheaper), so it is not linked.
PKGS_LINKED := yaml-0.1 jansson libarchive zlib libzstd liblzma libcrypto ext2fs com_err libxml-2.0 libisal libdeflate
PKGS := $(PKGS_LINKED) libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS_LINKED) 2>/dev/null)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wundef -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter -Wvla -Wpointer-arith
CFLAGS_BASE := -std=gnu11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. $(WARN) $(PKG_CFLAGS) \
	-DI2K_VERSION='"$(VERSION)"' -pthread
CFLAGS ?= -O2 -g
LDLIBS := $(PKG_LIBS) -pthread

# Every stage folder contributes library sources; the guest init is built
# separately (static musl) and never linked here.
LIB_DIRS := builder kernel initrd formats pipeline provision
LIB_SRCS := $(shell find $(LIB_DIRS) -name '*.c' -not -path 'initrd/init/*' | sort)
CLI_SRCS := $(sort $(wildcard cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))

OBJ := build/obj
AOBJ := build/asan
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(OBJ)/%.o)
# Unit tests link the library plus the CLI's files (all but main.c), so
# subcommands can be tested in-process.
CLI_LIB_SRCS := $(filter-out cli/main.c,$(CLI_SRCS))
ALIB_OBJS := $(LIB_SRCS:%.c=$(AOBJ)/%.o) $(CLI_LIB_SRCS:%.c=$(AOBJ)/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/tests/%)
ASAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

.PHONY: all deps test unit integration bench install format lint clean fixtures init init-image cache-init
all: i2kit i2kit-build init-image

# The guest's PID 1: static, musl, nothing but libc (initrd/init/).
INIT_SRCS := $(sort $(wildcard initrd/init/*.c))
INIT_CFLAGS := -std=gnu11 -D_GNU_SOURCE -I. -Os -static -Wall -Wextra -Werror -Wshadow \
	-Wno-unused-parameter -Wvla -ffunction-sections -fdata-sections -Wl,--gc-sections -s \
	-DI2K_VERSION='"$(VERSION)"'
init: build/init/init
build/init/init: $(INIT_SRCS) $(wildcard initrd/init/*.h)
	@mkdir -p $(dir $@)
	musl-gcc $(INIT_CFLAGS) -o $@ $(INIT_SRCS)
	@size=$$(stat -c %s $@); echo "init: $$size bytes"; \
	if [ $$size -gt 307200 ]; then echo "init is over the 300 KB budget"; exit 1; fi

# The init as the OCI image i2kit/init:VERSION (an OCI archive). i2kit uses it
# for `init: [i2kit/init]` (or no init:) straight from build/init or, once
# installed, from PREFIX/share/i2kit — no registry, no import. The test harness
# also pushes it to the fixture registries; `make cache-init` imports it into
# the local image cache.
INIT_IMAGE := build/init/i2kit-init-$(VERSION).tar
init-image: $(INIT_IMAGE)
$(INIT_IMAGE): build/init/init initrd/init/package.py VERSION
	SOURCE_DATE_EPOCH=0 python3 initrd/init/package.py $< $(VERSION) $@
cache-init: i2kit $(INIT_IMAGE)
	@./i2kit cache import $(INIT_IMAGE) >/dev/null

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -MMD -MP -c $< -o $@

$(AOBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 -g $(ASAN) -MMD -MP -c $< -o $@

build/libi2k.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

build/libi2k-asan.a: $(ALIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

i2kit: $(CLI_OBJS) build/libi2k.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJS) build/libi2k.a $(LDLIBS)

i2kit-build: i2kit
	ln -sf i2kit $@

# The compile and link flags of a program built against build/libi2k*.a
# (tests/integration/50 and 51 build their disk tools so).
.PHONY: print-cflags print-ldlibs
print-cflags:
	@echo $(PKG_CFLAGS)
print-ldlibs:
	@echo $(LDLIBS)

build/tests/%: tests/unit/%.c tests/unit/test.h build/libi2k-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O1 -g $(ASAN) -o $@ $< build/libi2k-asan.a $(LDLIBS)

build/fuzz/%: tests/fuzz/%.c build/libi2k-asan.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -DI2K_FUZZ_MAIN -Wno-missing-prototypes -O1 -g $(ASAN) -MMD -MP -o $@ $< build/libi2k-asan.a $(LDLIBS)

# libFuzzer builds (clang, -fsanitize=fuzzer): the library again with
# coverage instrumentation, one binary per harness in build/fuzzer/.
#   make fuzz                 every harness for FUZZ_TIME s (default 120) each,
#                             then the round-trip target for ROUNDTRIP_TIME s
#   make fuzz FUZZ_TIME=5 ROUNDTRIP_RUNS=30   the short pass CI runs
# Crashes are left in build/fuzz-crashes/NAME/ (tests/fuzz/run.sh).
FUZZ_CC ?= clang
FOBJ := build/fuzzobj
FUZZ_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
FLIB_OBJS := $(LIB_SRCS:%.c=$(FOBJ)/%.o) $(CLI_LIB_SRCS:%.c=$(FOBJ)/%.o)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build/fuzzer/%)
$(FOBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_BASE) -Wno-error -w -O1 -g $(FUZZ_SAN) \
		-fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
build/libi2k-fuzz.a: $(FLIB_OBJS)
	@rm -f $@
	ar rcs $@ $^
build/fuzzer/%: tests/fuzz/%.c build/libi2k-fuzz.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_BASE) -Wno-format-nonliteral -Wno-missing-prototypes -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer \
		-MMD -MP -o $@ $< build/libi2k-fuzz.a $(LDLIBS)
.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	@tests/fuzz/run.sh

unit: $(UNIT_BINS)
	@tests/run.sh --unit-only

test: all $(UNIT_BINS)
	@tests/run.sh

integration: all
	@tests/run.sh --integration-only

fixtures:
	fixtures/build.sh build/fixtures

bench: all
	bench/run.sh

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		$$(grep -hv '^#' packages.txt $$(ls fixtures/PACKAGES 2>/dev/null))
	@# the AWS tests' emulator (Debian has no python3-moto)
	python3 -c 'import moto, boto3' 2>/dev/null || python3 -m pip install 'moto[server]' boto3
	@# the CloudFormation linter 62-aws-template checks every template with
	command -v cfn-lint >/dev/null || python3 -m pip install cfn-lint

# The guest init ships with the program: i2kit finds its OCI archive in
# ../share/i2kit next to its bin/ (builder/assemble/initimg.h).
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/i2kit
	install -m 0755 i2kit $(DESTDIR)$(PREFIX)/bin/i2kit
	ln -sf i2kit $(DESTDIR)$(PREFIX)/bin/i2kit-build
	install -m 0644 $(INIT_IMAGE) $(DESTDIR)$(PREFIX)/share/i2kit/

# Man pages (one per command) generated from the --help texts, and shell
# completions; installed by `make install`, removed by `make uninstall`.
MANDIR ?= $(PREFIX)/share/man/man1
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR ?= $(PREFIX)/share/zsh/site-functions
.PHONY: man install-docs uninstall
man: build/man/.stamp
build/man/.stamp: i2kit man/gen-man.sh
	rm -rf build/man
	man/gen-man.sh ./i2kit build/man
	touch $@
install: install-docs
install-docs: man
	install -d $(DESTDIR)$(MANDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0644 build/man/*.1 $(DESTDIR)$(MANDIR)/
	install -m 0644 completions/i2kit.bash $(DESTDIR)$(BASHCOMPDIR)/i2kit
	ln -sf i2kit $(DESTDIR)$(BASHCOMPDIR)/i2kit-build
	install -m 0644 completions/_i2kit $(DESTDIR)$(ZSHCOMPDIR)/_i2kit
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/i2kit $(DESTDIR)$(PREFIX)/bin/i2kit-build
	rm -f $(DESTDIR)$(MANDIR)/i2kit.1 $(DESTDIR)$(MANDIR)/i2kit-*.1
	rm -f $(DESTDIR)$(BASHCOMPDIR)/i2kit $(DESTDIR)$(BASHCOMPDIR)/i2kit-build
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_i2kit
	rm -rf $(DESTDIR)$(PREFIX)/share/i2kit

# The same file set tests/lint.sh checks with clang-format --dry-run -Werror.
format:
	clang-format -i $(shell find builder kernel initrd formats pipeline provision cli tests bench fixtures examples -name '*.[ch]')

lint:
	@tests/lint.sh

clean:
	rm -rf build i2kit i2kit-build

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(ALIB_OBJS:.o=.d) $(UNIT_BINS:=.d) $(FLIB_OBJS:.o=.d) $(wildcard build/fuzz/*.d build/fuzzer/*.d)
