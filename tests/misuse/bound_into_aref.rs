// SPDX-License-Identifier: GPL-2.0
//! Turning a bound device reference into a counted one with `.into()`.
// expect: E0277
// expect-message: Device<kernel::device::Bound>: AlwaysRefCounted` is not satisfied

use kernel::{
    device::{Bound, Device},
    types::ARef,
};

/// Keeps the device, bound context and all.
pub fn keep(dev: &Device<Bound>) -> ARef<Device<Bound>> {
    dev.into()
}
