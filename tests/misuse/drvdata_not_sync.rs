// SPDX-License-Identifier: GPL-2.0
//! The driver data is shared with interrupt handlers and work on other CPUs: it can only be
//! reached as a type that is `Send + Sync`, as every driver's data is.
// expect: E0277

use core::cell::Cell;
use kernel::{
    device::{Bound, Device},
    prelude::*,
};

/// Bumps a counter that is not safe to share, from a handler.
pub fn bump(dev: &Device<Bound>) -> Result {
    let cell = dev.drvdata::<Cell<u32>>()?;
    cell.set(cell.get() + 1);
    Ok(())
}
