# Basalt: one static binary that runs LAVA test jobs.
GO ?= go
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
BIN := build/basalt
STATICCHECK_VERSION := v0.8.2

FIXTURES := build/fixtures/x86_64
FIXTURES_ARM64 := build/fixtures/arm64

.PHONY: all build deps lava-peers lavacli2 check test test-fast lint fuzz bench example example-multinode example-tuxrun example-lab example-lxc-arm64 example-board example-x86-boards fixtures fixtures-arm64 lxc-images fixtures-check clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/basalt

# deps installs what building and testing need on a Debian machine
# (chromium: the web pages' tests, internal/webe2e, drive it headless;
# docker.io and busybox-static: the docker tests start their own dockerd,
# internal/docker/dockertest, and import an image of busybox and bash;
# openssh-server: the ssh device tests start their own sshd with a busybox
# chroot, internal/sshdtest; lxc: the LXC protocol's tests,
# internal/lxce2e, run busybox-template containers as root; wget and
# qemu-user-static: LXC's download template fetches with wget, and the
# foreign-architecture tests run arm64 containers through qemu-user;
# telnet: the serial connection commands of boards, internal/connection and
# the board tests; nfs-ganesha: the jobs' NFS roots, internal/nfsserver).
deps:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	if ! command -v git >/dev/null || ! command -v qemu-system-x86_64 >/dev/null || ! PATH=$$PATH:/usr/sbin:/sbin command -v mkfs.ext2 >/dev/null \
		|| ! command -v xz >/dev/null || ! command -v bzip2 >/dev/null || ! command -v zstd >/dev/null || ! command -v curl >/dev/null \
		|| ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v lavacli >/dev/null || ! command -v chromium >/dev/null \
		|| ! PATH=$$PATH:/usr/sbin:/sbin command -v dockerd >/dev/null || ! command -v busybox >/dev/null || ! test -x /usr/sbin/sshd \
		|| ! command -v lxc-create >/dev/null || ! command -v wget >/dev/null || ! test -e /usr/lib/binfmt.d/qemu-aarch64.conf \
		|| ! command -v telnet >/dev/null || ! command -v ganesha.nfsd >/dev/null || ! test -e /usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so \
		|| ! /usr/bin/python3 -c 'import requests, yaml' 2>/dev/null; then \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			git ca-certificates curl make e2fsprogs qemu-system-x86 xz-utils bzip2 zstd postgresql lavacli chromium fonts-dejavu-core \
			python3-requests python3-yaml docker.io busybox-static openssh-server openssh-client lxc wget qemu-user-static telnet \
			nfs-ganesha nfs-ganesha-vfs >/dev/null; \
	fi
	@# iproute2: the VLANd tests (internal/vland, internal/e2e) make namespaces, veth pairs and bridges.
	@PATH=$$PATH:/usr/sbin:/sbin command -v ip >/dev/null || { if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends iproute2 >/dev/null; }
	$(GO) mod download
	@command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@$(MAKE) --no-print-directory lava-peers lavacli2

# lavacli2 fetches lavacli 2.x from Debian unstable into $(LAVACLI2) (a
# private apt sources list: the system's are not touched); the lab
# end-to-end tests (internal/labe2e) run it and Debian's own lavacli 1.2
# (installed by deps) against `basalt server`.
LAVACLI2 := build/lavacli2
lavacli2:
	@scripts/get-lavacli2.sh $(LAVACLI2)

# lava-peers installs the LAVA 2023.01 programs the MultiNode interop tests
# run as real peers: Debian's lava-coordinator (small: Python and YAML),
# and the lava_dispatcher Python package for its MultiNode protocol client;
# and Debian's aiosmtpd, the SMTP server the e-mail notification tests send
# to (internal/notify/smtptest).
# The whole lava-dispatcher package would pull libguestfs (~700 MB), so
# unless it is installed already its files are unpacked into
# $(LAVA_PEERS) (apt-get download + dpkg -x: ~2 MB) and the tests put
# that first on PYTHONPATH.
LAVA_PEERS := build/lava-peers
lava-peers:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	missing=; \
	command -v lava-coordinator >/dev/null || missing="$$missing lava-coordinator"; \
	for p in python3-pexpect python3-requests python3-yaml python3-aiosmtpd; do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "lava-peers: installing$$missing"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi; \
	if ! /usr/bin/python3 -c 'import lava_dispatcher.protocols.multinode' 2>/dev/null && [ ! -d $(LAVA_PEERS)/usr/lib/python3/dist-packages/lava_dispatcher ]; then \
		echo "lava-peers: unpacking lava-dispatcher into $(LAVA_PEERS)"; \
		rm -rf $(LAVA_PEERS).tmp && mkdir -p $(LAVA_PEERS).tmp && \
		(cd $(LAVA_PEERS).tmp && apt-get download -qq lava-dispatcher >/dev/null && dpkg -x lava-dispatcher_*.deb root) && \
		rm -rf $(LAVA_PEERS) && mv $(LAVA_PEERS).tmp/root $(LAVA_PEERS) && rm -rf $(LAVA_PEERS).tmp; \
	fi

