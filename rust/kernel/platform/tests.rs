// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the platform glue, against platform devices that the suite registers.
//!
//! The platform bus needs no hardware: each case registers its own devices
//! (`platform_device_register_full()`, with a 32-bit DMA mask) and a Rust driver that matches
//! them by name, then unbinds and rebinds them through the driver core.
//!
//! - `bind_unbind_rebind`: a device whose one resource is an interrupt line. Its probe gets the
//!   data of the entry its name matched, finds no memory resource (`EINVAL`) and no second line
//!   (`ENXIO`), and runs the bus-independent checks of [`generic_tests`] (Devres, coherent and
//!   streaming DMA, a device page table); it keeps a [`Kept`] and the line past the unbind. Each
//!   unbind must run `remove` before the driver data's drop and release exactly what was kept;
//!   each rebind must refuse what the previous binding kept (the line too).
//! - `override_binds_without_entry`: a device bound through `driver_override` gets no entry
//!   data, also when its `id_entry` points into another driver's table.
//! - `mmio_through_a_memory_resource`: a device whose memory resource is the first page of an
//!   `edu` device's BAR 0 (skipped without an unbound `edu`): mapped, read and written through
//!   the platform glue, refused while mapped (`EBUSY`), revoked at unbind and released, so that
//!   the next binding maps it again.
//!
//! The interrupt line of the first case is a number that nothing requests: a line of an earlier
//! binding is refused before any C call, and the current one is only checked, not requested.

use crate::{
    bindings, c_str,
    device::{Bound, Core, Device},
    device_id::IdArray,
    devres::Devres,
    dma::DmaMask,
    driver::{
        generic_tests::{self, Kept},
        Registration,
    },
    error::{code::*, from_err_ptr, to_result},
    ffi::c_ulong,
    irq::{self, Irq},
    kunit::Test,
    pci::testing::{probe_check, Checks, EDU_DEVICE, EDU_ID, EDU_VENDOR, NO_MODULE},
    platform,
    prelude::*,
    str::CStr,
};
use core::{
    ptr,
    sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst},
};

/// Bind and unbind cycles of the first case.
const CYCLES: usize = 5;
const NAME: &CStr = c_str!("rust-platform-test");
const ID_INFO: u32 = 2;
/// The interrupt line of the first case's device: never requested (see the module docs).
const TEST_IRQ: u32 = 0x7fff_0001;
/// The checks of the first probe, and the three more of each later one.
const FIRST_PROBE_CHECKS: usize = 7;
const LATER_PROBE_CHECKS: usize = 10;

static IDS: IdArray<platform::DeviceId, u32, 2> = IdArray::new([
    (platform::DeviceId::new(c_str!("rust-platform-none")), 1),
    (
        platform::DeviceId::new(c_str!("rust-platform-test")),
        ID_INFO,
    ),
]);

static CHECKS: Checks = Checks::new();
static PROBES: AtomicUsize = AtomicUsize::new(0);
static REMOVES: AtomicUsize = AtomicUsize::new(0);
static DROPS: AtomicUsize = AtomicUsize::new(0);
/// Drops that had happened when `remove` was entered, beyond those of earlier bindings.
static DROPS_BEFORE_REMOVE: AtomicUsize = AtomicUsize::new(0);
static KEPT: Slot<Kept> = Slot::new();
static LINE: Slot<Irq> = Slot::new();

fn reset() {
    CHECKS.reset();
    for count in [&PROBES, &REMOVES, &DROPS, &DROPS_BEFORE_REMOVE] {
        count.store(0, SeqCst);
    }
}

/// A value that a driver callback hands to the case, or to the next binding's callback.
///
/// # Invariants
///
/// The pointer is NULL or comes from `KBox::into_raw` of a box that the slot owns.
struct Slot<T>(AtomicPtr<T>);

impl<T> Slot<T> {
    const fn new() -> Self {
        Self(AtomicPtr::new(ptr::null_mut()))
    }

