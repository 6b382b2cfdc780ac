// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the PCI glue, run against a real device.
//!
//! The suite binds test drivers to QEMU's `edu` devices (1234:11e8, started with `-device edu`):
//! it registers a driver, checks what `probe` saw, unbinds and rebinds the device through the
//! driver core, and checks that the driver data is dropped exactly once, after `remove`. It
//! binds a device through `driver_override` and checks the id data `probe` gets. Without an
//! `edu` device every case fails.

use crate::{
    bindings, c_str,
    device::{Core, RawDevice},
    device_id::IdArray,
    devres::Devres,
    error::{code::*, to_result},
    kunit::Test,
    pci::{
        self,
        testing::{self, edu_count, DevRef, TestRegistration, EDU_DEVICE, EDU_VENDOR},
    },
    prelude::*,
    str::CStr,
};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

const EDU_ID: u32 = 0x010000ed;
const ID_INFO: u32 = 42;

static TABLE: IdArray<pci::DeviceId, u32, 2> = IdArray::new([
    (pci::DeviceId::from_id(0xffff, 0xfffe), 0),
    (pci::DeviceId::from_id(EDU_VENDOR, EDU_DEVICE), ID_INFO),
]);

/// What the test drivers observed, read back by the cases.
static PROBES: AtomicUsize = AtomicUsize::new(0);
static REMOVES: AtomicUsize = AtomicUsize::new(0);
static DROPS: AtomicUsize = AtomicUsize::new(0);
/// Drops that had happened when `remove` was entered (must stay 0 per cycle).
static DROPS_BEFORE_REMOVE: AtomicUsize = AtomicUsize::new(0);
/// Bit set of the checks that `probe` made and that passed.
static PROBE_CHECKS: AtomicU32 = AtomicU32::new(0);
/// The probed device, with a reference taken by `probe`.
static PDEV: DevRef = DevRef::new();

const CHECK_IDS: u32 = 1 << 0;
const CHECK_INFO: u32 = 1 << 1;
const CHECK_LOCKED: u32 = 1 << 2;
const CHECK_DRIVER_SET: u32 = 1 << 3;
const CHECK_READ: u32 = 1 << 4;
const CHECK_BOUNDS: u32 = 1 << 5;
const CHECK_BAD_BAR: u32 = 1 << 6;
const CHECK_BUSY: u32 = 1 << 7;
const CHECK_LIVENESS: u32 = 1 << 8;
const ALL_CHECKS: u32 = (1 << 9) - 1;

fn reset() {
    PROBES.store(0, Ordering::SeqCst);
    REMOVES.store(0, Ordering::SeqCst);
    DROPS.store(0, Ordering::SeqCst);
    DROPS_BEFORE_REMOVE.store(0, Ordering::SeqCst);
    PROBE_CHECKS.store(0, Ordering::SeqCst);
}

fn check(ok: bool, bit: u32) {
    if ok {
        PROBE_CHECKS.fetch_or(bit, Ordering::SeqCst);
    }
}

fn probe_checks(pdev: &pci::Device<Core>, info: Option<&u32>) -> Result<Devres<pci::Bar<0x100>>> {
    check(
        u32::from(pdev.vendor_id()) == EDU_VENDOR && u32::from(pdev.device_id()) == EDU_DEVICE,
        CHECK_IDS,
    );
    // The second entry matched: its data, not the first entry's.
    check(info == Some(&ID_INFO), CHECK_INFO);
    let dev = pdev.raw_device();
    // SAFETY: `dev` is valid for the callback; reading the lock state and the driver pointer
    // has no side effects.
    unsafe {
        check(
            bindings::mutex_is_locked(&raw mut (*dev).mutex),
            CHECK_LOCKED,
        );
        check(!(*dev).driver.is_null(), CHECK_DRIVER_SET);
    }
    pdev.enable_device_mem()?;
    let devres_bar = pdev.iomap_region_sized::<0x100>(0, c_str!("rust-pci-test"))?;
    let bar = devres_bar.access(pdev.as_ref())?;
    check(bar.read32::<0x00>() == EDU_ID, CHECK_READ);
    let len = bar.maxsize();
    check(
        bar.try_read32(len) == Err(EINVAL)
            && bar.try_read32(len - 2) == Err(EINVAL)
            && bar.try_read32(2) == Err(EINVAL)
            && bar.try_write32(0, usize::MAX - 1) == Err(EINVAL)
            && bar.try_read8(len - 1).is_ok(),
        CHECK_BOUNDS,
    );
    check(
        pdev.iomap_region_sized::<0>(6, c_str!("x")).err() == Some(EINVAL)
            && pdev.iomap_region_sized::<0x200000>(0, c_str!("x")).err() == Some(EINVAL),
        CHECK_BAD_BAR,
    );
    check(
        pdev.iomap_region_sized::<0>(0, c_str!("x")).err() == Some(EBUSY),
        CHECK_BUSY,
    );
    // The liveness register returns the complement of what was written.
    bar.write32::<0x04>(0x1234_5678);
    check(bar.read32::<0x04>() == !0x1234_5678, CHECK_LIVENESS);
    Ok(devres_bar)
}

