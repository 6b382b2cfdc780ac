// SPDX-License-Identifier: GPL-2.0
//! An interrupt is registered only from a bound device: a registration is freed at unbind, and
//! a plain device reference proves no binding whose unbind would free it.
// expect: E0308

use kernel::{
    c_str,
    device::{Bound, Device},
    devres::Devres,
    irq::{self, Flags, Handler, Irq, IrqReturn},
    prelude::*,
};

/// A handler that owns nothing.
pub struct Quiet;

impl Handler for Quiet {
    fn handle(&self, _dev: &Device<Bound>) -> IrqReturn {
        IrqReturn::None
    }
}

/// Registers a line with a counted device reference, which any code may hold.
pub fn listen(dev: &Device, line: Irq) -> Result<Devres<irq::Registration<Quiet>>> {
    irq::Registration::new(dev, line, Flags::SHARED, c_str!("quiet"), Quiet)
}
