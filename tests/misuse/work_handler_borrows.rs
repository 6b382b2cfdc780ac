// SPDX-License-Identifier: GPL-2.0
//! Bound work can not borrow from probe: it may run until the binding ends, so a work handler
//! must be `'static`.
// expect: E0478 E0495
// expect-message: must outlive the static lifetime

use kernel::{
    device::{Bound, Device},
    irq::work::WorkHandler,
};

/// Work that keeps a borrowed counter.
pub struct Borrowing<'a>(&'a core::sync::atomic::AtomicU32);

impl<'a> WorkHandler for Borrowing<'a> {
    fn run(&self, _dev: &Device<Bound>) {
        self.0.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
}
