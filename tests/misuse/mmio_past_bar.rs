// SPDX-License-Identifier: GPL-2.0
//! An MMIO access at a constant offset past the size of the BAR.
// expect: E0080
// expect-message: MMIO offset out of bounds or unaligned

use kernel::{device::Bound, pci, prelude::*};

/// Reads a register past the 0x100 bytes the BAR was mapped with.
pub fn read(pdev: &pci::Device<Bound>) -> Result<u32> {
    let bar = pdev.iomap_region_sized::<0x100>(0, kernel::c_str!("sample"))?;
    Ok(bar.access(pdev.as_ref())?.read32::<0x100>())
}
