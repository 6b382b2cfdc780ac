// SPDX-License-Identifier: GPL-2.0
//! A descriptor with a field that the device could fill with an invalid value (`bool`).
// expect: E0277
// expect-message: `bool: FromBytes`

use kernel::types::FromBytes;

/// The device writes `valid`; any byte other than 0 or 1 would be an invalid `bool`.
#[derive(FromBytes)]
#[repr(C)]
pub struct Status {
    pub len: u32,
    pub valid: bool,
}
