// SPDX-License-Identifier: GPL-2.0
//! Creating a DMA pool from a counted device reference, which proves no binding.
// expect: E0308
// expect-message: expected `&Device<Bound>`, found `&ARef<Device>`

use kernel::{c_str, device::Device, dma::DmaPool, prelude::*, types::ARef};

/// Makes a pool for a device that may have no driver.
pub fn pool(dev: ARef<Device>) -> Result<DmaPool<u64>> {
    DmaPool::new(&dev, c_str!("descs"), 0, 0)
}