    /// Puts `value` in the slot, dropping what it held.
    fn put(&self, value: KBox<T>) {
        // INVARIANT: The slot owns the box from here on.
        let old = self.0.swap(KBox::into_raw(value), SeqCst);
        drop(Self::own(old));
    }

    /// Takes what the slot holds, if anything.
    fn take(&self) -> Option<KBox<T>> {
        Self::own(self.0.swap(ptr::null_mut(), SeqCst))
    }

    fn own(raw: *mut T) -> Option<KBox<T>> {
        // SAFETY: A non-NULL pointer of the slot is a box that the slot owned (type invariant)
        // and that it no longer holds.
        (!raw.is_null()).then(|| unsafe { KBox::from_raw(raw) })
    }
}

/// A platform device registered by a case; unregistered (and unbound) when dropped.
///
/// # Invariants
///
/// `self.0` is a registered platform device, whose registration `self` owns.
struct TestDevice(*mut bindings::platform_device);

impl TestDevice {
    /// Registers a device named `name` with the resources `res` and a 32-bit DMA mask.
    fn new(name: &'static CStr, res: &[bindings::resource]) -> Result<Self> {
        // SAFETY: All zeroes is a valid `struct platform_device_info`: no parent, firmware node,
        // resources, data or properties.
        let mut info: bindings::platform_device_info = unsafe { core::mem::zeroed() };
        info.name = name.as_char_ptr();
        info.id = bindings::PLATFORM_DEVID_NONE;
        info.res = res.as_ptr();
        info.num_res = res.len() as _;
        info.dma_mask = DmaMask::new::<32>().value();
        // SAFETY: `info` and what it points to are valid for the call, which copies the name
        // and the resources.
        let pdev = from_err_ptr(unsafe { bindings::platform_device_register_full(&info) })?;
        // INVARIANT: Registered just now.
        Ok(Self(pdev))
    }

    /// Registers the device, or fails the case and returns `None`.
    fn new_or_fail(
        test: &mut Test,
        name: &'static CStr,
        res: &[bindings::resource],
    ) -> Option<Self> {
        let dev = Self::new(name, res);
        if let Err(e) = &dev {
            crate::kunit::err(format_args!("    device registration failed: {:?}\n", e));
        }
        crate::kunit_expect!(test, dev.is_ok());
        dev.ok()
    }

    fn dev(&self) -> *mut bindings::device {
        // SAFETY: The device is registered (type invariant); this computes a field's address.
        unsafe { &raw mut (*self.0).dev }
    }

    fn is_bound(&self) -> bool {
        // SAFETY: The device is registered; reading the driver pointer has no side effects.
        unsafe { !(*self.dev()).driver.is_null() }
    }

    /// Whether the platform core has pointed `id_entry` at an entry of some driver's table.
    fn has_id_entry(&self) -> bool {
        // SAFETY: As above.
        unsafe { !(*self.0).id_entry.is_null() }
    }

    fn unbind(&self) {
        // SAFETY: The device is registered; unbinding takes the device lock itself.
        unsafe { bindings::device_release_driver(self.dev()) };
    }

    /// Binds the device to a driver; 1 if one bound, as `device_attach()` returns.
    fn bind(&self) -> i32 {
        // SAFETY: The device is registered; binding takes the device lock itself.
        unsafe { bindings::device_attach(self.dev()) }
    }

    /// Sets the device's `driver_override` to `name`.
    fn set_override(&self, name: &CStr) -> Result {
        // SAFETY: The device is registered; the function copies the string and takes the
        // override's lock itself.
        to_result(unsafe {
            bindings::__device_set_driver_override(self.dev(), name.as_char_ptr(), name.len())
        })
    }
}

impl Drop for TestDevice {
    fn drop(&mut self) {
        // SAFETY: The registration is ours (type invariant) and undone once, here.
        unsafe { bindings::platform_device_unregister(self.0) };
    }
}

