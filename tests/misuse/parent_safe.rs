// SPDX-License-Identifier: GPL-2.0
//! Borrowing the parent of a bound device without `unsafe`: `device_move()` drops the old
//! parent's reference holding only the PM lock, also while a driver is bound.
// expect: E0133
// expect-message: call to unsafe function `kernel::device::Device::<kernel::device::Bound>::parent` is unsafe

use kernel::device::{Bound, Device};

/// Logs the parent of a device that may be moved meanwhile.
pub fn log_parent(dev: &Device<Bound>) {
    if let Some(parent) = dev.parent() {
        kernel::dev_info!(parent, "child bound\n");
    }
}
