# Reaper: build, test and install.
#
#   make                 build/containerd-shim-reaper-v2 and build/reaper-runtime
#   make test            rootless unit tests, the same under ASan + UBSan, and,
#                        as root, the kernel tests; as root it first installs
#                        missing build dependencies with apt-get
#   make root-test       kernel tests only (root)
#   make integration     end-to-end checks against a private containerd (root)
#   make demo            the greeting through a throwaway containerd (root)
#   make bench           Reaper vs runc timings and shim memory (root)
#   make install         PREFIX=/usr/local DESTDIR=
#
# Sources are picked up by folder, so adding a file needs no change here:
# src/*/*.cc and sys/*.cc form the library (the two main.cc files aside),
# tests/unit/*.cc the rootless test binary, tests/root/*.cc the root one,
# proto/**/*.proto the generated protobuf-lite code.

CXX ?= g++
PROTOC ?= protoc
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=
BUILD ?= build
SANITIZE ?=

# -Os with one section per function, so that --gc-sections can drop unused
# code from the static binaries: the shim's text shrinks from 3.1 MB to
# 2.1 MB, and with it the pages the shim keeps resident.
CXXFLAGS ?= -Os -g -ffunction-sections -fdata-sections
CXXFLAGS += -std=c++17 -Wall -Wextra -Werror -pthread
CPPFLAGS += -I. -Isrc -I$(BUILD)/gen -MMD -MP
LDFLAGS ?=
ifneq ($(SANITIZE),)
CXXFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif
# protobuf-lite is the only library the binaries use beyond the C and C++
# runtimes. The products are linked statically: a static shim maps fewer
# file pages (its resident memory fell from about 3.8 MiB to 1.8 MiB in
# scripts/bench.sh, built with -Os) and both binaries start without the
# dynamic loader.
PROTOBUF_LIBS := -lprotobuf-lite
PRODUCT_LDFLAGS := $(if $(SANITIZE),,-static -Wl,--gc-sections)
TEST_LIBS := -lgmock -lgtest -lpthread

PROTO_SOURCES := $(shell find proto -name '*.proto' | sort)
WELL_KNOWN := google/protobuf/any.proto google/protobuf/timestamp.proto google/protobuf/empty.proto
GEN_SOURCES := $(PROTO_SOURCES:proto/%.proto=$(BUILD)/gen/%.pb.cc) \
               $(WELL_KNOWN:%.proto=$(BUILD)/gen/%.pb.cc)
GEN_STAMP := $(BUILD)/gen/.stamp