/// A resource of `len` bytes (or lines) from `start`, of kind `flags`.
fn resource(start: bindings::resource_size_t, len: u64, flags: u32) -> bindings::resource {
    // SAFETY: All zeroes is a valid `struct resource`: no name, no parent, sibling or child.
    let mut res: bindings::resource = unsafe { core::mem::zeroed() };
    res.start = start;
    res.end = start + (len - 1) as bindings::resource_size_t;
    res.flags = flags as c_ulong;
    res
}

type TestRegistration<T> = Pin<KBox<Registration<platform::Adapter<T>>>>;

/// Registers the test driver `T` as `name`, or fails the case and returns `None`; it probes
/// every matching device before this returns.
fn register<T: platform::Driver>(
    test: &mut Test,
    name: &'static CStr,
) -> Option<TestRegistration<T>> {
    let reg = KBox::pin_init(Registration::new(name, &NO_MODULE), GFP_KERNEL);
    if let Err(e) = &reg {
        crate::kunit::err(format_args!("    driver registration failed: {:?}\n", e));
    }
    crate::kunit_expect!(test, reg.is_ok());
    reg.ok()
}

/// A handler for registrations that are refused before they are made.
struct Quiet;

impl irq::Handler for Quiet {
    fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
        irq::IrqReturn::None
    }
}

struct TestDriver;

fn probe_checks(pdev: &platform::Device<Core>, info: Option<&u32>) -> Result {
    let dev: &Device<Core> = pdev.as_ref();
    probe_check!(CHECKS, info == Some(&ID_INFO));
    probe_check!(CHECKS, pdev.name().as_bytes() == NAME.as_bytes());
    // The one resource is an interrupt line: there is no memory resource, and no second line.
    probe_check!(CHECKS, pdev.resource(0).err() == Some(EINVAL));
    probe_check!(
        CHECKS,
        pdev.ioremap_resource_sized::<4>(0).err() == Some(EINVAL)
    );
    probe_check!(CHECKS, pdev.irq(1).err() == Some(ENXIO));
    let mask = DmaMask::new::<32>().value();
    probe_check!(
        CHECKS,
        dev.dma_mask() == Some(mask) && dev.dma_coherent_mask() == mask
    );
    let line = pdev.irq(0)?;
    probe_check!(CHECKS, line.number() == TEST_IRQ && line.is_valid_for(dev));
    // What the previous binding kept is refused by this one.
    if let Some(old) = LINE.take() {
        let old = KBox::into_inner(old);
        probe_check!(CHECKS, !old.is_valid_for(dev));
        let name = c_str!("rust_platform_test");
        let reg = irq::Registration::new(dev, old, irq::Flags::SHARED, name, Quiet);
        probe_check!(CHECKS, reg.err() == Some(EINVAL));
    }
    if let Some(old) = KEPT.take() {
        probe_check!(CHECKS, old.check_stale(dev).is_ok());
    }
    generic_tests::exercise(dev)?;
    LINE.put(KBox::new(line, GFP_KERNEL)?);
    KEPT.put(KBox::new(Kept::new(dev)?, GFP_KERNEL)?);
    Ok(())
}

impl platform::Driver for TestDriver {
    type IdInfo = u32;
    const ID_TABLE: platform::IdTable<u32> = &IDS;

    fn probe(pdev: &platform::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        if let Err(e) = probe_checks(pdev, info) {
            crate::pr_err!("platform test probe: {:?}\n", e);
            probe_check!(CHECKS, false);
        }
        Ok(KBox::pin(TestDriver, GFP_KERNEL)?)
    }

    fn remove(_pdev: &platform::Device<Core>, _this: Pin<&Self>) {
        let removes = REMOVES.fetch_add(1, SeqCst) + 1;
        DROPS_BEFORE_REMOVE.fetch_add(DROPS.load(SeqCst) + 1 - removes, SeqCst);
    }
}

