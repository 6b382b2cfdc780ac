// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the PCI glue, run against a real device.
//!
//! The suite binds test drivers to QEMU's `edu` devices (1234:11e8, started with `-device edu`):
//! it registers a driver, checks what `probe` saw, unbinds and rebinds the device through the
//! driver core, and checks that the driver data is dropped exactly once, after `remove`. It
//! binds a device through `driver_override` and checks the id data `probe` gets, and it has the
//! device run a DMA transfer across its unbind to check that bus mastering is off before
//! anything of the binding is released. Without an `edu` device every case fails.
//!
//! Its probe also runs the bus-independent checks of `driver::generic_tests`, the same code
//! that the platform suite runs on its devices, and keeps their resources past the first
//! device's unbind: released by it, and refused by the next binding.

use crate::{
    bindings, c_str,
    delay::msleep,
    device::{Bound, Core, Device, RawDevice},
    device_id::IdArray,
    devres::{self, Devres},
    dma::{CoherentAllocation, DmaAddress, DmaMask},
    driver::generic_tests::{self, Kept},
    error::{code::*, to_result, Error},
    kunit::Test,
    pci::{
        self,
        testing::{
            self, edu_count, ArcSlot, DevRef, TestRegistration, EDU_DEVICE, EDU_ID, EDU_VENDOR,
        },
    },
    prelude::*,
    str::CStr,
    sync::Arc,
};
use core::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};

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
const CHECK_GENERIC: u32 = 1 << 9;
const ALL_CHECKS: u32 = (1 << 10) - 1;
/// What the first device's binding keeps past its unbind (`driver::generic_tests`).
static KEPT: ArcSlot<Kept> = ArcSlot::new();
/// Whether the rebind found what the earlier binding kept refused: 0 not checked, 1 refused,
/// 2 not refused.
static STALE: AtomicU32 = AtomicU32::new(0);

