# cellos-runtime: build, fixtures, tests, demo, bench.
SHELL := /bin/bash
PREFIX ?= /usr/local
CARGO ?= cargo
BUSYBOX_ROOTFS := bundle-fixtures/busybox/rootfs
APT_PACKAGES := busybox-static libseccomp-dev libc6-dev pkg-config runc crun
# What the end-to-end suite (tests/e2e) drives: the engines and their helpers.
TEST_APT_PACKAGES := containerd podman conmon catatonit fuse-overlayfs slirp4netns uidmap \
	bubblewrap jq procps bsdutils python3 python3-grpcio
# The security tests compile static C attack helpers and build a squashfs.
TEST_APT_PACKAGES += gcc libc6-dev squashfs-tools
# runtime_security and runtime_crash trace the runtime's own syscalls.
TEST_APT_PACKAGES += strace
# The OCI runtime-tools suite (tests/conformance) is built with Debian's Go.
TEST_APT_PACKAGES += golang-go
RUSTC ?= rustc
# Plain `cargo build` is the host's default build (target/debug, dynamic).
DEBUG_BIN := target/debug/cellos-runtime
# `make release` is the tuned build (small code, hot functions first), for
# the host triple given explicitly: with --target, RUSTFLAGS reach our binaries but not build
# scripts or proc-macros (which cannot run +crt-static).
HOST_TRIPLE := $(shell $(RUSTC) -vV 2>/dev/null | sed -n 's/^host: //p')
TARGET_DIR := target/$(HOST_TRIPLE)
RELEASE_BIN := $(TARGET_DIR)/release/cellos-runtime
RELEASE_SUPERVISOR := $(TARGET_DIR)/release/cellos-supervisor
# A static-pie executable: the runtime runs once per container verb, so
# start-up is on every path, and a static binary needs no dynamic loader and
# no shared libraries to map. It stays position-independent (ASLR): the
# runtime runs as root and parses untrusted JSON, so a fixed address layout
# is not worth the few relocations it saves at start-up (measured with
# `make bench`, see README). Relative relocations are packed (DT_RELR).
# The runtime never calls glibc's NSS (see src/user.rs): a static glibc would
# dlopen the image's libnss_*.so for it. Appended to the caller's RUSTFLAGS.
RELEASE_RUSTFLAGS := -C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs
# libseccomp-sys links the archive from libseccomp-dev, wherever this
# distribution keeps it (evaluated only when `release` runs).
SECCOMP_LIBDIR = $(or $(shell pkg-config --variable=libdir libseccomp 2>/dev/null),$(dir $(shell gcc -print-file-name=libseccomp.a 2>/dev/null)))
# What `make bench` needs besides the build (Debian package names).
BENCH_APT_PACKAGES := runc crun bubblewrap python3 util-linux
# Knobs passed to bench/bench.py: isolated iterations, concurrent containers, rounds.
# (Also BENCH_SAMPLES and BENCH_BURST for the sustained pattern: see bench/README.md.)
BENCH_ITERS ?= 30
BENCH_CONC ?= 50
BENCH_CONC_ROUNDS ?= 3

# Install the Debian packages in $(1) that are missing (root; no-op when all are there).
apt_ensure = missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

.PHONY: all deps test-deps build release release-dir fixtures test unit demo install deb bench clean lint soak check-hot test-hosts

all: build

# Install what a fresh Debian 12 machine lacks (root only; no-op when present).
deps:
	@$(call apt_ensure,$(APT_PACKAGES))
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (rustup)"; exit 1; }

# The engines for the end-to-end suite (root only; no-op when present).
test-deps:
	@$(call apt_ensure,$(TEST_APT_PACKAGES))

build: deps
	$(CARGO) build --bins