impl Drop for TestDriver {
    fn drop(&mut self) {
        DROPS.fetch_add(1, SeqCst);
    }
}

/// Checks, after an unbind, that what the binding kept was revoked and released.
fn check_unbound(test: &mut Test, before: generic_tests::Released) {
    let released = generic_tests::released().since(before);
    crate::kunit_expect_eq!(test, released, generic_tests::KEPT_RELEASED);
    match KEPT.take() {
        Some(kept) => {
            crate::kunit_expect!(test, kept.check_released().is_ok());
            KEPT.put(kept);
        }
        None => {
            crate::kunit_expect!(test, false);
        }
    }
}

/// Probe gets the entry's data and the device's resources; each unbind runs `remove` before the
/// drop and releases exactly what the binding kept; each rebind refuses it.
fn bind_unbind_rebind(test: &mut Test) {
    reset();
    let line = resource(TEST_IRQ.into(), 1, bindings::IORESOURCE_IRQ);
    let Some(pdev) = TestDevice::new_or_fail(test, NAME, &[line]) else {
        return;
    };
    let Some(reg) = register::<TestDriver>(test, c_str!("rust_platform_test")) else {
        return;
    };
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), 1);
    for cycle in 1..=CYCLES {
        let before = generic_tests::released();
        pdev.unbind();
        crate::kunit_expect!(test, !pdev.is_bound());
        crate::kunit_expect_eq!(test, REMOVES.load(SeqCst), cycle);
        crate::kunit_expect_eq!(test, DROPS.load(SeqCst), cycle);
        check_unbound(test, before);
        crate::kunit_expect_eq!(test, pdev.bind(), 1);
        crate::kunit_expect_eq!(test, PROBES.load(SeqCst), cycle + 1);
    }
    let before = generic_tests::released();
    drop(reg);
    crate::kunit_expect_eq!(test, REMOVES.load(SeqCst), CYCLES + 1);
    crate::kunit_expect_eq!(test, DROPS.load(SeqCst), CYCLES + 1);
    crate::kunit_expect_eq!(test, DROPS_BEFORE_REMOVE.load(SeqCst), 0);
    check_unbound(test, before);
    // Dropping what was kept past the unbind releases nothing again.
    let before = generic_tests::released();
    drop(KEPT.take());
    drop(LINE.take());
    crate::kunit_expect_eq!(test, generic_tests::released(), before);
    drop(pdev);
    crate::kunit_expect_eq!(
        test,
        CHECKS.made(),
        FIRST_PROBE_CHECKS + CYCLES * LATER_PROBE_CHECKS
    );
    CHECKS.report(test, FIRST_PROBE_CHECKS + CYCLES * LATER_PROBE_CHECKS);
}

const OVERRIDE_NAME: &CStr = c_str!("rust_platform_override");
/// What the last probe of [`OverrideDriver`] got, [`NO_INFO`] for `None`.
static OVERRIDE_GOT: AtomicU64 = AtomicU64::new(0);
const NO_INFO: u64 = u64::MAX;

static OTHER_IDS: IdArray<platform::DeviceId, u32, 1> =
    IdArray::new([(platform::DeviceId::new(c_str!("rust-platform-ovr")), 9)]);

/// A driver whose table matches the device but whose probe refuses it: the match leaves the
/// device's `id_entry` pointing into this table.
struct RefusingDriver;

impl platform::Driver for RefusingDriver {
    type IdInfo = u32;
    const ID_TABLE: platform::IdTable<u32> = &OTHER_IDS;

    fn probe(_pdev: &platform::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        probe_check!(CHECKS, info == Some(&9));
        Err(ENODEV)
    }
}

/// A driver whose table does not match the device; it binds it only through the override.
struct OverrideDriver;

impl platform::Driver for OverrideDriver {
    type IdInfo = u32;
    const ID_TABLE: platform::IdTable<u32> = &IDS;

