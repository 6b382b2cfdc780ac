// SPDX-License-Identifier: GPL-2.0
//! Control: MMIO through `access` at constant offsets inside the BAR, and run-time offsets; a
//! bound device forged from a raw pointer only under `unsafe`.
// expect: ok

use kernel::{
    device::{Bound, Device},
    devres::Devres,
    dma::CoherentAllocation,
    pci,
    prelude::*,
    types::ARef,
};

/// Reads the last register of the BAR and one at a run-time offset.
pub fn read(pdev: &pci::Device<Bound>, offset: usize) -> Result<u32> {
    let bar = pdev.iomap_region_sized::<0x100>(0, kernel::c_str!("sample"))?;
    let regs = bar.access(pdev.as_ref())?;
    regs.write32::<0x04>(1);
    Ok(regs.read32::<0xfc>() ^ regs.try_read32(offset)?)
}

/// The same, for a `Devres` reached without the bound device.
pub fn id(bar: &Devres<pci::Bar<0x100>>) -> Option<u32> {
    bar.try_access_with(|regs| regs.read32::<0x00>())
}

/// Allocates DMA memory for a counted device that the caller knows to be bound.
///
/// # Safety
///
/// A driver must be bound to `dev` for the duration of the call.
pub unsafe fn ring(dev: &ARef<Device>) -> Result {
    // SAFETY: The caller guarantees that a driver is bound for the duration of the call.
    let bound = unsafe { Device::<Bound>::from_raw(dev.as_raw()) };
    drop(CoherentAllocation::<u32>::alloc_coherent(
        bound, 16, GFP_KERNEL,
    )?);
    Ok(())
}