struct GoodDriver {
    _bar: Devres<pci::Bar<0x100>>,
}

impl pci::Driver for GoodDriver {
    type IdInfo = u32;
    const ID_TABLE: pci::IdTable<u32> = &TABLE;

    fn probe(pdev: &pci::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, Ordering::SeqCst);
        let bar = probe_checks(pdev, info)?;
        PDEV.keep_first(pdev);
        Ok(KBox::pin(GoodDriver { _bar: bar }, GFP_KERNEL)?)
    }

    fn remove(_pdev: &pci::Device<Core>, _this: Pin<&Self>) {
        REMOVES.fetch_add(1, Ordering::SeqCst);
        DROPS_BEFORE_REMOVE.fetch_add(
            DROPS.load(Ordering::SeqCst) + 1 - REMOVES.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
    }
}

impl Drop for GoodDriver {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

struct FailingDriver;

impl pci::Driver for FailingDriver {
    type IdInfo = u32;
    const ID_TABLE: pci::IdTable<u32> = &TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, Ordering::SeqCst);
        // Resources taken before the failure must be given back by the core and by drops.
        pdev.enable_device_mem()?;
        let _bar = pdev.iomap_region_sized::<0x100>(0, c_str!("rust-pci-test"))?;
        Err(ENODEV)
    }
}

/// The suite needs the device: without it every case fails rather than passing vacuously.
fn no_device(test: &mut Test) -> bool {
    !crate::kunit_expect!(test, edu_count() > 0)
}

fn register<T: pci::Driver>() -> Result<TestRegistration<T>> {
    testing::register(c_str!("rust_pci_test"))
}

/// Probe runs once with the expected context and id data; remove runs before the drop, and the
/// drop happens exactly once per binding, through unbind, rebind and unregistration.
fn bind_unbind_rebind(test: &mut Test) {
    if no_device(test) {
        return;
    }
    reset();
    let n = edu_count();
    let reg = match register::<GoodDriver>() {
        Ok(reg) => reg,
        Err(e) => {
            crate::kunit::err(format_args!("    registration failed: {:?}\n", e));
            crate::kunit_expect!(test, false);
            return;
        }
    };
    crate::kunit_expect_eq!(test, PROBES.load(Ordering::SeqCst), n);
    crate::kunit_expect_eq!(test, PROBE_CHECKS.load(Ordering::SeqCst), ALL_CHECKS);
    crate::kunit_expect_eq!(test, DROPS.load(Ordering::SeqCst), 0);

    let dev = PDEV.dev();
    crate::kunit_expect!(test, !dev.is_null());
    if !dev.is_null() {
        PDEV.unbind();
        crate::kunit_expect_eq!(test, REMOVES.load(Ordering::SeqCst), 1);
        crate::kunit_expect_eq!(test, DROPS.load(Ordering::SeqCst), 1);
        // SAFETY: `dev` is valid and now unbound.
        crate::kunit_expect!(test, unsafe { (*dev).driver.is_null() });

        crate::kunit_expect_eq!(test, PDEV.bind(), 1);
        crate::kunit_expect_eq!(test, PROBES.load(Ordering::SeqCst), n + 1);
        crate::kunit_expect_eq!(test, DROPS.load(Ordering::SeqCst), 1);
    }

    drop(reg);
    crate::kunit_expect_eq!(test, REMOVES.load(Ordering::SeqCst), n + 1);
    crate::kunit_expect_eq!(test, DROPS.load(Ordering::SeqCst), n + 1);
    crate::kunit_expect_eq!(test, DROPS_BEFORE_REMOVE.load(Ordering::SeqCst), 0);
    PDEV.put();
}

