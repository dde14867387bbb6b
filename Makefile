# A thin front to CMake so the usual verbs work: make, make run, make test,
# make install. The real build lives in CMakeLists.txt.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
TEST_BUILD ?= build-test
WERROR ?= OFF
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 10
CMAKE ?= cmake
MAKEFLAGS += --no-print-directory

.PHONY: all build run test test-quick install uninstall fuzz bench clean deps

all: build

deps:
	@scripts/deps.sh build

build: deps
	@$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DPK_TESTS=OFF -DPK_WERROR=$(WERROR) >/dev/null
	@$(CMAKE) --build $(BUILD) -j $(JOBS)

# The first screen a new user should see: what a port is, and what listens here.
run: build
	@./$(BUILD)/portkit info 80
	@echo
	@./$(BUILD)/portkit ls

# Everything: gcc release build (warnings are errors), then clang with
# ASan+UBSan and libFuzzer, then every test: unit, CLI, network (root), fuzz.
test:
	@$(MAKE) build WERROR=ON
	@scripts/deps.sh test
	@CC=clang $(CMAKE) -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPK_SANITIZE=ON -DPK_FUZZ=ON -DPK_WERROR=ON \
		-DPK_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@$(CMAKE) --build $(TEST_BUILD) -j $(JOBS)
	@cd $(TEST_BUILD) && PK_RELEASE_BIN=$(CURDIR)/$(BUILD)/portkit \
		ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# Unit and CLI tests only: a quick loop while editing.
test-quick:
	@$(MAKE) --no-print-directory test CTEST_ARGS="-L 'unit|cli'"

fuzz: build
	@$(MAKE) --no-print-directory test FUZZ_SECONDS=$(FUZZ_SECONDS) CTEST_ARGS="-L fuzz"

bench: build
	@scripts/deps.sh bench
	@bench/run-all.sh

install: build
	@DESTDIR=$(DESTDIR) $(CMAKE) --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(TEST_BUILD)
