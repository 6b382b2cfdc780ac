// SPDX-License-Identifier: GPL-2.0
//! Keeping a bound device reference in a static.
// expect: E0521
// expect-message: borrowed data escapes

use kernel::{
    device::{Bound, Core, Device},
    pci,
};

static mut LAST: Option<&'static Device<Bound>> = None;

/// Called from probe.
pub fn remember(pdev: &pci::Device<Core>) {
    // SAFETY: Only called from probe, which the driver core serialises.
    unsafe { LAST = Some(pdev.as_ref()) };
}
