// SPDX-License-Identifier: GPL-2.0
//! Implementing `Elements` for a type of the driver's: the projection macros would read and
//! write through whatever pointer it returns.
// expect: E0277
// expect-message: `Elements` is a "sealed trait"

use kernel::{dma::Elements, prelude::*};

/// Not DMA memory at all.
pub struct Fake;

impl Elements for Fake {
    type Elem = u64;

    fn count(&self) -> usize {
        1
    }

    fn element_ptr(&self, _i: usize) -> Result<*mut u64> {
        Ok(0x1000 as *mut u64)
    }
}
