// SPDX-License-Identifier: GPL-2.0
//! Asking a counted device (possibly a zombie, whose parent may be gone) for its parent.
// expect: E0599
// expect-message: no method named `parent`

use kernel::{device::Device, types::ARef};

/// Logs the parent of a device that may have been deleted.
pub fn log_parent(dev: &ARef<Device>) {
    if let Some(parent) = dev.parent() {
        kernel::dev_info!(&**dev, "parent {}\n", parent.name());
    }
}
