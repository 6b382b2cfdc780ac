// SPDX-License-Identifier: GPL-2.0
//! A 16-bit configuration write at an odd constant offset.
// expect: E0080
// expect-message: configuration space offset out of bounds or unaligned

use kernel::{device::Bound, pci, prelude::*};

/// Writes the command register one byte off.
pub fn write(pdev: &pci::Device<Bound>) -> Result {
    pdev.config_space().write16::<0x05>(0)
}
