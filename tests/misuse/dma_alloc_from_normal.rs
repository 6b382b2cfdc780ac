// SPDX-License-Identifier: GPL-2.0
//! Allocating coherent DMA memory from a counted device reference (`Normal` context).
// expect: E0308
// expect-message: expected `&Device<Bound>`, found `&ARef<Device>`

use kernel::{device::Device, dma::CoherentAllocation, prelude::*, types::ARef};

/// Allocates a ring for a device that may have no driver any more.
pub fn ring(dev: &ARef<Device>) -> Result {
    let ring = CoherentAllocation::<u32>::alloc_coherent(dev, 256, GFP_KERNEL)?;
    drop(ring);
    Ok(())
}
