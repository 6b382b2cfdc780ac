// SPDX-License-Identifier: GPL-2.0
//! Reading a streaming-mapped buffer by index while the device owns it.
// expect: E0608
// expect-message: cannot index into a value of type `StreamingMapping<u8>`

use kernel::{
    device::{Bound, Device},
    dma::{DataDirection, StreamingMapping},
    prelude::*,
};

/// Peeks at the first byte of a buffer that is mapped for the device.
pub fn peek(dev: &Device<Bound>) -> Result<u8> {
    let buf = KVec::from_elem(0u8, 64, GFP_KERNEL)?;
    let mapped = StreamingMapping::map(dev, buf, DataDirection::FromDevice)?;
    Ok(mapped[0])
}
