// SPDX-License-Identifier: GPL-2.0
//! Using the `KVec` after it was moved into a streaming mapping.
// expect: E0382
// expect-message: borrow of moved value: `buf`

use kernel::{
    device::{Bound, Device},
    dma::{DataDirection, StreamingMapping},
    prelude::*,
};

/// Keeps writing the buffer that the device now owns.
pub fn send(dev: &Device<Bound>) -> Result {
    let mut buf = KVec::from_elem(0u8, 64, GFP_KERNEL)?;
    let mapped = StreamingMapping::map(dev, buf, DataDirection::ToDevice)?;
    buf[0] = 0x5a;
    drop(mapped);
    Ok(())
}
