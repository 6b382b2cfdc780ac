// SPDX-License-Identifier: GPL-2.0
//! An interrupt handler can not borrow from probe: it may run until the line is freed at unbind,
//! long after the borrow ends, so a handler must be `'static`.
// expect: E0478 E0495
// expect-message: must outlive the static lifetime

use kernel::{
    device::{Bound, Device},
    irq::{Handler, IrqReturn},
};

/// A handler that keeps a borrowed counter.
pub struct Borrowing<'a>(&'a core::sync::atomic::AtomicU32);

impl<'a> Handler for Borrowing<'a> {
    fn handle(&self, _dev: &Device<Bound>) -> IrqReturn {
        self.0.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        IrqReturn::Handled
    }
}
