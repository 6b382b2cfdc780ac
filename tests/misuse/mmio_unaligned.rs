// SPDX-License-Identifier: GPL-2.0
//! An MMIO access at an unaligned constant offset.
// expect: E0080
// expect-message: MMIO offset out of bounds or unaligned

use kernel::{device::Bound, pci, prelude::*};

/// Writes a 32-bit register at an odd offset.
pub fn write(pdev: &pci::Device<Bound>) -> Result {
    let bar = pdev.iomap_region_sized::<0x100>(0, kernel::c_str!("sample"))?;
    bar.access(pdev.as_ref())?.write32::<0x02>(1);
    Ok(())
}
