// SPDX-License-Identifier: GPL-2.0
//! Forging a bound device from a counted one without `unsafe`.
// expect: E0133
// expect-message: from_raw` is unsafe

use kernel::{
    device::{Bound, Device},
    dma::CoherentAllocation,
    prelude::*,
    types::ARef,
};

/// Claims that a counted device is bound in order to allocate DMA memory.
pub fn ring(dev: &ARef<Device>) -> Result {
    let bound = Device::<Bound>::from_raw(dev.as_raw());
    drop(CoherentAllocation::<u32>::alloc_coherent(
        bound, 16, GFP_KERNEL,
    )?);
    Ok(())
}