MAINS := src/shim/main.cc src/runtime/main.cc
LIB_SOURCES := $(filter-out $(MAINS),$(sort $(wildcard src/*/*.cc))) $(sort $(wildcard sys/*.cc))
FAKE_SOURCES := $(sort $(wildcard fakes/*.cc))
UNIT_SOURCES := $(sort $(wildcard tests/unit/*.cc))
ROOT_SOURCES := $(sort $(wildcard tests/root/*.cc))

obj = $(patsubst %.cc,$(BUILD)/obj/%.o,$(1))
LIB_OBJECTS := $(call obj,$(LIB_SOURCES)) $(GEN_SOURCES:%.cc=%.o)
LIBRARY := $(BUILD)/libreaper.a

SHIM := $(BUILD)/containerd-shim-reaper-v2
RUNTIME := $(BUILD)/reaper-runtime
UNIT_TESTS := $(BUILD)/unit-tests
ROOT_TESTS := $(BUILD)/root-tests

.PHONY: all test unit-test sanitize-test root-test check-syscalls script-test deps \
        integration demo bench install uninstall clean
.DELETE_ON_ERROR:

all: $(SHIM) $(RUNTIME)

$(GEN_STAMP): $(PROTO_SOURCES)
	@mkdir -p $(BUILD)/gen
	$(PROTOC) -Iproto -I/usr/include --cpp_out=lite:$(BUILD)/gen $(PROTO_SOURCES)
	$(PROTOC) -I/usr/include --cpp_out=lite:$(BUILD)/gen $(WELL_KNOWN)
	@touch $@

$(GEN_SOURCES): $(GEN_STAMP)

$(BUILD)/gen/%.pb.o: $(BUILD)/gen/%.pb.cc
	$(CXX) $(CPPFLAGS) $(filter-out -Werror,$(CXXFLAGS)) -w -c $< -o $@

$(BUILD)/obj/%.o: %.cc $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

$(LIBRARY): $(LIB_OBJECTS)
	rm -f $@
	ar rcs $@ $^

$(SHIM): $(call obj,src/shim/main.cc) $(LIBRARY)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) $(PRODUCT_LDFLAGS) $^ $(PROTOBUF_LIBS) -o $@

$(RUNTIME): $(call obj,src/runtime/main.cc) $(LIBRARY)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) $(PRODUCT_LDFLAGS) $^ $(PROTOBUF_LIBS) -o $@

$(UNIT_TESTS): $(call obj,$(UNIT_SOURCES) $(FAKE_SOURCES)) $(LIBRARY)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) $^ $(PROTOBUF_LIBS) -lgmock_main $(TEST_LIBS) -o $@

$(ROOT_TESTS): $(call obj,$(ROOT_SOURCES) $(FAKE_SOURCES)) $(LIBRARY)
	$(CXX) $(CXXFLAGS) $(LDFLAGS) $^ $(PROTOBUF_LIBS) -lgmock_main $(TEST_LIBS) -o $@

# Installs what building and testing need, only when run as root and only
# what is missing; a rootless run just builds.
deps:
	@if [ "$$(id -u)" = 0 ]; then scripts/install-deps.sh build; fi

check-syscalls:
	scripts/check-no-raw-syscalls.sh

# shellcheck on every shell script, the scripts' own tests and those of the
# kind mode's kubectl driver (on fake kubectl, docker and kind programs):
# rootless, in temporary directories. /usr/bin/python3 is the interpreter
# the end-to-end tests use.
script-test:
	shellcheck -x scripts/*.sh scripts/lib/*.sh tests/scripts/*.sh .ci/run
	tests/scripts/configure_containerd_test.sh
	/usr/bin/python3 tests/e2e/kubectl_driver_test.py
	/usr/bin/python3 tests/e2e/kind_mode_test.py

unit-test: $(UNIT_TESTS)
	$(UNIT_TESTS) --gtest_brief=1

# The unit tests again under AddressSanitizer and UndefinedBehaviorSanitizer,
# in a separate build tree.
sanitize-test:
	$(MAKE) BUILD=$(BUILD)/sanitize SANITIZE=1 unit-test

root-test: $(ROOT_TESTS) all
	REAPER_TEST_BUILD=$(abspath $(BUILD)) $(ROOT_TESTS) --gtest_brief=1

test: deps
	$(MAKE) check-syscalls
	$(MAKE) script-test
	$(MAKE) all unit-test
	$(MAKE) sanitize-test
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) root-test; \
	 else echo "Not root: skipping the kernel tests (run 'sudo make root-test')."; fi

integration: all
	scripts/run-integration-tests.sh --skip-build --build-dir $(BUILD)

demo:
	scripts/demo.sh

bench: all
	scripts/bench.sh --skip-build --build-dir $(BUILD)

# The node configuration is installed only when none exists, so an
# operator's settings survive a reinstall.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(SHIM) $(RUNTIME) $(DESTDIR)$(PREFIX)/bin/
	[ -e $(DESTDIR)$(SYSCONFDIR)/reaper/reaper.conf ] || \
	  install -D -m 0644 kubernetes/reaper.conf $(DESTDIR)$(SYSCONFDIR)/reaper/reaper.conf

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/containerd-shim-reaper-v2 $(DESTDIR)$(PREFIX)/bin/reaper-runtime

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
