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
# The OCI runtime-tools suite (tests/conformance) is built with Debian's Go.
TEST_APT_PACKAGES += golang-go
TARGET_DIR := target/x86_64-unknown-linux-gnu
DEBUG_BIN := $(TARGET_DIR)/debug/cellos-runtime
RELEASE_BIN := $(TARGET_DIR)/release/cellos-runtime
# What `make bench` needs besides the build (Debian package names).
BENCH_APT_PACKAGES := runc crun bubblewrap hyperfine time gcc libc6-dev python3 util-linux
# Knobs passed to bench/run.sh: iterations, concurrent containers, rounds.
BENCH_ITERS ?= 30
BENCH_CONC ?= 50
BENCH_CONC_ROUNDS ?= 3

# Install the Debian packages in $(1) that are missing (root; no-op when all are there).
apt_ensure = missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

.PHONY: all deps test-deps build release fixtures test unit demo install bench clean lint soak

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
	$(CARGO) build --release --bins

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
test: build fixtures test-deps
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
	install -D -s -m 0755 $(TARGET_DIR)/release/cellos-supervisor $(DESTDIR)$(PREFIX)/bin/cellos-supervisor

# Lifecycle latency: cellos-runtime vs crun vs runc (and a cell vs bwrap).
# Prints a table and writes bench/results/latest.json (see bench/README.md).
bench: deps fixtures
	@$(call apt_ensure,$(BENCH_APT_PACKAGES))
	$(CARGO) build --release
	BENCH_ITERS=$(BENCH_ITERS) BENCH_CONC=$(BENCH_CONC) BENCH_CONC_ROUNDS=$(BENCH_CONC_ROUNDS) bash bench/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	rm -rf $(BUSYBOX_ROOTFS)
	$(CARGO) clean
