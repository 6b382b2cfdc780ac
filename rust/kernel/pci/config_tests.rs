// SPDX-License-Identifier: GPL-2.0

//! KUnit suite: PCI ids, matching by subsystem and class, and configuration space.
//!
//! QEMU's `edu` is conventional PCI: 256 bytes of configuration space, MSI its only capability,
//! ids 1234:11e8, subsystem 1af4:1100, revision 0x10, class 0x00ff00. A test driver whose table
//! has two near misses (another subsystem device, another programming interface) before the
//! right entry must get the right entry's data, and read those values both from the device and
//! from its configuration space. A table of near misses only binds nothing.
//!
//! On a PCI Express machine (QEMU's q35, with its `nvme` and `e1000e` devices) the extended
//! space of each is read up to its last dword, and the `e1000e`'s extended capabilities (error
//! reporting, serial number) are found by id (on arm64's virt machine the `e1000e`'s); on a
//! machine where none of them has extended space (x86's default, without ECAM) that case is
//! skipped, and the q35 run (`scripts/kunit.sh --q35`) requires it not to be.

use super::testing::{edu_count, probe_check, register_or_fail, Checks, EDU_DEVICE, EDU_VENDOR};
use crate::{
    bindings, c_str,
    device::Core,
    device_id::IdArray,
    error::code::*,
    kunit::Test,
    pci::{self, DeviceId, CFG_SPACE_EXP_SIZE, CFG_SPACE_SIZE},
    prelude::*,
};
use core::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// What QEMU's `edu` reports.
const EDU_SUBVENDOR: u32 = 0x1af4;
const EDU_SUBDEVICE: u32 = 0x1100;
const EDU_CLASS: u32 = 0x00ff00;
const EDU_REVISION: u8 = 0x10;
/// The class code of an NVMe controller.
const NVME_CLASS: u32 = 0x010802;

/// Configuration registers (`include/uapi/linux/pci_regs.h`).
const PCI_STATUS: usize = 0x06;
const PCI_STATUS_CAP_LIST: u16 = 0x10;
const PCI_CAPABILITY_LIST: usize = 0x34;
const PCI_INTERRUPT_LINE: usize = 0x3c;

const fn edu() -> DeviceId {
    DeviceId::from_id(EDU_VENDOR, EDU_DEVICE)
}

/// Two near misses, then the entry that matches.
static TABLE: IdArray<DeviceId, u32, 3> = IdArray::new([
    (edu().with_subsystem(EDU_SUBVENDOR, EDU_SUBDEVICE + 1), 1),
    (edu().with_class(EDU_CLASS | 1, 0xffffff), 2),
    (
        edu()
            .with_subsystem(EDU_SUBVENDOR, EDU_SUBDEVICE)
            .with_class(EDU_CLASS, 0xffffff),
        3,
    ),
]);

/// Near misses only: another subsystem vendor, and another base class (0x0d, wireless).
static MISSES: IdArray<DeviceId, u32, 2> = IdArray::new([
    (edu().with_subsystem(EDU_SUBVENDOR + 1, pci::ANY_ID), 1),
    (edu().with_class(EDU_CLASS | 0x0d0000, 0xff0000), 2),
]);

/// Any NVMe controller (QEMU's has no extended capability), and QEMU's `e1000e`, which has
/// advanced error reporting and a device serial number in its extended space; the data says
/// whether the device has those two.
static EXPRESS: IdArray<DeviceId, bool, 2> = IdArray::new([
    (DeviceId::from_class(NVME_CLASS, 0xffffff), false),
    (DeviceId::from_id(0x8086, 0x10d3), true),
]);

static CHECKS: Checks = Checks::new();
static PROBES: AtomicUsize = AtomicUsize::new(0);

