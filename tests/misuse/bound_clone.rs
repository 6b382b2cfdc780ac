// SPDX-License-Identifier: GPL-2.0
//! Cloning a bound device into an owned value.
// expect: E0599
// expect-message: no method named `clone`

use kernel::device::{Bound, Device};

/// Makes an owned copy of the device.
pub fn own(dev: &Device<Bound>) {
    let owned: Device<Bound> = (*dev).clone();
    drop(owned);
}