/// A failing probe leaves the device unbound with nothing kept: a later driver can request the
/// same BAR again.
fn failed_probe_keeps_nothing(test: &mut Test) {
    if no_device(test) {
        return;
    }
    reset();
    let n = edu_count();
    match register::<FailingDriver>() {
        Ok(reg) => {
            crate::kunit_expect_eq!(test, PROBES.load(Ordering::SeqCst), n);
            drop(reg);
        }
        Err(_) => {
            crate::kunit_expect!(test, false);
            return;
        }
    }
    reset();
    match register::<GoodDriver>() {
        Ok(reg) => {
            crate::kunit_expect_eq!(test, PROBE_CHECKS.load(Ordering::SeqCst), ALL_CHECKS);
            drop(reg);
            crate::kunit_expect_eq!(test, DROPS.load(Ordering::SeqCst), n);
        }
        Err(_) => {
            crate::kunit_expect!(test, false);
        }
    }
    PDEV.put();
}

/// Many bind/unbind cycles keep the counts in step.
fn many_cycles(test: &mut Test) {
    if no_device(test) {
        return;
    }
    // Driver registration is slow under kmemleak and debug objects (the debug configuration);
    // `make stress` binds many more times there.
    const CYCLES: usize = if cfg!(CONFIG_DEBUG_KMEMLEAK) { 20 } else { 100 };
    reset();
    let n = edu_count();
    for _ in 0..CYCLES {
        match register::<GoodDriver>() {
            Ok(reg) => drop(reg),
            Err(_) => break,
        }
    }
    crate::kunit_expect_eq!(test, PROBES.load(Ordering::SeqCst), CYCLES * n);
    crate::kunit_expect_eq!(test, REMOVES.load(Ordering::SeqCst), CYCLES * n);
    crate::kunit_expect_eq!(test, DROPS.load(Ordering::SeqCst), CYCLES * n);
    crate::kunit_expect_eq!(test, DROPS_BEFORE_REMOVE.load(Ordering::SeqCst), 0);
    PDEV.put();
}

/// Sets the `driver_override` of `pdev`, or clears it for an empty `name`.
fn set_override(pdev: *mut bindings::pci_dev, name: &CStr) -> Result {
    // SAFETY: The caller holds a reference to `pdev`; the function copies the string and takes
    // the override's lock itself.
    to_result(unsafe {
        bindings::__device_set_driver_override(&raw mut (*pdev).dev, name.as_char_ptr(), name.len())
    })
}

/// The name of the drivers of [`override_probe_gets_its_entry`], which the override names.
const OVERRIDE_NAME: &CStr = c_str!("rust_pci_override_test");

/// A table that no `edu` device matches; the data of its entry must not reach the probe.
static NO_EDU: IdArray<pci::DeviceId, u32, 1> =
    IdArray::new([(pci::DeviceId::from_id(0xffff, 0xfffe), 7)]);

/// What the override drivers' probes must get (`NO_INFO` for `None`), what the last one got,
/// how many ran and how many got something else.
static OVERRIDE_EXPECT: AtomicU64 = AtomicU64::new(0);
static OVERRIDE_GOT: AtomicU64 = AtomicU64::new(0);
static OVERRIDE_PROBES: AtomicUsize = AtomicUsize::new(0);
static OVERRIDE_WRONG: AtomicUsize = AtomicUsize::new(0);
const NO_INFO: u64 = u64::MAX;

fn record_override(info: Option<&u32>) {
    let got = info.map_or(NO_INFO, |&i| u64::from(i));
    OVERRIDE_PROBES.fetch_add(1, Ordering::SeqCst);
    OVERRIDE_GOT.store(got, Ordering::SeqCst);
    if got != OVERRIDE_EXPECT.load(Ordering::SeqCst) {
        OVERRIDE_WRONG.fetch_add(1, Ordering::SeqCst);
    }
}

