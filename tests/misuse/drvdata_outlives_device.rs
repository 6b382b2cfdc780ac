// SPDX-License-Identifier: GPL-2.0
//! The driver data borrowed from a bound device lives no longer than that borrow: it is
//! dropped at the end of the unbind, so it can not be kept past the callback.
// expect: uncoded
// expect-message: lifetime may not live long enough

use kernel::{
    device::{Bound, Device},
    prelude::*,
};

/// A driver's data.
pub struct MyDriver {
    /// Something of it.
    pub value: u32,
}

/// Returns the driver data for use after the callback that had the bound device.
pub fn keep<'a>(dev: &'a Device<Bound>) -> Result<Pin<&'static MyDriver>> {
    dev.drvdata::<MyDriver>()
}
