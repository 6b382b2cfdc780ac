// SPDX-License-Identifier: GPL-2.0
//! Borrowing a device's name without `unsafe`: `device_rename()` frees the old name under no
//! lock that a reader could take.
// expect: E0133
// expect-message: call to unsafe function `kernel::device::Device::<Ctx>::name` is unsafe

use kernel::{device::Device, str::CStr};

/// Keeps the name of a device that may be renamed meanwhile.
pub fn name(dev: &Device) -> &CStr {
    dev.name()
}
