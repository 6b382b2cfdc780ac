// SPDX-License-Identifier: GPL-2.0
//! Writing a scatter-gather-mapped buffer while the device owns it.
// expect: E0608
// expect-message: cannot index into a value of type `SgMapping<Vec<u8, KVmalloc>>`

use kernel::{
    device::{Bound, Device},
    dma::{DataDirection, SgMapping},
    prelude::*,
};

/// Patches the first byte of a buffer the device is reading.
pub fn patch(dev: &Device<Bound>) -> Result {
    let buf = KVVec::from_elem(0u8, 8192, GFP_KERNEL)?;
    let mut mapped = SgMapping::map(dev, buf, DataDirection::ToDevice, GFP_KERNEL)?;
    mapped[0] = 1;
    drop(mapped);
    Ok(())
}
