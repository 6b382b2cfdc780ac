// SPDX-License-Identifier: GPL-2.0
//! Coherent DMA memory of a type that the device could fill with invalid values (`bool`).
// expect: E0277 E0599
// expect-message: `bool: FromBytes`

use kernel::{
    device::{Bound, Device},
    dma::CoherentAllocation,
    prelude::*,
};

/// A ring of flags that the device sets.
pub fn flags(dev: &Device<Bound>) -> Result {
    let ring = CoherentAllocation::<bool>::alloc_coherent(dev, 64, GFP_KERNEL)?;
    drop(ring);
    Ok(())
}
