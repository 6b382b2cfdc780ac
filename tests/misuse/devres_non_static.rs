// SPDX-License-Identifier: GPL-2.0
//! Putting a borrow into a `Devres`, then forgetting the `Devres`: the release at unbind would
//! drop the value after the borrow ended.
// expect: E0597
// expect-message: argument requires that `len` is borrowed for `'static`

use kernel::{
    device::{Bound, Device},
    devres::Devres,
    prelude::*,
};

/// A view of a length that lives on the stack.
pub struct LenRef<'a>(&'a u32);

impl Drop for LenRef<'_> {
    fn drop(&mut self) {
        // Reads the borrowed length, which would be gone at unbind.
        core::hint::black_box(*self.0);
    }
}

/// Hands a borrow of a local to devres and forgets the handle.
pub fn leak(dev: &Device<Bound>) -> Result {
    let len = 16u32;
    let res = Devres::new(dev, LenRef(&len), GFP_KERNEL)?;
    core::mem::forget(res);
    Ok(())
}
