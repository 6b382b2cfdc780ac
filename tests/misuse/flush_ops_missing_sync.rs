// SPDX-License-Identifier: GPL-2.0
//! Implementing `FlushOps` without the sync step that runs before memory is released.
// expect: E0046
// expect-message: missing `tlb_sync` in implementation

use kernel::io_pgtable::FlushOps;

/// Callbacks that queue invalidations and never wait for them.
pub struct Queued;

// SAFETY: Claimed; the missing `tlb_sync` is what the compiler refuses.
unsafe impl FlushOps for Queued {
    fn tlb_flush_all(&self) {}
    fn tlb_flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {}
    fn tlb_add_page(&self, _iova: usize, _granule: usize) {}
}
