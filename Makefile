# firehosed - one Makefile, explicit source lists.
#   make run     install what is missing, build, start on config/local.json
#   make test    install test peers, build, run unit + integration tests
#   make bench   benchmarks (never part of make test)
#   make SANITIZE=address,undefined test    sanitizer build

CC      ?= cc
BUILD   ?= build
CONFIG  ?= config/local.json

PKGS_BUILD = build-essential pkg-config zlib1g-dev libssl-dev \
             libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev \
             liblua5.4-dev libsnappy-dev libcmocka-dev
PKGS_TEST  = awscli python3 curl ca-certificates procps
# node and npm come from tests/integration/peers-install.sh: Debian's, unless
# a node with its own npm (NodeSource's, which conflicts with Debian's npm)
# is there already.

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DZLIB_CONST \
           -MMD -MP -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Wwrite-strings \
           -Wpointer-arith -fno-common -pthread
ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SANITIZE)
BUILD   := $(BUILD)-san
endif
LIBS     = -lmicrohttpd -lcurl -ljansson -lssl -lcrypto -lz -pthread

# Core library: everything but main.c.
CORE_SRC = delivery/err.c delivery/util.c delivery/log.c delivery/spool.c \
           delivery/crc32c.c delivery/errdoc.c \
           delivery/sigv4.c delivery/awscred.c delivery/httpc.c \
           delivery/jscan.c delivery/api.c delivery/stream.c \
           config/cfg.c \
           destinations/keys.c destinations/codec.c destinations/registry.c \
           destinations/local.c destinations/s3.c
MAIN_SRC = delivery/main.c
UNIT_TESTS = cfg spool sigv4 keys codec jscan awscred api crc32c errdoc
BENCH_SRC = tests/bench/loadgen.c

CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ = $(MAIN_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(UNIT_TESTS:%=$(BUILD)/tests/test_%)

.PHONY: all run test unit integration bench deps deps-test clean valgrind

all: firehosed

firehosed: $(CORE_OBJ) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Each unit test links its module and what that module needs, nothing else.
BASE_SRC       = delivery/err.c delivery/util.c delivery/log.c
TEST_cfg_SRC     = config/cfg.c destinations/keys.c
TEST_spool_SRC   = delivery/spool.c delivery/crc32c.c
TEST_sigv4_SRC   = delivery/sigv4.c
TEST_awscred_SRC = delivery/awscred.c
TEST_keys_SRC    = destinations/keys.c
TEST_codec_SRC   = destinations/codec.c
TEST_jscan_SRC   = delivery/jscan.c
TEST_crc32c_SRC  = delivery/crc32c.c
TEST_errdoc_SRC  = delivery/errdoc.c
TEST_api_SRC     = $(filter-out delivery/main.c,$(CORE_SRC))

.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o \
        $$(addprefix $(BUILD)/,$$(subst .c,.o,$$(sort $(BASE_SRC) $$(TEST_$$*_SRC))))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

$(BUILD)/loadgen: $(BUILD)/tests/bench/loadgen.o
	$(CC) $(LDFLAGS) -o $@ $^ -pthread -lz

# Install what is missing (Debian 12, as root). Quiet when all is there.
deps:
	@sh tests/deps.sh $(PKGS_BUILD)

deps-test:
	@sh tests/deps.sh $(PKGS_BUILD) $(PKGS_TEST)
	@sh tests/integration/peers-install.sh

run: deps firehosed
	./firehosed --config $(CONFIG)

unit: $(UNIT_BIN)
	@sh tests/run-unit.sh $(UNIT_BIN)

integration: firehosed
	@bash tests/integration/run.sh

# Unit tests run twice: plain and under ASan/UBSan (cheap, and it catches
# what the plain build hides).
test: deps-test
	$(MAKE) all unit
	$(MAKE) SANITIZE=address,undefined unit
	$(MAKE) integration

valgrind: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do \
	  valgrind -q --error-exitcode=1 --leak-check=full $$t || exit 1; done

bench: deps-test firehosed $(BUILD)/loadgen
	@bash tests/bench/run.sh $(BUILD)/loadgen

clean:
	rm -rf build build-san firehosed

-include $(CORE_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) \
         $(UNIT_TESTS:%=$(BUILD)/tests/unit/test_%.d)
