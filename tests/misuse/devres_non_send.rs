// SPDX-License-Identifier: GPL-2.0
//! Putting a value that is not `Send` into a `Devres`, which may drop it on another thread.
// expect: E0277
// expect-message: cannot be sent between threads safely

use kernel::{
    device::{Bound, Device},
    devres::Devres,
    prelude::*,
};

/// A ring whose base is a raw pointer.
pub struct Ring {
    base: *mut u8,
}

/// Keeps the ring until unbind.
pub fn keep(dev: &Device<Bound>, base: *mut u8) -> Result<Devres<Ring>> {
    Devres::new(dev, Ring { base }, GFP_KERNEL)
}