release: deps
	@[ -n "$(HOST_TRIPLE)" ] || { echo "release: no host triple from '$(RUSTC) -vV'"; exit 1; }
	@[ -f "$(SECCOMP_LIBDIR)/libseccomp.a" ] || { echo "release: libseccomp.a not found (libdir '$(SECCOMP_LIBDIR)'): install libseccomp-dev"; exit 1; }
	LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$(SECCOMP_LIBDIR) \
	RUSTFLAGS="$$RUSTFLAGS $(RELEASE_RUSTFLAGS)" \
	  $(CARGO) build --release --bins --target $(HOST_TRIPLE)

# Where `make release` puts its binaries, for scripts and tests.
release-dir:
	@echo $(abspath $(TARGET_DIR)/release)

# The busybox rootfs is built from Debian's busybox-static, never committed.
fixtures: $(BUSYBOX_ROOTFS)/bin/busybox

$(BUSYBOX_ROOTFS)/bin/busybox: | deps
	rm -rf $(BUSYBOX_ROOTFS)
	mkdir -p $(BUSYBOX_ROOTFS)/{bin,dev,etc,proc,sys,tmp,work,root,run,var/tmp,mnt}
	cp /bin/busybox $(BUSYBOX_ROOTFS)/bin/busybox
	for app in $$(/bin/busybox --list); do \
	  [ "$$app" = busybox ] || ln -sf busybox $(BUSYBOX_ROOTFS)/bin/$$app; done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > $(BUSYBOX_ROOTFS)/etc/passwd
	printf 'root:x:0:\nnogroup:x:65534:\n' > $(BUSYBOX_ROOTFS)/etc/group
	printf 'hello from the image\n' > $(BUSYBOX_ROOTFS)/work/image-file
	chmod 1777 $(BUSYBOX_ROOTFS)/tmp

unit: build
	$(CARGO) test --lib --bins

# Every test: unit tests and real containers (needs root).
test: build check-hot fixtures test-deps
	$(CARGO) test -- --test-threads=4

# The soak tier (CI runs it after `make test`; about a minute here): 1,000
# sequential lifecycles, 100 concurrent, 200 execs, then leak checks
# (tests/soak.rs, #[ignore]d so that plain `cargo test` skips it); and the
# property-based fuzz targets, if any, with many more cases than `make test`.
soak: build fixtures
	$(CARGO) test --test soak -- --ignored --nocapture --test-threads=1
	@if compgen -G 'tests/fuzz_*.rs' >/dev/null; then \
	  echo "PROPTEST_CASES=20000 cargo test --test 'fuzz_*'"; \
	  PROPTEST_CASES=20000 $(CARGO) test --test 'fuzz_*'; \
	fi

demo: build fixtures
	@echo "== an example bundle: $(BUSYBOX_ROOTFS)"
	$(DEBUG_BIN) --root /run/cellos-demo run --bundle bundle-fixtures/busybox demo-$$$$
	@echo "== an example cell: bundle-fixtures/cells/hello.json"
	$(DEBUG_BIN) --root /run/cellos-demo run --cell bundle-fixtures/cells/hello.json

install: release
	install -D -s -m 0755 $(RELEASE_BIN) $(DESTDIR)$(PREFIX)/bin/cellos-runtime
	install -D -s -m 0755 $(RELEASE_SUPERVISOR) $(DESTDIR)$(PREFIX)/bin/cellos-supervisor

# The Debian package (plain dpkg-deb): both binaries (release, stripped), man
# pages and bash/zsh/fish completions made from the clap definitions by
# examples/cellos-gen (built with the tests' dependencies), podman's drop-in,
# a containerd snippet.
DEB_VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_MAINTAINER ?= cellos-runtime maintainers <root@localhost>
DEB_DIR := target/deb
DEB_ROOT := $(DEB_DIR)/root
DEB := $(DEB_DIR)/cellos-runtime_$(DEB_VERSION)_$(DEB_ARCH).deb
GEN_BIN := target/debug/examples/cellos-gen

