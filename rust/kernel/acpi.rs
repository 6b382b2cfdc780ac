// SPDX-License-Identifier: GPL-2.0

//! ACPI match tables.
//!
//! A driver whose devices may be described by ACPI names a table of [`DeviceId`]s, each a
//! hardware or compatible id (`_HID`, `_CID`), beside its bus's own id table (see
//! [`platform::Driver::ACPI_ID_TABLE`]); the ACPI core matches the device's companion against
//! it. The tables are used only in a kernel with `CONFIG_ACPI`, but build in every kernel, and
//! [`module_device_table!(acpi, TABLE)`](crate::module_device_table) gives a module their
//! aliases.
//!
//! C header: [`include/linux/mod_devicetable.h`](srctree/include/linux/mod_devicetable.h)
//!
//! [`platform::Driver::ACPI_ID_TABLE`]: crate::platform::Driver::ACPI_ID_TABLE

use crate::{
    bindings,
    device_id::{self, RawDeviceId},
    str::CStr,
};

/// An entry of an ACPI match table: the C `struct acpi_device_id`, which matches a device by
/// its hardware or compatible id.
///
/// # Examples
///
/// ```
/// use kernel::{acpi, c_str, device_id::IdArray};
///
/// static TABLE: IdArray<acpi::DeviceId, u8, 1> =
///     IdArray::new([(acpi::DeviceId::new(c_str!("PNP0501")), 1)]);
/// assert_eq!(TABLE.info(0), Some(&1));
/// ```
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::acpi_device_id);

impl DeviceId {
    /// An entry that matches the devices with the id `id`.
    ///
    /// # Panics
    ///
    /// Panics if `id` is empty or longer than 15 bytes (`ACPI_ID_LEN` with the NUL); in a
    /// `static` table that is a compile-time error.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{acpi, c_str, device_id::IdArray};
    ///
    /// static TABLE: IdArray<acpi::DeviceId, (), 1> =
    ///     IdArray::new([(acpi::DeviceId::new(c_str!("LNRO0001")), ())]);
    /// assert!(TABLE.info(0).is_some());
    /// ```
    pub const fn new(id: &'static CStr) -> Self {
        Self(bindings::acpi_device_id {
            id: device_id::c_name(id),
            driver_data: 0,
            cls: 0,
            cls_msk: 0,
        })
    }
}

// SAFETY: `DeviceId` is a transparent wrapper of `struct acpi_device_id`, whose `driver_data` is
// a `kernel_ulong_t` that the ACPI core never writes (matching returns the entry itself). An
// entry with an empty id and no class ends the table; `new` refuses an empty id.
unsafe impl RawDeviceId for DeviceId {
    type RawType = bindings::acpi_device_id;

    const DRIVER_DATA_OFFSET: usize = core::mem::offset_of!(bindings::acpi_device_id, driver_data);

    fn index(&self) -> usize {
        self.0.driver_data
    }
}

/// An ACPI match table with driver data of type `U`.
///
/// # Examples
///
/// ```
/// use kernel::{acpi, c_str, device_id::IdArray};
///
/// static TABLE: IdArray<acpi::DeviceId, u32, 1> =
///     IdArray::new([(acpi::DeviceId::new(c_str!("LNRO0001")), 3)]);
///
/// let table: acpi::IdTable<u32> = &TABLE;
/// assert_eq!(table.info(0), Some(&3));
/// ```
pub type IdTable<U> = device_id::IdTable<DeviceId, U>;