    fn probe(_pdev: &platform::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        OVERRIDE_GOT.store(info.map_or(NO_INFO, |&i| i.into()), SeqCst);
        Ok(KBox::pin(OverrideDriver, GFP_KERNEL)?)
    }
}

/// A device bound through `driver_override` gets no entry data, also when its `id_entry` points
/// at a matching entry of another driver's table.
fn override_binds_without_entry(test: &mut Test) {
    reset();
    OVERRIDE_GOT.store(0, SeqCst);
    let Some(pdev) = TestDevice::new_or_fail(test, c_str!("rust-platform-ovr"), &[]) else {
        return;
    };
    // Matched, and refused: `id_entry` now points into `OTHER_IDS`.
    let Some(refusing) = register::<RefusingDriver>(test, c_str!("rust_platform_refusing")) else {
        return;
    };
    drop(refusing);
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), 1);
    crate::kunit_expect!(test, !pdev.is_bound() && pdev.has_id_entry());
    // The device matches no entry of this driver: nothing binds until the override names it.
    let Some(reg) = register::<OverrideDriver>(test, OVERRIDE_NAME) else {
        return;
    };
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), 1);
    crate::kunit_expect!(test, pdev.set_override(OVERRIDE_NAME).is_ok());
    crate::kunit_expect_eq!(test, pdev.bind(), 1);
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), 2);
    crate::kunit_expect_eq!(test, OVERRIDE_GOT.load(SeqCst), NO_INFO);
    drop(reg);
    drop(pdev);
    CHECKS.report(test, 1);
}

const MMIO_NAME: &CStr = c_str!("rust-platform-mmio");
/// The length of the memory resource: the first page of `edu`'s BAR 0, its registers.
const MMIO_LEN: usize = 0x1000;
/// Where the memory resource starts, for the probes to compare.
static MMIO_START: AtomicU64 = AtomicU64::new(0);
static KEPT_IO: Slot<Devres<platform::IoMem<0x100>>> = Slot::new();
/// The checks of the first probe; later ones make one more.
const MMIO_CHECKS: usize = 8;

static MMIO_IDS: IdArray<platform::DeviceId, (), 1> =
    IdArray::new([(platform::DeviceId::new(c_str!("rust-platform-mmio")), ())]);

fn mmio_checks(pdev: &platform::Device<Core>) -> Result {
    let dev: &Device<Core> = pdev.as_ref();
    let res = pdev.resource(0)?;
    // `resource_size_t` is 32 bits wide on some 32-bit machines.
    #[allow(clippy::useless_conversion)]
    let start = u64::from(res.start);
    probe_check!(
        CHECKS,
        start == MMIO_START.load(SeqCst) && res.size == MMIO_LEN as _
    );
    probe_check!(CHECKS, res.flags & bindings::IORESOURCE_MEM as c_ulong != 0);
    probe_check!(CHECKS, pdev.resource(1).err() == Some(EINVAL));
    probe_check!(
        CHECKS,
        pdev.ioremap_resource_sized::<{ 2 * MMIO_LEN }>(0).err() == Some(EINVAL)
    );
    // The mapping of the previous binding is gone, and so is its request: this one succeeds.
    if let Some(old) = KEPT_IO.take() {
        probe_check!(CHECKS, old.access(dev).err() == Some(ENXIO));
    }
    let io = pdev.ioremap_resource_sized::<0x100>(0)?;
    let regs = io.access(dev)?;
    probe_check!(CHECKS, regs.maxsize() == MMIO_LEN && regs.index() == 0);
    probe_check!(CHECKS, regs.read32::<0x00>() == EDU_ID);
    // The liveness register returns the complement of what was written.
    regs.write32::<0x04>(0x1234_5678);
    probe_check!(CHECKS, regs.read32::<0x04>() == !0x1234_5678);
    probe_check!(
        CHECKS,
        pdev.ioremap_resource_sized::<4>(0).err() == Some(EBUSY)
    );
    KEPT_IO.put(KBox::new(io, GFP_KERNEL)?);
    Ok(())
}