deb: release
	$(CARGO) build --example cellos-gen
	rm -rf $(DEB_ROOT) $(DEB_DIR)/gen
	$(GEN_BIN) $(DEB_DIR)/gen
	install -D -s -m 0755 $(RELEASE_BIN) $(DEB_ROOT)/usr/bin/cellos-runtime
	install -D -s -m 0755 $(RELEASE_SUPERVISOR) $(DEB_ROOT)/usr/bin/cellos-supervisor
	@# static-pie: nothing to depend on. Should that change, this stops the build.
	@for b in $(DEB_ROOT)/usr/bin/*; do \
	  if ldd $$b 2>/dev/null | grep -q '=>'; then echo "$$b links shared libraries: add Depends"; exit 1; fi; done
	install -d $(DEB_ROOT)/usr/share/man/man1
	for m in $(DEB_DIR)/gen/man/*.1; do gzip -9n -c $$m > $(DEB_ROOT)/usr/share/man/man1/$$(basename $$m).gz; done
	for c in cellos-runtime cellos-supervisor; do \
	  install -D -m 0644 $(DEB_DIR)/gen/completions/bash/$$c $(DEB_ROOT)/usr/share/bash-completion/completions/$$c; \
	  install -D -m 0644 $(DEB_DIR)/gen/completions/zsh/_$$c $(DEB_ROOT)/usr/share/zsh/vendor-completions/_$$c; \
	  install -D -m 0644 $(DEB_DIR)/gen/completions/fish/$$c.fish $(DEB_ROOT)/usr/share/fish/vendor_completions.d/$$c.fish; done
	install -D -m 0644 packaging/containers.conf $(DEB_ROOT)/usr/share/containers/containers.conf.d/cellos-runtime.conf
	install -D -m 0644 packaging/containers.conf $(DEB_ROOT)/etc/containers/containers.conf.d/cellos-runtime.conf
	install -D -m 0644 packaging/containerd-config.toml $(DEB_ROOT)/usr/share/doc/cellos-runtime/containerd-config.toml
	install -D -m 0644 packaging/copyright $(DEB_ROOT)/usr/share/doc/cellos-runtime/copyright
	install -d $(DEB_ROOT)/DEBIAN
	echo /etc/containers/containers.conf.d/cellos-runtime.conf > $(DEB_ROOT)/DEBIAN/conffiles
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e 's/@ARCH@/$(DEB_ARCH)/' \
	    -e "s/@SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)/" \
	    -e 's/@MAINTAINER@/$(DEB_MAINTAINER)/' packaging/control.in > $(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB)

# The host matrix (tests/hosts/run.sh; CI runs it after `make test`): the same
# checks on this machine and in a Debian 12 guest (systemd, pure cgroup v2)
# under QEMU TCG, against the release binaries; the .deb installed in the
# guest. The guest image is built once and cached under target/hosts/.
HOSTS_APT_PACKAGES := debootstrap qemu-system-x86 jq
HOSTS_TIMEOUT ?= 2400

test-hosts: deb fixtures test-deps
	@$(call apt_ensure,$(HOSTS_APT_PACKAGES))
	HOSTS_RELEASE_BIN=$(RELEASE_BIN) HOSTS_DEB=$(DEB) HOSTS_DEBUG_DIR=target/debug \
	  HOSTS_TIMEOUT=$(HOSTS_TIMEOUT) bash tests/hosts/run.sh

# Lifecycle latency: cellos-runtime vs crun vs runc (and a cell vs bwrap),
# isolated and back to back. Prints tables and writes
# bench/results/latest.json (see bench/README.md).
bench: check-hot fixtures
	@$(call apt_ensure,$(BENCH_APT_PACKAGES))
	BENCH_ITERS=$(BENCH_ITERS) BENCH_CONC=$(BENCH_CONC) BENCH_CONC_ROUNDS=$(BENCH_CONC_ROUNDS) \
	  python3 bench/bench.py --cellos $(RELEASE_BIN) --supervisor $(RELEASE_SUPERVISOR)

# A stale bench/hot-functions.txt only costs RSS, silently: fail instead.
check-hot: release
	bash bench/hot-check.sh $(RELEASE_BIN)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	rm -rf $(BUSYBOX_ROOTFS)
	$(CARGO) clean
