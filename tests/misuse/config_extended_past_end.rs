// SPDX-License-Identifier: GPL-2.0
//! A read of the extended configuration space at a constant offset past its 4096 bytes.
// expect: E0080
// expect-message: configuration space offset out of bounds or unaligned

use kernel::{device::Bound, pci, prelude::*};

/// Reads one dword past the end of the extended space.
pub fn read(pdev: &pci::Device<Bound>) -> Result<u32> {
    pdev.config_space_extended()?.read32::<0x1000>()
}
