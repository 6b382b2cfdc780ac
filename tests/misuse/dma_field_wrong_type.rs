// SPDX-License-Identifier: GPL-2.0
//! Writing a value of another type than the field's: a 64-bit address into a 32-bit field.
// expect: E0308
// expect-message: expected `u32`, found `u64`

use kernel::{
    dma::CoherentAllocation,
    dma_write,
    prelude::*,
    types::{AsBytes, FromBytes},
};

/// A descriptor.
#[derive(FromBytes, AsBytes)]
#[repr(C)]
pub struct Desc {
    pub addr: u64,
    pub len: u32,
    pub flags: u32,
}

/// Stores the address in the length field.
pub fn post(ring: &CoherentAllocation<Desc>, addr: u64) -> Result {
    dma_write!(ring[0].len = addr)
}