fn reset() {
    PROBES.store(0, Ordering::SeqCst);
    REMOVES.store(0, Ordering::SeqCst);
    DROPS.store(0, Ordering::SeqCst);
    DROPS_BEFORE_REMOVE.store(0, Ordering::SeqCst);
    PROBE_CHECKS.store(0, Ordering::SeqCst);
    STALE.store(0, Ordering::SeqCst);
    drop(KEPT.take());
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
    // The last access inside the BAR is 4 bytes wide: edu takes only 4- and 8-byte accesses, and
    // on arm64 QEMU answers a narrower one with a synchronous external abort.
    check(
        bar.try_read32(len) == Err(EINVAL)
            && bar.try_read32(len - 2) == Err(EINVAL)
            && bar.try_read32(2) == Err(EINVAL)
            && bar.try_write32(0, usize::MAX - 1) == Err(EINVAL)
            && bar.try_read32(len - 4).is_ok(),
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
        let dev: &Device<Bound> = pdev.as_ref();
        check(generic_tests::exercise(dev).is_ok(), CHECK_GENERIC);
        if PDEV.keep_first(pdev) || PDEV.dev() == pdev.raw_device() {
            if let Some(old) = KEPT.take() {
                let refused = old.check_stale(dev).is_ok();
                STALE.store(if refused { 1 } else { 2 }, Ordering::SeqCst);
            }
            KEPT.put(Arc::new(Kept::new(dev)?, GFP_KERNEL)?);
        }
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
        let before = generic_tests::released();
        PDEV.unbind();
        crate::kunit_expect_eq!(test, REMOVES.load(Ordering::SeqCst), 1);
        crate::kunit_expect_eq!(test, DROPS.load(Ordering::SeqCst), 1);
        // SAFETY: `dev` is valid and now unbound.
        crate::kunit_expect!(test, unsafe { (*dev).driver.is_null() });
        // What the binding kept is revoked, and exactly that was released.
        let released = generic_tests::released().since(before);
        crate::kunit_expect_eq!(test, released, generic_tests::KEPT_RELEASED);
        let kept = KEPT.take();
        crate::kunit_expect!(
            test,
            kept.as_ref().is_some_and(|k| k.check_released().is_ok())
        );
        if let Some(kept) = kept {
            KEPT.put(kept);
        }

        crate::kunit_expect_eq!(test, PDEV.bind(), 1);
        crate::kunit_expect_eq!(test, PROBES.load(Ordering::SeqCst), n + 1);
        crate::kunit_expect_eq!(test, DROPS.load(Ordering::SeqCst), 1);
        crate::kunit_expect_eq!(test, STALE.load(Ordering::SeqCst), 1);
    }

    drop(reg);
    crate::kunit_expect_eq!(test, REMOVES.load(Ordering::SeqCst), n + 1);
    crate::kunit_expect_eq!(test, DROPS.load(Ordering::SeqCst), n + 1);
    crate::kunit_expect_eq!(test, DROPS_BEFORE_REMOVE.load(Ordering::SeqCst), 0);
    drop(KEPT.take());
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

// The DMA fence. The binding fills its edu buffer with a pattern, allocates a coherent buffer,
// the target, and then has the device copy the pattern to the target, in `remove` (or in a probe
// that fails) without waiting for the copy. The edu device runs a transfer from a timer about
// 100 ms after the command, while the unbind goes on: to make the gap between `remove` and the
// release of the binding's resources as wide as it can be in a driver, it is stretched to
// `WINDOW_MS`, in the drop of the driver data or in a devres action. A device still mastering
// then writes the target; after the fence it can not. A devres action registered right after
// the target, and so released right before it, after the window, counts what the target holds.
//
// The target is the transferring device's own: DMA addresses belong to one device (behind an
// IOMMU, as on arm64, another device's address is not mapped for it).

/// edu's DMA registers (64 bits each) and command bits, and its buffer in its DMA space.
const EDU_DMA_SRC: usize = 0x80;
const EDU_DMA_DST: usize = 0x88;
const EDU_DMA_COUNT: usize = 0x90;
const EDU_DMA_CMD: usize = 0x98;
const EDU_DMA_START: u64 = 1 << 0;
const EDU_DMA_FROM_DEVICE: u64 = 1 << 1;
const EDU_BUFFER: DmaAddress = 0x40000;
const EDU_MASK: DmaMask = DmaMask::new::<28>();
/// Bytes of the transfer: edu's whole buffer.
const FENCE_BYTES: usize = 4096;
/// The gap stretched across the transfer: three times the delay of a transfer.
const WINDOW_MS: u32 = 300;
/// The target before the transfer; the pattern never has this byte.
const PREFILL: u8 = 0xff;

fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

/// Where the transfer is started and where the gap after `remove` is stretched.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
enum Fence {
    /// `remove` waits for the transfer itself: it lands before the fence.
    Control = 1,
    /// `remove` starts the transfer; the drop of the driver data takes the window.
    RemoveThenDrop = 2,
    /// `remove` starts the transfer; a devres action takes the window.
    RemoveThenDevres = 3,
    /// A failing probe starts the transfer; a devres action takes the window.
    ProbeFails = 4,
}

static FENCE_MODE: AtomicU32 = AtomicU32::new(0);
static FENCE_PROBES: AtomicUsize = AtomicUsize::new(0);
/// Transfers to the target that were started.
static FENCE_STARTED: AtomicUsize = AtomicUsize::new(0);
/// The first error of the setup in a callback (not the failure the probe is told to return).
static FENCE_ERROR: AtomicI32 = AtomicI32::new(0);
/// The target, kept until the case takes it, and its DMA address.
static FENCE_TARGET: ArcSlot<Devres<CoherentAllocation<u8>>> = ArcSlot::new();
static FENCE_HANDLE: AtomicU64 = AtomicU64::new(0);
/// What [`Inspector`] counted in the target: bytes unchanged and bytes written by the
/// device; `usize::MAX` until it has.
static FENCE_KEPT: AtomicUsize = AtomicUsize::new(usize::MAX);
static FENCE_WRITTEN: AtomicUsize = AtomicUsize::new(usize::MAX);
/// The device that runs the transfer.
static FENCE_DEV: DevRef = DevRef::new();

fn mode_is(mode: Fence) -> bool {
    FENCE_MODE.load(Ordering::SeqCst) == mode as u32
}

fn fence_error(e: &Error) {
    let _ = FENCE_ERROR.compare_exchange(0, e.to_errno(), Ordering::SeqCst, Ordering::SeqCst);
}

/// Programs one edu transfer; `dir` is 0 (memory to edu) or [`EDU_DMA_FROM_DEVICE`].
fn edu_start(bar: &pci::Bar<0x100>, src: DmaAddress, dst: DmaAddress, dir: u64) {
    bar.write64::<EDU_DMA_SRC>(src);
    bar.write64::<EDU_DMA_DST>(dst);
    bar.write64::<EDU_DMA_COUNT>(FENCE_BYTES as u64);
    bar.write64::<EDU_DMA_CMD>(EDU_DMA_START | dir);
}

/// Fills edu's buffer with [`pattern`] through a coherent buffer, waiting for the transfer.
fn fill_edu(pdev: &pci::Device<Core>, bar: &pci::Bar<0x100>) -> Result {
    let dev: &Device<Bound> = pdev.as_ref();
    let src = CoherentAllocation::<u8>::alloc_coherent(dev, FENCE_BYTES, GFP_KERNEL)?;
    let src = src.access(dev)?;
    for i in 0..FENCE_BYTES {
        src.write(i, pattern(i))?;
    }
    edu_start(bar, src.dma_handle(), EDU_BUFFER, 0);
    for _ in 0..100 {
        if bar.read64::<EDU_DMA_CMD>() & EDU_DMA_START == 0 {
            return Ok(());
        }
        msleep(10);
    }
    // The transfer may still run: stop the device before `src` is freed.
    pdev.clear_master();
    Err(ETIMEDOUT)
}

/// Starts the copy of edu's buffer to the target, without waiting for it.
fn start_to_target(bar: &pci::Bar<0x100>) -> Result {
    let target = FENCE_HANDLE.load(Ordering::SeqCst);
    if target == 0 {
        return Err(ENODEV);
    }
    edu_start(bar, EDU_BUFFER, target, EDU_DMA_FROM_DEVICE);
    FENCE_STARTED.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Stretches the release of the binding's managed resources by [`WINDOW_MS`].
struct SlowRelease;

impl Drop for SlowRelease {
    fn drop(&mut self) {
        msleep(WINDOW_MS);
    }
}

/// Counts, when released, what the target holds; registered right after the target, so
/// released right before it.
struct Inspector(Arc<Devres<CoherentAllocation<u8>>>);

impl Drop for Inspector {
    fn drop(&mut self) {
        let counts = self.0.try_access_with(|buf| {
            let (mut kept, mut written) = (0, 0);
            for i in 0..FENCE_BYTES {
                match buf.read(i) {
                    Ok(PREFILL) => kept += 1,
                    Ok(b) if b == pattern(i) => written += 1,
                    _ => {}
                }
            }
            (kept, written)
        });
        if let Some((kept, written)) = counts {
            FENCE_KEPT.store(kept, Ordering::SeqCst);
            FENCE_WRITTEN.store(written, Ordering::SeqCst);
        }
    }
}

struct FenceDriver {
    /// The BAR of the device that runs the transfer; `None` on the other devices.
    bar: Option<Devres<pci::Bar<0x100>>>,
}

impl FenceDriver {
    /// Allocates the target, fills it with [`PREFILL`] and registers its [`Inspector`].
    fn alloc_target(dev: &Device<Bound>) -> Result {
        let target = CoherentAllocation::<u8>::alloc_coherent(dev, FENCE_BYTES, GFP_KERNEL)?;
        let buf = target.access(dev)?;
        for i in 0..FENCE_BYTES {
            buf.write(i, PREFILL)?;
        }
        FENCE_HANDLE.store(buf.dma_handle(), Ordering::SeqCst);
        let target = Arc::new(target, GFP_KERNEL)?;
        // The slot's reference outlives the binding, so the inspector's is never the last one.
        FENCE_TARGET.put(target.clone());
        devres::register(dev, Inspector(target), GFP_KERNEL)
    }

    /// The first device: fills its edu buffer and allocates the target; in [`Fence::ProbeFails`]
    /// starts the transfer and fails.
    fn probe_transfer(pdev: &pci::Device<Core>) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        pdev.set_master();
        let bar = pdev.iomap_region_sized::<0x100>(0, c_str!("rust-pci-fence"))?;
        fill_edu(pdev, bar.access(pdev.as_ref())?)?;
        Self::alloc_target(pdev.as_ref())?;
        if mode_is(Fence::RemoveThenDevres) || mode_is(Fence::ProbeFails) {
            // Released before the inspector and the device's disabling, registered first.
            devres::register(pdev.as_ref(), SlowRelease, GFP_KERNEL)?;
        }
        if mode_is(Fence::ProbeFails) {
            start_to_target(bar.access(pdev.as_ref())?)?;
            // The quiet error of a probe that declines the device.
            return Err(ENXIO);
        }
        FENCE_DEV.keep_first(pdev);
        Ok(KBox::pin(FenceDriver { bar: Some(bar) }, GFP_KERNEL)?)
    }
}

impl pci::Driver for FenceDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &testing::EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        let dev: &Device<Core> = pdev.as_ref();
        let r = dev.dma_set_mask_and_coherent(EDU_MASK).and_then(|()| {
            match FENCE_PROBES.fetch_add(1, Ordering::SeqCst) {
                0 => Self::probe_transfer(pdev),
                _ => Ok(KBox::pin(FenceDriver { bar: None }, GFP_KERNEL)?),
            }
        });
        if let Err(e) = &r {
            // Not the failure that `Fence::ProbeFails` asks for, after its transfer started.
            if *e != ENXIO || FENCE_STARTED.load(Ordering::SeqCst) == 0 {
                fence_error(e);
            }
        }
        r
    }

    fn remove(pdev: &pci::Device<Core>, this: Pin<&Self>) {
        let Some(bar) = &this.bar else {
            return;
        };
        // A driver that does not stop its device: the transfer is still due when this returns.
        if let Err(e) = bar.access(pdev.as_ref()).and_then(start_to_target) {
            fence_error(&e);
        }
        if mode_is(Fence::Control) {
            msleep(WINDOW_MS);
        }
    }
}