# fixtures builds the x86_64 guest the example jobs boot: Debian's kernel,
# a busybox initramfs, the same as an ext4 root file system and a test
# definitions tarball in $(FIXTURES) (fixtures/README.md); and the GRUB
# netboot image the emulated x86_64 boards PXE-boot, with their firmware
# (OVMF, iPXE) installed from Debian (fixtures/build-x86-firmware.sh). No root
# needed beyond installing the Debian packages it is made from, when missing.
fixtures:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	missing=; \
	dpkg-query -W -f='$${Status}\n' busybox-static 2>/dev/null | grep -q 'ok installed' || missing="$$missing busybox-static"; \
	ls /boot/vmlinuz-* >/dev/null 2>&1 && ls -d /lib/modules/*/kernel >/dev/null 2>&1 || missing="$$missing linux-image-amd64"; \
	command -v cpio >/dev/null || missing="$$missing cpio"; \
	PATH=$$PATH:/usr/sbin:/sbin command -v depmod >/dev/null || missing="$$missing kmod"; \
	PATH=$$PATH:/usr/sbin:/sbin command -v mkfs.ext4 >/dev/null || missing="$$missing e2fsprogs"; \
	command -v zstd >/dev/null || missing="$$missing zstd"; \
	test -f /usr/share/OVMF/OVMF_CODE_4M.fd || missing="$$missing ovmf"; \
	test -f /usr/lib/grub/x86_64-efi/linux.mod || missing="$$missing grub-efi-amd64-bin"; \
	test -f /usr/lib/ipxe/qemu/efi-virtio.rom || missing="$$missing ipxe-qemu"; \
	if [ -n "$$missing" ]; then \
		echo "fixtures: installing$$missing"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	fixtures/build.sh $(FIXTURES)
	fixtures/build-x86-firmware.sh $(FIXTURES)/boards

# lxc-images builds the image server tree the foreign-architecture LXC
# tests serve to LXC's download template (internal/lxce2e): Debian's arm64
# busybox-static as a pre-built root file system, in $(LXC_IMAGES)
# (fixtures/build-lxc-images.sh; the .deb comes through a private apt
# configuration, the system's is not touched). Built once, then cached.
LXC_IMAGES := build/fixtures/lxc-images
lxc-images:
	fixtures/build-lxc-images.sh $(LXC_IMAGES)

# fixtures-arm64 builds the arm64 board the U-Boot example and tests boot
# over TFTP (fixtures/build-arm64.sh): Debian's arm64 kernel and
# busybox-static, fetched through a private apt configuration (the
# system's sources and architectures are left alone), and the device tree
# of QEMU's virt machine, in $(FIXTURES_ARM64). It installs the board's
# host tools when missing: QEMU for arm64, Debian's U-Boot for it, mkimage
# and telnet.
fixtures-arm64:
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	missing=; \
	command -v qemu-system-aarch64 >/dev/null || missing="$$missing qemu-system-arm"; \
	test -f /usr/lib/u-boot/qemu_arm64/u-boot.bin || missing="$$missing u-boot-qemu"; \
	command -v mkimage >/dev/null || missing="$$missing u-boot-tools"; \
	command -v telnet >/dev/null || missing="$$missing telnet"; \
	command -v cpio >/dev/null || missing="$$missing cpio"; \
	if [ -n "$$missing" ]; then \
		echo "fixtures-arm64: installing$$missing"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	fixtures/build-arm64.sh $(FIXTURES_ARM64)

# fixtures-check boots the fixtures under QEMU (TCG) and checks the login,
# the prompt and the overlay drive mount a LAVA job relies on.
fixtures-check: fixtures
	fixtures/boot-check.sh $(FIXTURES) ide

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	staticcheck ./...

# test builds the fixtures first: the end-to-end tests boot them under
# QEMU, and with BASALT_E2E=1 a missing fixture fails instead of skipping.
# A private PostgreSQL server runs for the duration (scripts/with-postgres.sh)
# so that the store's tests run on PostgreSQL as well as SQLite.
test: fixtures fixtures-arm64 lxc-images
	BASALT_E2E=1 BASALT_LAVA_PYTHONPATH=$(if $(wildcard $(LAVA_PEERS)/usr/lib/python3/dist-packages),$(CURDIR)/$(LAVA_PEERS)/usr/lib/python3/dist-packages) \
		BASALT_LAVACLI2=$(CURDIR)/$(LAVACLI2)/lavacli \
		scripts/with-postgres.sh $(GO) test -count=1 -timeout 30m ./...

# test-fast is the inner loop: every test that needs neither QEMU nor the
# fixtures (those skip under -short: the boot tests and internal/e2e).
# CI runs them all (make check).
test-fast:
	$(GO) test -short -count=1 ./...

# check is what CI runs: lint, then every test (the LAVA corpus tests run
# when ../shared/lava-corpus is present and skip otherwise).
check: lint test

# example runs the bundled QEMU job end to end (examples/qemu/README.md):
# it builds the fixtures and basalt, serves the fixtures on 127.0.0.1:8000
# for the job's downloads (stopped however the run ends) and runs
# "basalt run"; logs and results go to build/example-output.
example: fixtures build
	BASALT=$(BIN) FIXTURES=$(FIXTURES) OUTPUT_DIR=build/example-output examples/run.sh qemu

# example-x86-boards runs the emulated x86_64 board jobs (examples/x86-boards):
# GRUB, the UEFI shell and iPXE under OVMF, powered and reached as a lab
# reaches real boards, the kernel and ramdisk over TFTP; each board's
# folder and the TFTP root are under /tmp/basalt-x86-boards.
example-x86-boards: fixtures build
	BASALT=$(BIN) FIXTURES=$(FIXTURES) OUTPUT_DIR=build/example-x86-boards examples/x86-boards/run.sh

# example-board runs the bundled U-Boot board job (examples/board): an
# emulated arm64 board powered and reached the way a lab reaches a real
# one, its kernel over TFTP. The board's TFTP root and state folder are
# under /tmp/basalt-board (examples/board/dispatcher.yaml, device.jinja2);
# logs and results under build/example-board.
example-board: fixtures-arm64 build
	BASALT=$(BIN) FIXTURES=$(FIXTURES_ARM64) OUTPUT_DIR=build/example-board examples/run.sh board

# example-multinode runs the bundled MultiNode group (examples/multinode):
# a server and a client guest at once, with basalt's own coordinator;
# each sub-job's logs and results go to build/example-multinode/ROLE-N.
example-multinode: fixtures build
	BASALT=$(BIN) FIXTURES=$(FIXTURES) OUTPUT_DIR=build/example-multinode examples/run.sh multinode

# example-tuxrun runs a job in the shape of TuxRun's (examples/tuxrun):
# the ext4 root file system with the LAVA overlay put into it, the test
# definitions from a zstd tarball, signals through the kernel log.
example-tuxrun: fixtures build
	BASALT=$(BIN) FIXTURES=$(FIXTURES) OUTPUT_DIR=build/example-tuxrun examples/run.sh tuxrun

# example-lab runs a LAVA lab on this machine (examples/lab/README.md):
# basalt server, basalt worker with two QEMU devices, and Debian's lavacli
# submitting examples/qemu/job.yaml and reading back its log and results;
# ports of the system's choosing, everything in build/example-lab.
example-lab: fixtures build
	BASALT=$(BIN) FIXTURES=$(FIXTURES) LAB_DIR=build/example-lab examples/lab/run.sh

# example-lxc-arm64 runs the foreign-architecture LXC example
# (examples/lxc-arm64): an arm64 container from the image server of
# build/fixtures/lxc-images, served over HTTPS on 127.0.0.1 for the run.
# Needs root and qemu-user-static's aarch64 binfmt handler.
example-lxc-arm64: lxc-images build
	BASALT=$(BIN) IMAGES=$(LXC_IMAGES) OUTPUT_DIR=build/example-lxc-arm64 examples/lxc-arm64/run.sh

fuzz:
	$(GO) test ./internal/job -run '^$$' -fuzz FuzzParse -fuzztime $${FUZZTIME:-60s}
	$(GO) test ./internal/value -run '^$$' -fuzz FuzzParseYAML -fuzztime $${FUZZTIME:-60s}
	$(GO) test ./internal/jinja -run '^$$' -fuzz FuzzRender -fuzztime $${FUZZTIME:-60s}
	$(GO) test ./internal/dispatcher -run '^$$' -fuzz FuzzDescribe -fuzztime $${FUZZTIME:-60s}
	$(GO) test ./internal/vland -run '^$$' -fuzz FuzzMakePlan -fuzztime $${FUZZTIME:-60s}

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf build
