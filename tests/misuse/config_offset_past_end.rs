// SPDX-License-Identifier: GPL-2.0
//! A configuration read at a constant offset past the standard 256 bytes.
// expect: E0080
// expect-message: configuration space offset out of bounds or unaligned

use kernel::{device::Bound, pci, prelude::*};

/// Reads the first extended capability header through the standard space.
pub fn read(pdev: &pci::Device<Bound>) -> Result<u32> {
    pdev.config_space().read32::<0x100>()
}