impl Drop for FenceDriver {
    fn drop(&mut self) {
        if self.bar.is_some() && mode_is(Fence::RemoveThenDrop) {
            msleep(WINDOW_MS);
        }
    }
}

/// Runs the transfer of `mode` across an unbind (or a failed probe) and returns how many bytes
/// of the target still hold [`PREFILL`] and how many the transfer wrote, as counted at the
/// release of the binding.
fn fence_run(test: &mut Test, mode: Fence) -> Option<(usize, usize)> {
    if !crate::kunit_expect!(test, edu_count() >= 1) {
        return None;
    }
    FENCE_MODE.store(mode as u32, Ordering::SeqCst);
    FENCE_PROBES.store(0, Ordering::SeqCst);
    FENCE_STARTED.store(0, Ordering::SeqCst);
    FENCE_ERROR.store(0, Ordering::SeqCst);
    FENCE_HANDLE.store(0, Ordering::SeqCst);
    FENCE_KEPT.store(usize::MAX, Ordering::SeqCst);
    FENCE_WRITTEN.store(usize::MAX, Ordering::SeqCst);
    let reg = testing::register_or_fail::<FenceDriver>(test, c_str!("rust_pci_fence_test"))?;
    if mode != Fence::ProbeFails {
        crate::kunit_expect!(test, !FENCE_DEV.dev().is_null());
        FENCE_DEV.unbind();
    }
    // Past the transfer's time in any case.
    msleep(WINDOW_MS);
    let (kept, written) = (
        FENCE_KEPT.load(Ordering::SeqCst),
        FENCE_WRITTEN.load(Ordering::SeqCst),
    );
    drop(reg);
    // Revoked at the unbind: the slot's reference is the last one.
    let target = FENCE_TARGET.take();
    crate::kunit_expect!(test, target.is_some_and(|t| t.try_access().is_none()));
    FENCE_DEV.put();
    crate::kunit_expect_eq!(test, FENCE_ERROR.load(Ordering::SeqCst), 0);
    crate::kunit_expect_eq!(test, FENCE_STARTED.load(Ordering::SeqCst), 1);
    let counted = kept != usize::MAX;
    crate::kunit_expect!(test, counted);
    if !counted {
        return None;
    }
    crate::kunit::info(format_args!(
        "    target at the release of the binding: {} of {} bytes unchanged, {} written by the \
         device\n",
        kept, FENCE_BYTES, written
    ));
    Some((kept, written))
}

