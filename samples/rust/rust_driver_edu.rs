// SPDX-License-Identifier: GPL-2.0

//! Rust driver for QEMU's `edu` educational PCI device.
//!
//! The device (PCI 1234:11e8, see QEMU's `docs/specs/edu.rst`) has a 1 MiB memory BAR with an
//! identification register, a liveness register that returns the complement of what was written
//! to it, and a factorial unit. At probe the driver checks all three and logs the results.

use kernel::{
    c_str, dev_err, dev_info, device::Core, device_id::IdArray, devres::Devres, pci, prelude::*,
};

/// The registers this driver uses, all 32 bits wide.
mod regs {
    pub(crate) const ID: usize = 0x00;
    pub(crate) const LIVENESS: usize = 0x04;
    pub(crate) const FACTORIAL: usize = 0x08;
    pub(crate) const STATUS: usize = 0x20;
    /// Set in `STATUS` while the factorial unit is busy.
    pub(crate) const STATUS_COMPUTING: u32 = 0x01;
    /// The extent of the registers above: what the BAR must at least have.
    pub(crate) const END: usize = 0x100;
}

/// The low byte that every edu identification register reads as.
const ID_MAGIC: u32 = 0xed;
/// How many times to read `STATUS` before giving up on the factorial unit.
const POLL_LIMIT: u32 = 1_000_000;

type Bar = pci::Bar<{ regs::END }>;

struct EduDriver {
    bar: Devres<Bar>,
}

static ID_TABLE: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);

impl EduDriver {
    fn check_liveness(bar: &Bar) -> Result {
        const PATTERN: u32 = 0x5a5a_a5a5;
        bar.write32::<{ regs::LIVENESS }>(PATTERN);
        if bar.read32::<{ regs::LIVENESS }>() != !PATTERN {
            return Err(EIO);
        }
        Ok(())
    }

    fn factorial(bar: &Bar, n: u32) -> Result<u32> {
        bar.write32::<{ regs::FACTORIAL }>(n);
        for _ in 0..POLL_LIMIT {
            if bar.read32::<{ regs::STATUS }>() & regs::STATUS_COMPUTING == 0 {
                return Ok(bar.read32::<{ regs::FACTORIAL }>());
            }
            core::hint::spin_loop();
        }
        Err(EIO)
    }
}

impl pci::Driver for EduDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &ID_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: &()) -> Result<Pin<KBox<Self>>> {
        pdev.enable_device_mem()?;
        pdev.set_master();
        let edu = KBox::pin(
            EduDriver {
                bar: pdev.iomap_region_sized(0, c_str!("rust_driver_edu"))?,
            },
            GFP_KERNEL,
        )?;
        // The bound device proves the mapping is alive: no lock, no RCU.
        let bar = edu.bar.access(pdev.as_ref())?;

        let id = bar.read32::<{ regs::ID }>();
        if id & 0xff != ID_MAGIC {
            dev_err!(pdev, "edu: unexpected identification {:#010x}\n", id);
            return Err(ENODEV);
        }
        dev_info!(
            pdev,
            "edu: identification {:#010x} (version {}.{})\n",
            id,
            id >> 24,
            (id >> 16) & 0xff
        );

        Self::check_liveness(bar)
            .inspect_err(|_| dev_err!(pdev, "edu: liveness check failed\n"))?;
        dev_info!(pdev, "edu: liveness check passed\n");

        let n = 10;
        let result = Self::factorial(bar, n)
            .inspect_err(|_| dev_err!(pdev, "edu: factorial timed out\n"))?;
        dev_info!(pdev, "edu: factorial({}) = {}\n", n, result);
        Ok(edu)
    }

    fn remove(pdev: &pci::Device<Core>, _this: Pin<&Self>) {
        dev_info!(pdev, "edu: removed\n");
    }
}

kernel::module_pci_driver! {
    type: EduDriver,
    name: "rust_driver_edu",
    author: "Rust for Linux Contributors",
    description: "Rust driver for QEMU's edu PCI device",
    license: "GPL v2",
}
