// SPDX-License-Identifier: GPL-2.0
//! Control: DMA memory, `Devres` and page tables from a bound device; masks from the core one.
// expect: ok

use kernel::{
    device::{Bound, Core, Device},
    devres::Devres,
    dma::{CoherentAllocation, DmaMask},
    io_pgtable::{ArmLpaeS1, Config, IoPageTable, NoFlush},
    pci,
    prelude::*,
};

/// The widest mask there is.
pub const WIDE: DmaMask = DmaMask::new::<64>();

/// Sets the masks in probe.
pub fn setup(pdev: &pci::Device<Core>) -> Result {
    pdev.as_ref().dma_set_mask(DmaMask::new::<1>())?;
    let dev: &Device<Core> = pdev.as_ref();
    dev.dma_set_mask(WIDE)
}

/// Allocates a ring.
pub fn ring(dev: &Device<Bound>) -> Result {
    let ring = CoherentAllocation::<u32>::alloc_coherent(dev, 256, GFP_KERNEL)?;
    drop(ring);
    Ok(())
}

/// Attaches a counter.
pub fn counter(dev: &Device<Bound>) -> Result<Devres<u64>> {
    Devres::new(dev, 0u64, GFP_KERNEL)
}

/// Builds a page table.
pub fn vm(dev: &Device<Bound>) -> Result<Devres<IoPageTable<ArmLpaeS1, NoFlush>>> {
    let cfg = Config::new((1 << 12) | (1 << 21), 48, 48);
    // SAFETY: Nothing walks the table.
    IoPageTable::<ArmLpaeS1, _>::new(dev, cfg, unsafe { NoFlush::new() })
}

/// Reads the mask from a bound device, which is allowed.
pub fn mask(dev: &Device<Bound>) -> u64 {
    dev.dma_mask().unwrap_or(0)
}

/// Attributes from raw bits go through the check.
pub fn odd() -> Result<kernel::dma::Attrs> {
    kernel::dma::Attrs::try_from_raw(1 << 31)
}

/// A ring of plain bytes.
pub fn flags(dev: &Device<Bound>) -> Result {
    let ring = CoherentAllocation::<u8>::alloc_coherent(dev, 64, GFP_KERNEL)?;
    drop(ring);
    Ok(())
}

/// The parent of a bound device is alive.
pub fn log_parent(dev: &Device<Bound>) {
    // SAFETY: The device is a PCI device, which is never moved to another parent.
    if let Some(parent) = unsafe { dev.parent() } {
        kernel::dev_info!(parent, "child bound\n");
    }
}

/// Code generic over the (sealed) contexts.
pub fn raw<Ctx: kernel::device::DeviceContext>(dev: &Device<Ctx>) -> *mut kernel::bindings::device {
    dev.as_raw()
}

/// The name of a PCI device.
pub fn name(dev: &Device<Bound>) -> &kernel::str::CStr {
    // SAFETY: The device is a PCI device, which is never renamed.
    unsafe { dev.name() }
}
