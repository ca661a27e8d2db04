# SPDX-License-Identifier: GPL-2.0-or-later
# The front door. Every target installs what it needs first (scripts/install-deps.sh, idempotent).
#   make demo    build and run the main job on the embedded default topology
#   make check   build with gcc, clang and ASan+UBSan, then run every test suite
#   make deb     build the Debian package into build/deb
#   make fuzz    run every libFuzzer target FUZZ_SECONDS seconds (clang, ASan+UBSan)
FUZZ_SECONDS ?= 60

.PHONY: all deps build check demo fuzz install clean format

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

# make bench: mpconv against haproxy, shadowsocks-libev, dante and no proxy (bench/run.sh, root,
# about 15 minutes); appends a dated section to bench/RESULTS.md
.PHONY: bench
bench: deps
	@bash bench/run.sh --record

# make install [PREFIX=/usr/local] [DESTDIR=stage]: mpconvd, mpconvctl, systemd units, sysusers and
# tmpfiles snippets, man pages, example configs (docs/man, etc/, packaging/). A build of its own
# without tests (nor -Werror: a newer compiler's warning must not stop an install), set up again
# when PREFIX changes, so build/gcc is never reconfigured.
install: PREFIX ?= /usr/local
install: deps
	@[ "$$(cat build/install/.prefix 2>/dev/null)" = "$(PREFIX)" ] || { rm -rf build/install && \
		CC=gcc meson setup build/install -Dtests=false --prefix="$(PREFIX)" >/dev/null && \
		echo "$(PREFIX)" >build/install/.prefix; }
	@ninja -C build/install
	@meson install -C build/install --no-rebuild $(if $(DESTDIR),--destdir "$(abspath $(DESTDIR))")

# make deb: the Debian package (debian/), built in a temporary copy of the worktree so nothing
# lands beside the checkout; mpconv_*.deb in build/deb/ (scripts/build-deb.sh)
.PHONY: deb
deb: deps
	@bash scripts/build-deb.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