/// The checks of an `edu` in probe: the ids, and the same values read from its configuration
/// space; its one capability; a write read back.
fn edu_checks(pdev: &pci::Device<Core>) -> Result {
    probe_check!(CHECKS, u32::from(pdev.vendor_id()) == EDU_VENDOR);
    probe_check!(CHECKS, u32::from(pdev.device_id()) == EDU_DEVICE);
    probe_check!(
        CHECKS,
        u32::from(pdev.subsystem_vendor_id()) == EDU_SUBVENDOR
    );
    probe_check!(
        CHECKS,
        u32::from(pdev.subsystem_device_id()) == EDU_SUBDEVICE
    );
    probe_check!(CHECKS, pdev.class() == EDU_CLASS);
    probe_check!(CHECKS, pdev.revision_id() == EDU_REVISION);
    probe_check!(CHECKS, pdev.cfg_size() == CFG_SPACE_SIZE);

    let cfg = pdev.config_space();
    probe_check!(CHECKS, cfg.size() == CFG_SPACE_SIZE);
    probe_check!(CHECKS, u32::from(cfg.read16::<0x00>()?) == EDU_VENDOR);
    probe_check!(CHECKS, u32::from(cfg.read16::<0x02>()?) == EDU_DEVICE);
    // The revision, then the class code above it in the same dword.
    probe_check!(CHECKS, cfg.read8::<0x08>()? == EDU_REVISION);
    probe_check!(
        CHECKS,
        cfg.read32::<0x08>()? == (EDU_CLASS << 8) | u32::from(EDU_REVISION)
    );
    probe_check!(CHECKS, u32::from(cfg.read16::<0x2c>()?) == EDU_SUBVENDOR);
    probe_check!(CHECKS, u32::from(cfg.try_read16(0x2e)?) == EDU_SUBDEVICE);
    // The last byte is in reach; the next is not.
    probe_check!(CHECKS, cfg.try_read8(CFG_SPACE_SIZE - 1).is_ok());
    probe_check!(CHECKS, cfg.try_read8(CFG_SPACE_SIZE) == Err(EINVAL));
    probe_check!(CHECKS, pdev.config_space_extended().err() == Some(EINVAL));

    // MSI is the first and only capability.
    probe_check!(
        CHECKS,
        cfg.read16::<PCI_STATUS>()? & PCI_STATUS_CAP_LIST != 0
    );
    let msi = pdev.find_capability(bindings::PCI_CAP_ID_MSI as u8)?;
    probe_check!(CHECKS, cfg.read8::<PCI_CAPABILITY_LIST>()? == msi);
    probe_check!(
        CHECKS,
        u32::from(cfg.try_read8(msi.into())?) == bindings::PCI_CAP_ID_MSI
    );
    probe_check!(CHECKS, cfg.try_read8(usize::from(msi) + 1)? == 0);
    probe_check!(
        CHECKS,
        pdev.find_capability(bindings::PCI_CAP_ID_MSIX as u8) == Err(ENOENT)
    );

    // The interrupt line register is the software's: written, read back and restored.
    let line = cfg.read8::<PCI_INTERRUPT_LINE>()?;
    cfg.write8::<PCI_INTERRUPT_LINE>(line ^ 0x5a)?;
    probe_check!(CHECKS, cfg.read8::<PCI_INTERRUPT_LINE>()? == line ^ 0x5a);
    cfg.try_write8(line, PCI_INTERRUPT_LINE)?;
    probe_check!(CHECKS, cfg.try_read8(PCI_INTERRUPT_LINE)? == line);
    Ok(())
}

/// The number of checks in [`edu_checks`] and the probe.
const EDU_CHECKS: usize = 25;

struct IdDriver;

impl pci::Driver for IdDriver {
    type IdInfo = u32;
    const ID_TABLE: pci::IdTable<u32> = &TABLE;

    fn probe(pdev: &pci::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        probe_check!(CHECKS, info == Some(&3));
        edu_checks(pdev).inspect_err(|e| {
            crate::pr_err!("pci config test probe: {:?}\n", e);
            probe_check!(CHECKS, false);
        })?;
        Ok(KBox::pin(IdDriver, GFP_KERNEL)?)
    }
}

struct MissDriver;

impl pci::Driver for MissDriver {
    type IdInfo = u32;
    const ID_TABLE: pci::IdTable<u32> = &MISSES;

    fn probe(_pdev: &pci::Device<Core>, _info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        Err(ENODEV)
    }
}

/// The entry that matches gets the probe, with its data, and the device's ids and
/// configuration space read what QEMU's `edu` has; near misses bind nothing.
fn edu_ids_and_config_space(test: &mut Test) {
    let edus = edu_count();
    CHECKS.reset();
    PROBES.store(0, SeqCst);
    let Some(reg) = register_or_fail::<IdDriver>(test, c_str!("rust_pci_config_test")) else {
        return;
    };
    drop(reg);
    crate::kunit_expect!(test, edus > 0);
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), edus);
    CHECKS.report(test, edus * EDU_CHECKS);

    PROBES.store(0, SeqCst);
    let Some(reg) = register_or_fail::<MissDriver>(test, c_str!("rust_pci_config_miss")) else {
        return;
    };
    drop(reg);
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), 0);
}

/// The extended capabilities found, one bit per id below 64.
static EXT_CAPS: AtomicUsize = AtomicUsize::new(0);

struct ExpressDriver;

