// SPDX-License-Identifier: GPL-2.0

//! Device tree (OF) match tables.
//!
//! A driver whose devices may be described by a device tree node names a table of
//! [`DeviceId`]s, each a `compatible` string, beside its bus's own id table (see
//! [`platform::Driver::OF_ID_TABLE`]); the OF core matches the device's node against it. The
//! tables are used only in a kernel with `CONFIG_OF`, but build in every kernel, and
//! [`module_device_table!(of, TABLE)`](crate::module_device_table) gives a module their aliases.
//!
//! C header: [`include/linux/mod_devicetable.h`](srctree/include/linux/mod_devicetable.h)
//!
//! [`platform::Driver::OF_ID_TABLE`]: crate::platform::Driver::OF_ID_TABLE

use crate::{
    bindings,
    device_id::{self, RawDeviceId},
    str::CStr,
};

/// An entry of an OF match table: the C `struct of_device_id`, which matches a device node by
/// its `compatible` string.
///
/// The entry's index is kept in its `data` pointer, as an integer that no C code dereferences:
/// the OF core returns the matching entry itself, and only drivers read `data`.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, device_id::IdArray, of};
///
/// static TABLE: IdArray<of::DeviceId, &str, 2> = IdArray::new([
///     (of::DeviceId::new(c_str!("vendor,sample-timer")), "v1"),
///     (of::DeviceId::new(c_str!("vendor,sample-timer-v2")), "v2"),
/// ]);
/// assert_eq!(TABLE.info(1), Some(&"v2"));
/// ```
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::of_device_id);

impl DeviceId {
    /// An entry that matches the device nodes compatible with `compatible`.
    ///
    /// # Panics
    ///
    /// Panics if `compatible` is empty or longer than 127 bytes; in a `static` table that is a
    /// compile-time error.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, device_id::IdArray, of};
    ///
    /// static PL011: IdArray<of::DeviceId, (), 1> =
    ///     IdArray::new([(of::DeviceId::new(c_str!("arm,pl011")), ())]);
    /// assert!(PL011.info(0).is_some());
    /// ```
    pub const fn new(compatible: &'static CStr) -> Self {
        Self(bindings::of_device_id {
            name: [0; 32],
            type_: [0; 32],
            compatible: device_id::c_name(compatible),
            data: core::ptr::null(),
        })
    }
}

// SAFETY: `DeviceId` is a transparent wrapper of `struct of_device_id`. Its `data` is a pointer,
// of the size and alignment of `usize`, that the OF core never reads or writes: matching returns
// the entry itself (`of_match_node()`). An all-zero entry ends the table (no name, type or
// compatible string; `new` refuses an empty compatible string).
unsafe impl RawDeviceId for DeviceId {
    type RawType = bindings::of_device_id;

    const DRIVER_DATA_OFFSET: usize = core::mem::offset_of!(bindings::of_device_id, data);

    fn index(&self) -> usize {
        self.0.data as usize
    }
}

/// An OF match table with driver data of type `U`.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, device_id::IdArray, of};
///
/// static TABLE: IdArray<of::DeviceId, u32, 1> =
///     IdArray::new([(of::DeviceId::new(c_str!("vendor,sample-timer")), 7)]);
///
/// let table: of::IdTable<u32> = &TABLE;
/// assert_eq!(table.info(0), Some(&7));
/// ```
pub type IdTable<U> = device_id::IdTable<DeviceId, U>;
