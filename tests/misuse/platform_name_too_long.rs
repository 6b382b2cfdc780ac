// SPDX-License-Identifier: GPL-2.0
//! A platform device name that does not fit `PLATFORM_NAME_SIZE` (20 bytes with the NUL): the C
//! core would read past the entry's name, or match a truncated one.
// expect: E0080
// expect-message: an id name must fit its C field, NUL included

use kernel::{c_str, device_id::IdArray, platform};

/// Twenty bytes before the NUL: one too many.
pub static TABLE: IdArray<platform::DeviceId, (), 1> =
    IdArray::new([(platform::DeviceId::new(c_str!("twenty-bytes-name-xx")), ())]);