struct MmioDriver;

impl platform::Driver for MmioDriver {
    type IdInfo = ();
    const ID_TABLE: platform::IdTable<()> = &MMIO_IDS;

    fn probe(pdev: &platform::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        if let Err(e) = mmio_checks(pdev) {
            crate::pr_err!("platform mmio test probe: {:?}\n", e);
            probe_check!(CHECKS, false);
        }
        Ok(KBox::pin(MmioDriver, GFP_KERNEL)?)
    }
}

/// The platform part of [`mmio_through_a_memory_resource`], on the memory at `start`.
fn mmio_run(test: &mut Test, start: bindings::resource_size_t) {
    #[allow(clippy::useless_conversion)]
    let start64 = u64::from(start);
    MMIO_START.store(start64, SeqCst);
    let mem = resource(start, MMIO_LEN as u64, bindings::IORESOURCE_MEM);
    let Some(pdev) = TestDevice::new_or_fail(test, MMIO_NAME, &[mem]) else {
        return;
    };
    let Some(reg) = register::<MmioDriver>(test, c_str!("rust_platform_mmio")) else {
        return;
    };
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), 1);
    pdev.unbind();
    match KEPT_IO.take() {
        Some(io) => {
            crate::kunit_expect!(test, io.try_access().is_none());
            KEPT_IO.put(io);
        }
        None => {
            crate::kunit_expect!(test, false);
        }
    }
    crate::kunit_expect_eq!(test, pdev.bind(), 1);
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), 2);
    drop(reg);
    drop(KEPT_IO.take());
    drop(pdev);
    crate::kunit_expect_eq!(test, CHECKS.made(), 2 * MMIO_CHECKS + 1);
    CHECKS.report(test, 2 * MMIO_CHECKS + 1);
}

/// A memory resource is requested, mapped, read and written through the platform glue, refused
/// while mapped, and revoked and released at unbind. Its memory is the registers of an `edu`
/// device that no driver holds, enabled for the case.
fn mmio_through_a_memory_resource(test: &mut Test) {
    reset();
    // SAFETY: Takes a reference to the first `edu` device, or returns NULL.
    let edu = unsafe { bindings::pci_get_device(EDU_VENDOR, EDU_DEVICE, ptr::null_mut()) };
    if edu.is_null() {
        test.skip(c_str!("no edu device"));
        return;
    }
    // SAFETY: `edu` is referenced; reading the driver pointer and a BAR's address has no side
    // effects.
    let (bound, start) = unsafe { (!(*edu).dev.driver.is_null(), (*edu).resource[0].start) };
    // SAFETY: `edu` is referenced and has no driver: its memory decoding is enabled until the
    // matching `pci_disable_device()` below.
    if bound || start == 0 || unsafe { bindings::pci_enable_device_mem(edu) } != 0 {
        test.skip(c_str!("no edu device free for the case"));
    } else {
        mmio_run(test, start);
        // SAFETY: Undoes the enable above.
        unsafe { bindings::pci_disable_device(edu) };
    }
    // SAFETY: Puts the reference taken above.
    unsafe { bindings::pci_dev_put(edu) };
}

/// QEMU's firmware configuration device, as the firmware describes it: by the ACPI id
/// `QEMU0002` on x86 (with I/O ports only), by the `compatible` string `qemu,fw-cfg-mmio` in
/// arm64's device tree (with its registers as a memory resource). No driver of the test kernel
/// binds it (`CONFIG_FW_CFG_SYSFS` is off).
static FW_IDS: IdArray<platform::DeviceId, u32, 1> =
    IdArray::new([(platform::DeviceId::new(c_str!("rust-platform-nofw")), 1)]);
static FW_OF_IDS: IdArray<crate::of::DeviceId, u32, 1> = IdArray::new([(
    crate::of::DeviceId::new(c_str!("qemu,fw-cfg-mmio")),
    FW_OF_INFO,
)]);
static FW_ACPI_IDS: IdArray<crate::acpi::DeviceId, u32, 1> =
    IdArray::new([(crate::acpi::DeviceId::new(c_str!("QEMU0002")), FW_ACPI_INFO)]);
