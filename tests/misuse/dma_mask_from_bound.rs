// SPDX-License-Identifier: GPL-2.0
//! Setting the DMA mask outside probe/remove, from a bound (not core) device.
// expect: E0599
// expect-message: no method named `dma_set_mask`

use kernel::{
    device::{Bound, Device},
    dma::DmaMask,
    prelude::*,
};

/// Widens the mask later on, while allocations may be running.
pub fn widen(dev: &Device<Bound>) -> Result {
    dev.dma_set_mask(DmaMask::new::<64>())
}
