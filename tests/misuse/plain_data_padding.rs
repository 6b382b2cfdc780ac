// SPDX-License-Identifier: GPL-2.0
//! A descriptor with padding claimed to be plain data: its padding bytes would be read uninitialised.
// expect: E0080
// expect-message: `Desc` has padding bytes: AsBytes needs every byte initialised

use kernel::types::{AsBytes, FromBytes};

/// Three bytes of padding follow `kind`.
#[derive(FromBytes, AsBytes)]
#[repr(C)]
pub struct Desc {
    pub kind: u8,
    pub len: u32,
}
