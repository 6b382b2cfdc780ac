// SPDX-License-Identifier: GPL-2.0
//! A driver can not make an interrupt line of its own choosing: an `Irq` comes only from the
//! bus (for PCI, from the device's allocated vectors), so no registration can request a line
//! that is not the device's or that was freed (nor can it name what keeps a line valid).
// expect: E0624 E0277
// expect-message: private associated function

use kernel::{device::Device, irq::Irq, sync::Arc};

/// Claims line 1 for a device.
pub fn forge(dev: &Device, keep: Arc<u32>) -> Irq {
    // SAFETY: Not true; and the constructor is not the driver's to call anyway.
    unsafe { Irq::new(dev, 1, keep) }
}
