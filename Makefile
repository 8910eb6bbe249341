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
             liblua5.4-dev lua-cjson libsnappy-dev libcmocka-dev \
             libjq-dev
PKGS_TEST  = awscli python3 python3-snappy unzip curl ca-certificates procps \
             chromium python3-prometheus-client \
             openssl clang libclang-rt-14-dev jq
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
LIBS     = -lmicrohttpd -lcurl -ljansson -lssl -lcrypto -lz -lsnappy \
           -llua5.4 -ljq -pthread

# Modules of several files, used in more than one source list below (defined
# first: rule prerequisites are expanded when the rule is read).
KEYS_SRC = destinations/keys.c destinations/keys_tz.c
CFG_SRC  = config/cfg.c config/cfg_walk.c config/cfg_dest.c config/cfg_proc.c \
           config/cfg_src.c config/cfg_svc.c
SPOOL_SRC = delivery/spool.c delivery/spool_io.c delivery/spool_jnl.c \
            delivery/spool_seg.c

# Core library: everything but main.c.
CORE_SRC = delivery/err.c delivery/util.c delivery/log.c $(SPOOL_SRC) \
           delivery/trim.c delivery/crc32c.c delivery/errdoc.c delivery/pbuf.c \
           delivery/sigv4.c delivery/awscred.c delivery/httpc.c \
           delivery/jscan.c delivery/api.c delivery/quota.c delivery/stream.c \
           delivery/strm.c delivery/strm_proc.c delivery/strm_rec.c \
           delivery/strm_obj.c \
           delivery/streams.c delivery/control.c delivery/ctl.c \
           delivery/ctl_desc.c delivery/ctl_ops.c \
           delivery/auth.c delivery/auth_hdr.c delivery/connguard.c \
           delivery/prom.c delivery/metrics.c delivery/dash.c \
           delivery/kpl.c delivery/kenv.c delivery/awsjson.c \
           delivery/kinesis.c delivery/lease.c delivery/ddb.c \
           delivery/source.c delivery/ksource.c delivery/kreader.c \
           $(CFG_SRC) \
           $(KEYS_SRC) destinations/codec.c destinations/registry.c \
           destinations/reasons.c \
           destinations/local.c destinations/s3.c destinations/sink.c \
           destinations/http.c destinations/opensearch.c \
           transforms/xform.c transforms/xform_vm.c transforms/xform_lib.c \
           transforms/jtok.c transforms/jqx.c transforms/proc.c
MAIN_SRC = delivery/main.c
# The file-tailing agent (a second binary): its own sources plus the shared
# SigV4, credentials, HTTP client and base helpers.
AGENT_SRC = agent/main.c agent/acfg.c agent/ckpt.c agent/lines.c \
            agent/tail.c agent/ship.c delivery/sigv4.c delivery/awscred.c \
            delivery/httpc.c delivery/err.c delivery/util.c delivery/log.c
UNIT_TESTS = cfg spool trim pbuf quota sigv4 keys codec jscan awscred api crc32c errdoc dash sink s3 \
             auth connguard http_dest opensearch xform control jqx proc \
             agent_cfg agent_ckpt agent_lines agent_tail agent_ship kpl lease ddb kenv kcheckpoint kinesis
BENCH_SRC = tests/bench/loadgen.c