/// A driver whose table does not match the device the override binds it to.
struct OverrideNoMatch;

impl pci::Driver for OverrideNoMatch {
    type IdInfo = u32;
    const ID_TABLE: pci::IdTable<u32> = &NO_EDU;

    fn probe(_pdev: &pci::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        record_override(info);
        Ok(KBox::pin(OverrideNoMatch, GFP_KERNEL)?)
    }
}

/// A driver whose table matches the device (its second entry), also named by the override.
struct OverrideMatch;

impl pci::Driver for OverrideMatch {
    type IdInfo = u32;
    const ID_TABLE: pci::IdTable<u32> = &TABLE;

    fn probe(_pdev: &pci::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        record_override(info);
        Ok(KBox::pin(OverrideMatch, GFP_KERNEL)?)
    }
}

fn describe(got: u64) -> Option<u64> {
    (got != NO_INFO).then_some(got)
}

/// Registers `T` with the override of `pdev` naming it; returns the number of probes and of
/// probes that did not get `expect` (`None` is [`NO_INFO`]).
fn bind_by_override<T: pci::Driver>(
    test: &mut Test,
    pdev: *mut bindings::pci_dev,
    expect: u64,
) -> (usize, usize) {
    OVERRIDE_EXPECT.store(expect, Ordering::SeqCst);
    OVERRIDE_PROBES.store(0, Ordering::SeqCst);
    OVERRIDE_WRONG.store(0, Ordering::SeqCst);
    if set_override(pdev, OVERRIDE_NAME).is_err() {
        crate::kunit_expect!(test, false);
        return (0, 0);
    }
    // Unregistering unbinds the device again.
    drop(testing::register_or_fail::<T>(test, OVERRIDE_NAME));
    crate::kunit_expect!(test, set_override(pdev, c_str!("")).is_ok());
    let wrong = OVERRIDE_WRONG.load(Ordering::SeqCst);
    if wrong != 0 {
        crate::kunit::err(format_args!(
            "    probe through driver_override: expected {:?}, got {:?}\n",
            describe(expect),
            describe(OVERRIDE_GOT.load(Ordering::SeqCst))
        ));
    }
    (OVERRIDE_PROBES.load(Ordering::SeqCst), wrong)
}

/// A device bound through `driver_override` to a driver whose table it does not match gets no
/// entry data (`None`), not the data of the table's first entry (the PCI core passes its
/// catch-all id then); one that matches the table gets the data of the entry it matched.
fn override_probe_gets_its_entry(test: &mut Test) {
    if no_device(test) {
        return;
    }
    // SAFETY: Takes a reference to the first `edu` device, put below.
    let pdev = unsafe { bindings::pci_get_device(EDU_VENDOR, EDU_DEVICE, core::ptr::null_mut()) };
    if pdev.is_null() {
        crate::kunit_expect!(test, false);
        return;
    }
    // SAFETY: `pdev` is referenced; this only reads whether a driver is bound.
    crate::kunit_expect!(test, unsafe { (*pdev).dev.driver.is_null() });

    // Only the device with the override binds.
    let (probes, wrong) = bind_by_override::<OverrideNoMatch>(test, pdev, NO_INFO);
    crate::kunit_expect_eq!(test, probes, 1);
    crate::kunit_expect_eq!(test, wrong, 0);

    // Every `edu` device binds, through its table entry; so does the one with the override.
    let (probes, wrong) = bind_by_override::<OverrideMatch>(test, pdev, u64::from(ID_INFO));
    crate::kunit_expect_eq!(test, probes, edu_count());
    crate::kunit_expect_eq!(test, wrong, 0);

    // SAFETY: The reference taken above.
    unsafe { bindings::pci_dev_put(pdev) };
}

crate::kunit_suite!(
    rust_pci_driver,
    [
        bind_unbind_rebind,
        failed_probe_keeps_nothing,
        many_cycles,
        override_probe_gets_its_entry
    ]
);