const FW_OF_INFO: u32 = 20;
const FW_ACPI_INFO: u32 = 10;

static FW_PROBES: AtomicUsize = AtomicUsize::new(0);
/// The entry data the probe got (0 for none).
static FW_INFO: AtomicU64 = AtomicU64::new(0);
/// The first four bytes of the signature item read through the mapped registers, or the
/// negative error of the mapping.
static FW_SIGNATURE: AtomicU64 = AtomicU64::new(0);

/// The registers of `qemu,fw-cfg-mmio`: the data register at 0, the selector (16 bits, big
/// endian) at 8; item 0 is the signature, "QEMU".
const FW_DATA: usize = 0x00;
const FW_SELECTOR: usize = 0x08;

struct FwCfgDriver;

impl platform::Driver for FwCfgDriver {
    type IdInfo = u32;
    const ID_TABLE: platform::IdTable<u32> = &FW_IDS;
    const OF_ID_TABLE: Option<crate::of::IdTable<u32>> = Some(&FW_OF_IDS);
    const ACPI_ID_TABLE: Option<crate::acpi::IdTable<u32>> = Some(&FW_ACPI_IDS);

    fn probe(pdev: &platform::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        FW_PROBES.fetch_add(1, SeqCst);
        FW_INFO.store(info.copied().unwrap_or(0).into(), SeqCst);
        let signature = match pdev.ioremap_resource_sized::<0x10>(0) {
            Ok(regs) => {
                let regs = regs.access(pdev.as_ref())?;
                // Item 0 reads the same in either byte order.
                regs.write16::<FW_SELECTOR>(0);
                let bytes = [(); 4].map(|()| regs.read8::<FW_DATA>());
                u64::from(u32::from_le_bytes(bytes))
            }
            Err(e) => e.to_errno() as u64,
        };
        FW_SIGNATURE.store(signature, SeqCst);
        Ok(KBox::pin(FwCfgDriver, GFP_KERNEL)?)
    }
}

/// A device that firmware describes binds by its OF or ACPI entry, whose data probe gets; on
/// arm64 its memory resource maps and its registers read the device's signature.
fn firmware_match(test: &mut Test) {
    let expected = if cfg!(CONFIG_OF) {
        FW_OF_INFO
    } else if cfg!(CONFIG_ACPI) {
        FW_ACPI_INFO
    } else {
        test.skip(c_str!("neither OF nor ACPI"));
        return;
    };
    FW_PROBES.store(0, SeqCst);
    FW_INFO.store(0, SeqCst);
    FW_SIGNATURE.store(0, SeqCst);
    let Some(reg) = register::<FwCfgDriver>(test, c_str!("rust_platform_fwcfg")) else {
        return;
    };
    drop(reg);
    crate::kunit_expect_eq!(test, FW_PROBES.load(SeqCst), 1);
    crate::kunit_expect_eq!(test, FW_INFO.load(SeqCst), u64::from(expected));
    let signature = FW_SIGNATURE.load(SeqCst);
    if cfg!(CONFIG_OF) {
        crate::kunit_expect_eq!(test, signature, u64::from(u32::from_le_bytes(*b"QEMU")));
    } else {
        // x86's has I/O ports, and no memory resource.
        crate::kunit_expect_eq!(test, signature, EINVAL.to_errno() as u64);
    }
    crate::pr_info!(
        "rust_platform: firmware device bound by its {} entry, signature {:#x}\n",
        if cfg!(CONFIG_OF) { "OF" } else { "ACPI" },
        signature
    );
}

crate::kunit_suite!(
    rust_platform,
    [
        bind_unbind_rebind,
        override_binds_without_entry,
        mmio_through_a_memory_resource,
        firmware_match
    ]
);
