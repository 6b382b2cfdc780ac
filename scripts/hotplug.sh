#!/usr/bin/env bash
# The real hot-unplug test on the debug kernel: QEMU's device_del and
# device_add of an edu device in the hot-plug slot of a PCIe root port (q35,
# native PCIe hotplug: CONFIG_HOTPLUG_PCI_PCIE in configs/debug.config),
# driven over QMP from the host side (tests/stress/hotplug.py) while
# rust_stress runs its accessor threads (MMIO, DMA, interrupts) in removal
# mode and checks each removed device through the references it kept. It is
# scripts/stress.sh with STRESS_HOTPLUG_CYCLES set: the same module, init
# script and log checks (KASAN, lockdep, DMA-API, kmemleak, debug objects,
# WARNING...). Prints "hotplug: N passed, N failed" and writes "P F" to
# $CACHE/logs/hotplug.counts and the log to $CACHE/logs/hotplug.log.
#
# Environment: HOTPLUG_CYCLES (default 20; a cycle takes 10 to 15 s, 5 of
# which pciehp waits after the attention button), HOTPLUG_TIMEOUT (seconds,
# default 1800).
. "$(dirname "$0")/lib.sh"

HOTPLUG_CYCLES=${HOTPLUG_CYCLES:-20}
HOTPLUG_TIMEOUT=${HOTPLUG_TIMEOUT:-1800}
[[ $HOTPLUG_CYCLES =~ ^[1-9][0-9]*$ ]] || die "HOTPLUG_CYCLES must be a positive number"
[[ $HOTPLUG_TIMEOUT =~ ^[0-9]+$ ]] || die "HOTPLUG_TIMEOUT must be a number"
STRESS_HOTPLUG_CYCLES=$HOTPLUG_CYCLES STRESS_TIMEOUT=$HOTPLUG_TIMEOUT \
	exec bash "$TOP/scripts/stress.sh"
