// SPDX-License-Identifier: GPL-2.0
//! Implementing `FlushOps` without `unsafe`: the table frees memory on the strength of the
//! callbacks, so an implementation vouches for them.
// expect: E0200
// expect-message: the trait `FlushOps` requires an `unsafe impl` declaration

use kernel::io_pgtable::FlushOps;

/// Callbacks that invalidate nothing.
pub struct Lazy;

impl FlushOps for Lazy {
    fn tlb_flush_all(&self) {}
    fn tlb_flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {}
    fn tlb_add_page(&self, _iova: usize, _granule: usize) {}
    fn tlb_sync(&self) {}
}
