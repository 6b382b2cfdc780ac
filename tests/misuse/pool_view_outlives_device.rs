// SPDX-License-Identifier: GPL-2.0
//! Keeping the CPU's view of a pool object past the bound-device borrow that proved it valid:
//! the unbind returns the block to the pool when that borrow ends.
// expect: E0621
// expect-message: explicit lifetime required in the type of `dev`

use kernel::{
    device::{Bound, Device},
    dma::{PoolObject, PoolView},
    prelude::*,
};

/// Returns a view that outlives `dev`.
pub fn view<'a>(dev: &Device<Bound>, obj: &'a PoolObject<u64>) -> Result<PoolView<'a, u64>> {
    obj.access(dev)
}
