// SPDX-License-Identifier: GPL-2.0
//! A PCI id in a platform id table: the platform core would read it as a device name.
// expect: E0308
// expect-message: mismatched types

use kernel::{device_id::IdArray, pci, platform};

/// The table of a platform driver, with the entry of a PCI driver.
pub static TABLE: IdArray<platform::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);
