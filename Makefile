# Entry point of the project. Everything runs as root inside a Debian trixie
# build root kept in the cache (DRVCORE_CACHE, default /var/cache/drvcore);
# nothing is installed on the host besides debootstrap.

CACHE := $(or $(DRVCORE_CACHE),/var/cache/drvcore)
ROOT := $(CACHE)/trixie
SH := bash scripts

.PHONY: help check check-debug stress removal hotplug check-misuse lint run rustdoctest e2e bench bench-icount shell rust-analyzer build toolchain tree patches bisect clean distclean

help:
	@echo 'Targets:'
	@echo '  check        the full test run: KUnit (Rust doctests and suites), the'
	@echo '               compile-fail catalogue and the end-to-end boot of the sample,'
	@echo '               then KUnit and the boot again for arm64 (CHECK_ARM64=0: not);'
	@echo '               ends with "N passed, N failed"'
	@echo '  check-debug  the KUnit suites under KASAN and lockdep (own build)'
	@echo '  stress       unbind/bind cycles, racing accessors and fault-injected probes'
	@echo '               on the debug kernel (STRESS_CYCLES, STRESS_FAULT_PROBES,'
	@echo '               STRESS_SAMPLE_CYCLES, STRESS_REMOVAL_CYCLES, STRESS_TIMEOUT); needs'
	@echo '               check-debug first'
	@echo '  removal      surprise removal on the debug kernel: sysfs remove and rescan'
	@echo '               (STRESS_REMOVAL_CYCLES, default 1,000) while accessor threads use'
	@echo '               MMIO, DMA and interrupts, the removed devices checked through'
	@echo '               references kept past their removal (single-threaded TCG;'
	@echo '               QEMU_ACCEL=tcg for the multi-threaded one); needs check-debug first'
	@echo '  hotplug      real hot-unplug on the debug kernel: QMP device_del/device_add of'
	@echo '               an edu behind a PCIe root port of q35 (HOTPLUG_CYCLES, default 20)'
	@echo '  check-misuse the compile-fail catalogue (tests/misuse/): each misuse of the'
	@echo '               API must be refused with its rustc error; on the existing build'
	@echo '  audit        check that every unsafe block and impl has a SAFETY comment and'
	@echo '               every unsafe fn a "# Safety" section (no build needed)'
	@echo '  lint         rustfmt, clippy and rustdoc on the current build'
	@echo '  run          build the kernel and boot the sample driver under QEMU'
	@echo '  rustdoctest  build the kernel and run the KUnit suites under QEMU'
	@echo '  e2e          boot the sample driver under QEMU on the existing build'
	@echo '  bench        time the Rust bindings against the same C calls in one boot,'
	@echo '               and compare the sample with its C twin (size, end-to-end checks)'
	@echo '               (modules built against the existing build; table in'
	@echo '               $(CACHE)/logs/bench.txt)'
	@echo '  bench-icount the same in guest instructions (QEMU -icount): rows that repeat'
	@echo '               whatever the host load (table in $(CACHE)/logs/bench-icount.txt)'
	@echo '  shell        boot the built kernel in QEMU with two edu devices and a shell on'
	@echo '               the console (sample module in /modules; poweroff or Ctrl-A X'
	@echo '               ends it; SHELL_EDU=N, SHELL_ARCH=arm64, SHELL_DEBUG=1,'
	@echo '               SHELL_QEMU_ARGS=...); on the existing build'
	@echo '  rust-analyzer write rust-project.json (for editors) at the checkout root,'
	@echo '               from the existing build; RA_CHECK=1 also checks it with rust-analyzer'
	@echo '  build        build the kernel and modules only'
	@echo '  toolchain    provision the build root in $(ROOT)'
	@echo '  tree         lay out the kernel tree with the patches and the overlay'
	@echo '  patches      run scripts/patches.sh (the patch series in patches/)'
	@echo '  bisect       export the series, apply it onto the pristine base one patch'
	@echo '               at a time and build each step (own clone and build directory);'
	@echo '               ends with "N passed, N failed"'
	@echo '  clean        remove the build output ($(ROOT)/build/out, out-arm64)'
	@echo '  distclean    remove the whole cache ($(CACHE))'
	@echo 'DRVCORE_ARCH=arm64 makes build, run, rustdoctest and e2e work on the arm64'
	@echo 'build (QEMU virt with an SMMUv3) instead of x86_64.'

check:
	$(SH)/check.sh

check-debug:
	$(SH)/check-debug.sh

stress:
	$(SH)/stress.sh

removal:
	STRESS_CYCLES=0 STRESS_FAULT_PROBES=0 STRESS_SAMPLE_CYCLES=0 \
		STRESS_REMOVAL_CYCLES=$${STRESS_REMOVAL_CYCLES:-1000} \
		STRESS_TIMEOUT=$${STRESS_TIMEOUT:-3000} \
		QEMU_ACCEL=$${QEMU_ACCEL:-tcg,thread=single} $(SH)/stress.sh

hotplug:
	$(SH)/hotplug.sh

check-misuse:
	$(SH)/misuse.sh

audit:
	$(SH)/unsafe-audit.sh

lint:
	$(SH)/lint.sh

toolchain:
	$(SH)/toolchain.sh

tree: toolchain
	$(SH)/tree.sh

build: tree
	$(SH)/kunit.sh --build-only

run: build
	$(SH)/e2e.sh

rustdoctest: tree
	$(SH)/kunit.sh

e2e:
	$(SH)/e2e.sh

bench:
	$(SH)/bench.sh

bench-icount:
	BENCH_ICOUNT=1 $(SH)/bench.sh

shell:
	$(SH)/shell.sh

rust-analyzer:
	$(SH)/rust-analyzer.sh

patches:
	$(SH)/patches.sh

bisect: toolchain
	$(SH)/bisect.sh

clean:
	rm -rf '$(ROOT)/build/out' '$(ROOT)/build/e2e' '$(ROOT)/build/out-arm64' '$(ROOT)/build/e2e-arm64'

# The root may have /proc, /sys and /dev mounted while a build runs: refuse
# then, and never cross into another file system.
distclean:
	@if grep -qF ' $(CACHE)/' /proc/self/mounts; then \
		echo 'error: file systems are mounted under $(CACHE); is a build running?' >&2; \
		exit 1; \
	fi
	rm -rf --one-file-system '$(CACHE)'
