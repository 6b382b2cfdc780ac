// SPDX-License-Identifier: GPL-2.0
//! Mapping memory the driver only borrows: the buffer must be owned (and `'static`), since the
//! mapping keeps it until the device is done, past any borrow.
// expect: E0277
// expect-message: the trait bound `&mut [u8]: SgBuffer` is not satisfied

use kernel::{
    device::{Bound, Device},
    dma::{DataDirection, SgMapping},
    prelude::*,
};

/// Maps a borrowed slice.
pub fn map_borrowed(dev: &Device<Bound>, data: &'static mut [u8]) -> Result {
    let mapped = SgMapping::map(dev, data, DataDirection::ToDevice, GFP_KERNEL)?;
    drop(mapped);
    Ok(())
}
