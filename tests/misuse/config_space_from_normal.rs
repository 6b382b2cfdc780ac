// SPDX-License-Identifier: GPL-2.0
//! Configuration space through a counted PCI device, which may have been removed and its
//! address given to a new device by a rescan.
// expect: E0599
// expect-message: no method named `config_space` found

use kernel::{pci, prelude::*, types::ARef};

/// Reads the command register of a device kept past its binding.
pub fn command(pdev: ARef<pci::Device>) -> Result<u16> {
    pdev.config_space().read16::<0x04>()
}
