// SPDX-License-Identifier: GPL-2.0
//! Returning the bound device out of probe for later use.
// expect: uncoded
// expect-message: returning this value requires that `'1` must outlive `'static`

use kernel::{
    device::{Bound, Core, Device},
    pci,
};

/// Gives the caller a bound device to use after probe has returned.
pub fn probe_and_keep(pdev: &pci::Device<Core>) -> &'static Device<Bound> {
    pdev.as_ref()
}