fn express_checks(pdev: &pci::Device<Core>, aer_and_dsn: bool) -> Result {
    probe_check!(CHECKS, pdev.cfg_size() == CFG_SPACE_EXP_SIZE);
    probe_check!(
        CHECKS,
        pdev.find_capability(bindings::PCI_CAP_ID_EXP as u8).is_ok()
    );
    let ext = pdev.config_space_extended()?;
    probe_check!(CHECKS, ext.size() == CFG_SPACE_EXP_SIZE);
    // The same registers through either part.
    probe_check!(
        CHECKS,
        ext.read16::<0x00>()? == pdev.config_space().read16::<0x00>()?
    );
    probe_check!(CHECKS, ext.read16::<0x00>()? == pdev.vendor_id());
    // The last dword of the extended space is in reach, the next byte is not.
    ext.read32::<0x100>()?;
    ext.try_read32(CFG_SPACE_EXP_SIZE - 4)?;
    probe_check!(CHECKS, ext.try_read8(CFG_SPACE_EXP_SIZE) == Err(EINVAL));
    probe_check!(
        CHECKS,
        ext.try_read32(CFG_SPACE_EXP_SIZE - 2) == Err(EINVAL)
    );
    // Walk the extended capabilities from 0x100 (header: id, version, next offset), and look
    // each one up by its id.
    let mut offset = 0x100;
    let mut found = 0;
    while offset != 0 && found < 64 {
        let header = ext.try_read32(offset)?;
        let id = (header & 0xffff) as u16;
        if header == 0 || id == 0 {
            break;
        }
        probe_check!(CHECKS, pdev.find_ext_capability(id).is_ok());
        if id < 64 {
            EXT_CAPS.fetch_or(1 << id, SeqCst);
        }
        offset = (header >> 20) as usize;
        found += 1;
    }
    if aer_and_dsn {
        let aer = pdev.find_ext_capability(bindings::PCI_EXT_CAP_ID_ERR as u16)?;
        let dsn = pdev.find_ext_capability(bindings::PCI_EXT_CAP_ID_DSN as u16)?;
        // Each header names its own id.
        probe_check!(
            CHECKS,
            ext.try_read16(aer.into())? == bindings::PCI_EXT_CAP_ID_ERR as u16
        );
        probe_check!(
            CHECKS,
            ext.try_read16(dsn.into())? == bindings::PCI_EXT_CAP_ID_DSN as u16
        );
        probe_check!(CHECKS, found >= 2);
    } else {
        probe_check!(
            CHECKS,
            pdev.find_ext_capability(bindings::PCI_EXT_CAP_ID_DSN as u16) == Err(ENOENT)
        );
    }
    Ok(())
}

impl pci::Driver for ExpressDriver {
    type IdInfo = bool;
    const ID_TABLE: pci::IdTable<bool> = &EXPRESS;

    fn probe(pdev: &pci::Device<Core>, info: Option<&bool>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        express_checks(pdev, info == Some(&true)).inspect_err(|e| {
            crate::pr_err!("pci extended config test probe: {:?}\n", e);
            probe_check!(CHECKS, false);
        })?;
        Ok(KBox::pin(ExpressDriver, GFP_KERNEL)?)
    }
}

/// Counts the devices of [`EXPRESS`]: all of them, and those whose extended configuration
/// space the platform reaches (all on q35 and arm64's virt; an `e1000e` on the default x86
/// machine has none).
fn express_count() -> (usize, usize) {
    let (mut all, mut extended) = (0, 0);
    let mut count = |pdev: *mut bindings::pci_dev| {
        all += 1;
        // SAFETY: `pdev` is a device that the lookup holds a reference to.
        if unsafe { (*pdev).cfg_size } as usize == CFG_SPACE_EXP_SIZE {
            extended += 1;
        }
    };
    let mut pdev = core::ptr::null_mut();
    loop {
        // SAFETY: `pci_get_class` takes a reference to the next match and drops the one on
        // `pdev`, which is NULL or the previous match.
        pdev = unsafe { bindings::pci_get_class(NVME_CLASS, pdev) };
        if pdev.is_null() {
            break;
        }
        count(pdev);
    }
    loop {
        // SAFETY: As above, for `pci_get_device`.
        pdev = unsafe { bindings::pci_get_device(0x8086, 0x10d3, pdev) };
        if pdev.is_null() {
            break;
        }
        count(pdev);
    }
    (all, extended)
}

/// The extended space of a PCI Express device reads to its last byte, its extended
/// capabilities are found by id, and an offset past 4095 is refused.
fn extended_config_space(test: &mut Test) {
    let (all, extended) = express_count();
    if extended == 0 {
        test.skip(c_str!(
            "no device with extended configuration space (q35 has them)"
        ));
        return;
    }
    CHECKS.reset();
    PROBES.store(0, SeqCst);
    EXT_CAPS.store(0, SeqCst);
    let Some(reg) = register_or_fail::<ExpressDriver>(test, c_str!("rust_pci_ext_config")) else {
        return;
    };
    drop(reg);
    // Every device bound, and each has the extended space (checked in its probe too).
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), all);
    crate::kunit_expect_eq!(test, extended, all);
    CHECKS.report(test, all * 8);
    crate::pr_info!(
        "rust_pci_config: {} device(s) with {} bytes of configuration space; extended capabilities found {:#x}\n",
        extended,
        CFG_SPACE_EXP_SIZE,
        EXT_CAPS.load(SeqCst)
    );
}

crate::kunit_suite!(
    rust_pci_config,
    [edu_ids_and_config_space, extended_config_space]
);