CORE_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ = $(MAIN_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(UNIT_TESTS:%=$(BUILD)/tests/test_%)
AGENT_OBJ = $(AGENT_SRC:%.c=$(BUILD)/%.o)

.PHONY: all run test unit integration bench bench-suite deps deps-test clean valgrind \
        fuzz san-integration

all: firehosed firehosed-agent

firehosed: $(CORE_OBJ) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The same binary inside $(BUILD) (build-san/firehosed with SANITIZE), for
# running the integration tests on a sanitized build.
$(BUILD)/firehosed: $(CORE_OBJ) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

firehosed-agent: $(AGENT_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ -lcurl -ljansson -lssl -lcrypto -pthread

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The dashboard page is compiled into the binary (see delivery/dash.c):
# each line of the HTML becomes a C string literal.
$(BUILD)/gen/dashboard.html.inc: delivery/dashboard.html
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' \
	    -e 's/^/"/' -e 's/$$/\\n"/' $< >$@.tmp && mv $@.tmp $@
$(BUILD)/delivery/dash.o: $(BUILD)/gen/dashboard.html.inc
$(BUILD)/delivery/dash.o: CFLAGS += -I$(BUILD)/gen
# The Lua 5.4 host (Debian keeps the headers out of the default path).
$(BUILD)/transforms/%.o: CFLAGS += -I/usr/include/lua5.4

# Each unit test links its module and what that module needs, nothing else.
JQX_SRC        = transforms/jqx.c transforms/jtok.c
BASE_SRC       = delivery/err.c delivery/util.c delivery/log.c
TEST_cfg_SRC     = $(CFG_SRC) $(KEYS_SRC) $(JQX_SRC)
TEST_jqx_SRC     = $(JQX_SRC)
TEST_proc_SRC    = transforms/proc.c transforms/jtok.c
TEST_spool_SRC   = $(SPOOL_SRC) delivery/trim.c delivery/crc32c.c
TEST_trim_SRC    = delivery/trim.c
TEST_pbuf_SRC    = delivery/pbuf.c
TEST_sigv4_SRC   = delivery/sigv4.c
TEST_quota_SRC   = delivery/quota.c
TEST_connguard_SRC = delivery/connguard.c
TEST_auth_SRC    = delivery/auth.c delivery/auth_hdr.c delivery/sigv4.c \
                   $(CFG_SRC) $(KEYS_SRC) $(JQX_SRC)
TEST_awscred_SRC = delivery/awscred.c
TEST_keys_SRC    = $(KEYS_SRC)
TEST_codec_SRC   = destinations/codec.c
TEST_sink_SRC    = destinations/sink.c destinations/codec.c \
                   tests/fakes/fake_dest.c
TEST_s3_SRC      = destinations/s3.c delivery/httpc.c delivery/sigv4.c \
                   delivery/awscred.c
TEST_jscan_SRC   = delivery/jscan.c
TEST_crc32c_SRC  = delivery/crc32c.c
TEST_kpl_SRC     = delivery/kpl.c
TEST_kenv_SRC    = delivery/kenv.c
TEST_kcheckpoint_SRC = $(SPOOL_SRC) delivery/trim.c delivery/crc32c.c
TEST_lease_SRC   = delivery/lease.c
TEST_kinesis_SRC = delivery/kinesis.c delivery/jscan.c delivery/awsjson.c \
                   delivery/httpc.c delivery/sigv4.c delivery/awscred.c
TEST_ddb_SRC     = delivery/ddb.c delivery/lease.c delivery/awsjson.c \
                   delivery/kinesis.c delivery/jscan.c delivery/httpc.c delivery/sigv4.c \
                   delivery/awscred.c tests/fakes/fake_httpd.c
TEST_errdoc_SRC  = delivery/errdoc.c
TEST_xform_SRC   = transforms/xform.c transforms/xform_vm.c \
                   transforms/xform_lib.c delivery/errdoc.c
TEST_http_dest_SRC = destinations/http.c destinations/reasons.c delivery/httpc.c $(CFG_SRC) \
                   $(KEYS_SRC) tests/fakes/fake_httpd.c $(JQX_SRC)
TEST_opensearch_SRC = destinations/opensearch.c destinations/reasons.c delivery/httpc.c \
                   delivery/sigv4.c delivery/awscred.c $(CFG_SRC) \
                   $(KEYS_SRC) tests/fakes/fake_httpd.c $(JQX_SRC)
TEST_dash_SRC    = $(filter-out delivery/main.c,$(CORE_SRC))
TEST_api_SRC     = $(filter-out delivery/main.c,$(CORE_SRC))
TEST_control_SRC = $(filter-out delivery/main.c,$(CORE_SRC))
TEST_agent_cfg_SRC   = agent/acfg.c
TEST_agent_ckpt_SRC  = agent/ckpt.c
TEST_agent_lines_SRC = agent/lines.c
TEST_agent_tail_SRC  = agent/tail.c agent/lines.c agent/ckpt.c agent/acfg.c
TEST_agent_ship_SRC  = agent/ship.c delivery/httpc.c delivery/sigv4.c \
                       delivery/awscred.c tests/fakes/fake_httpd.c

.SECONDARY:
.SECONDEXPANSION:
$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o \
        $$(addprefix $(BUILD)/,$$(subst .c,.o,$$(sort $(BASE_SRC) $$(TEST_$$*_SRC))))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

# libFuzzer targets (clang), never part of make test:
#   make fuzz FUZZ_SECONDS=60 [FUZZ_TARGETS="jscan auth"]
FUZZ_TARGETS ?= jscan cfg auth spool keys xform jqx kpl getrecords
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_CFLAGS   = -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=undefined \
                $(filter-out -O2 -g -MMD -MP,$(CFLAGS))
FUZZ_jscan_SRC = delivery/jscan.c
FUZZ_cfg_SRC   = $(CFG_SRC) $(KEYS_SRC) $(JQX_SRC)
FUZZ_auth_SRC  = delivery/auth.c delivery/auth_hdr.c delivery/sigv4.c
FUZZ_spool_SRC = $(SPOOL_SRC) delivery/trim.c delivery/crc32c.c
FUZZ_keys_SRC  = $(KEYS_SRC)
FUZZ_xform_SRC = transforms/xform.c transforms/xform_vm.c \
                 transforms/xform_lib.c delivery/errdoc.c
build-fuzz/fuzz_xform: FUZZ_CFLAGS += -I/usr/include/lua5.4
FUZZ_jqx_SRC   = transforms/proc.c $(JQX_SRC)
FUZZ_kpl_SRC   = delivery/kpl.c
FUZZ_getrecords_SRC = delivery/kinesis.c delivery/jscan.c delivery/awsjson.c \
                 delivery/httpc.c delivery/sigv4.c delivery/awscred.c

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(sort $(BASE_SRC) $$(FUZZ_$$*_SRC))
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(LIBS)

fuzz: $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)
	@sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

$(BUILD)/loadgen: $(BUILD)/tests/bench/loadgen.o
	$(CC) $(LDFLAGS) -o $@ $^ -pthread -lz

XFORM_BENCH_SRC = tests/bench/xform_bench.c tests/bench/benchutil.c \
                  transforms/xform.c transforms/xform_vm.c transforms/xform_lib.c \
                  delivery/errdoc.c $(BASE_SRC)
$(BUILD)/xform_bench: $(XFORM_BENCH_SRC:%.c=$(BUILD)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

PROC_BENCH_SRC = tests/bench/proc_bench.c tests/bench/benchutil.c \
                 transforms/proc.c $(JQX_SRC) $(BASE_SRC)
$(BUILD)/proc_bench: $(PROC_BENCH_SRC:%.c=$(BUILD)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

GETRECORDS_BENCH_SRC = tests/bench/getrecords_bench.c \
                  tests/bench/benchutil.c delivery/kinesis.c \
                  delivery/jscan.c delivery/awsjson.c delivery/httpc.c \
                  delivery/sigv4.c delivery/awscred.c $(BASE_SRC)
$(BUILD)/getrecords_bench: $(GETRECORDS_BENCH_SRC:%.c=$(BUILD)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

DEST_BENCH_SRC = tests/bench/dest_bench.c tests/fakes/fake_httpd.c \
                 destinations/http.c destinations/opensearch.c \
                 destinations/reasons.c \
                 delivery/httpc.c delivery/sigv4.c delivery/awscred.c \
                 $(CFG_SRC) $(KEYS_SRC) $(JQX_SRC) $(BASE_SRC)
$(BUILD)/dest_bench: $(DEST_BENCH_SRC:%.c=$(BUILD)/%.o)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

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

integration: firehosed firehosed-agent
	@bash tests/integration/run.sh

# A few integration tests on the ASan/UBSan binary:
#   make SANITIZE=address,undefined san-integration [SAN_TESTS="t_local"]
# Every sanitizer report (any process, leaks at exit included) lands in
# $(BUILD)/san-logs/ and fails the run.
SAN_TESTS ?= t_local t_crash t_quota
san-integration: $(BUILD)/firehosed
	@rm -rf $(BUILD)/san-logs && mkdir -p $(BUILD)/san-logs
	@ASAN_OPTIONS=log_path=$(CURDIR)/$(BUILD)/san-logs/asan \
	 UBSAN_OPTIONS=log_path=$(CURDIR)/$(BUILD)/san-logs/ubsan:print_stacktrace=1 \
	 FIREHOSED=$(CURDIR)/$(BUILD)/firehosed ONLY="$(SAN_TESTS)" \
	 bash tests/integration/run.sh
	@if [ -n "$$(ls $(BUILD)/san-logs)" ]; then \
	  echo "sanitizer reports in $(BUILD)/san-logs:"; \
	  head -n 30 $(BUILD)/san-logs/*; exit 1; fi

# Unit tests run twice: plain and under ASan/UBSan (cheap, and it catches
# what the plain build hides).
test: deps-test
	$(MAKE) all unit
	$(MAKE) SANITIZE=address,undefined unit
	$(MAKE) fuzz FUZZ_SECONDS=3
	$(MAKE) integration
	$(MAKE) SANITIZE=address,undefined san-integration

valgrind: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do \
	  valgrind -q --error-exitcode=1 --leak-check=full $$t || exit 1; done

bench: deps-test firehosed $(BUILD)/loadgen $(BUILD)/xform_bench \
       $(BUILD)/dest_bench $(BUILD)/proc_bench
	@bash tests/bench/run.sh $(BUILD)/loadgen

# Issue 9's suite: pipelines 1-5 against measured limits (about 8 minutes
# with the defaults); JSON into bench/results/.
$(BUILD)/sink: tests/bench/sink.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
$(BUILD)/fsync_bench: tests/bench/fsync_bench.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<
bench-suite: deps-test firehosed $(BUILD)/loadgen $(BUILD)/sink \
             $(BUILD)/fsync_bench
	@bash tests/bench/suite.sh $(BUILD)

clean:
	rm -rf build build-san build-fuzz firehosed firehosed-agent

-include $(CORE_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(AGENT_OBJ:.o=.d) \
         $(UNIT_TESTS:%=$(BUILD)/tests/unit/test_%.d)
