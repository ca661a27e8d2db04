# SPDX-License-Identifier: GPL-2.0-or-later
# The front door. Every target installs what it needs first (scripts/install-deps.sh, idempotent).
#   make demo    build and run the main job on the embedded default topology
#   make check   build with gcc, clang and ASan+UBSan, then run every test suite
#   make fuzz    run every libFuzzer target FUZZ_SECONDS seconds (clang, ASan+UBSan)
FUZZ_SECONDS ?= 60

.PHONY: all deps build check demo fuzz clean format

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@[ -f build/gcc/build.ninja ] || CC=gcc meson setup build/gcc --werror >/dev/null
	@ninja -C build/gcc

check: deps
	@bash scripts/check.sh

demo: build
	@bash scripts/demo.sh

fuzz: deps
	@bash scripts/fuzz.sh $(FUZZ_SECONDS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
