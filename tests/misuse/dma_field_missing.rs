// SPDX-License-Identifier: GPL-2.0
//! Projecting a field that the descriptor does not have.
// expect: E0609
// expect-message: no field `status` on type `Desc`

use kernel::{
    dma::CoherentAllocation,
    dma_read,
    prelude::*,
    types::{AsBytes, FromBytes},
};

/// A descriptor without a status field.
#[derive(FromBytes, AsBytes)]
#[repr(C)]
pub struct Desc {
    pub addr: u64,
    pub len: u32,
    pub flags: u32,
}

/// Reads a field by a name the type does not have.
pub fn status(ring: &CoherentAllocation<Desc>) -> Result<u32> {
    dma_read!(ring[0].status)
}
