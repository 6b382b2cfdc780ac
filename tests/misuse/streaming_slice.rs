// SPDX-License-Identifier: GPL-2.0
//! Writing a streaming-mapped buffer through a slice while the device owns it.
// expect: E0599
// expect-message: no method named `as_mut_slice`

use kernel::{
    device::{Bound, Device},
    dma::{DataDirection, StreamingMapping},
    prelude::*,
};

/// Refills a buffer that is mapped for the device.
pub fn refill(dev: &Device<Bound>) -> Result {
    let buf = KVec::from_elem(0u8, 64, GFP_KERNEL)?;
    let mut mapped = StreamingMapping::map(dev, buf, DataDirection::ToDevice)?;
    mapped.as_mut_slice().fill(0xff);
    Ok(())
}
