// SPDX-License-Identifier: GPL-2.0
//! Inventing a device context of one's own (the contexts are a sealed set).
// expect: E0277
// expect-message: is a "sealed trait"

use kernel::device::{Device, DeviceContext};

/// A context that claims whatever the driver likes.
pub struct Anything;

impl DeviceContext for Anything {}

/// Uses a device in the invented context.
pub fn raw(dev: &Device<Anything>) -> *mut kernel::bindings::device {
    dev.as_raw()
}
