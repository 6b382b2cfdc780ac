// SPDX-License-Identifier: GPL-2.0
//! A PCI-only method on a platform device: a platform device has no bus mastering to turn on,
//! and no configuration space.
// expect: E0599
// expect-message: no method named `set_master`
// expect-message: no method named `config_space`

use kernel::{device::Core, platform};

/// Turns on DMA as a PCI driver would, and reads the vendor id.
pub fn start(pdev: &platform::Device<Core>) {
    pdev.set_master();
    let _ = pdev.config_space().read16::<0x00>();
}