/// The control: a transfer that lands before `remove` returns is seen in the target, so the
/// fence cases can see one.
fn dma_before_fence_lands(test: &mut Test) {
    if let Some((kept, written)) = fence_run(test, Fence::Control) {
        crate::kunit_expect_eq!(test, written, FENCE_BYTES);
        crate::kunit_expect_eq!(test, kept, 0);
    }
}

/// A transfer still due when `remove` returns does not land while the driver data is dropped.
fn dma_fenced_before_drop(test: &mut Test) {
    if let Some((kept, written)) = fence_run(test, Fence::RemoveThenDrop) {
        crate::kunit_expect_eq!(test, kept, FENCE_BYTES);
        crate::kunit_expect_eq!(test, written, 0);
    }
}

/// Nor while the devres list is released.
fn dma_fenced_before_devres(test: &mut Test) {
    if let Some((kept, written)) = fence_run(test, Fence::RemoveThenDevres) {
        crate::kunit_expect_eq!(test, kept, FENCE_BYTES);
        crate::kunit_expect_eq!(test, written, 0);
    }
}

/// Nor one that a failing probe left running, while its managed resources are released.
fn dma_fenced_after_failed_probe(test: &mut Test) {
    if let Some((kept, written)) = fence_run(test, Fence::ProbeFails) {
        crate::kunit_expect_eq!(test, kept, FENCE_BYTES);
        crate::kunit_expect_eq!(test, written, 0);
    }
}

crate::kunit_suite!(
    rust_pci_driver,
    [
        bind_unbind_rebind,
        failed_probe_keeps_nothing,
        many_cycles,
        override_probe_gets_its_entry,
        dma_before_fence_lands,
        dma_fenced_before_drop,
        dma_fenced_before_devres,
        dma_fenced_after_failed_probe
    ]
);
