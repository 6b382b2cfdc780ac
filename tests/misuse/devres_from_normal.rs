// SPDX-License-Identifier: GPL-2.0
//! Creating a `Devres` from a device in the `Normal` context.
// expect: E0308
// expect-message: expected `&Device<Bound>`, found `&Device`

use kernel::{device::Device, devres::Devres, prelude::*};

/// Attaches a counter to a device that may have no driver.
pub fn counter(dev: &Device) -> Result<Devres<u64>> {
    Devres::new(dev, 0u64, GFP_KERNEL)
}
