// SPDX-License-Identifier: GPL-2.0
//! A driver can not make its own id table type: the C bus walks `as_ptr()` until a terminator.
// expect: E0277
// expect-message: is a "sealed trait"

use kernel::{
    device::Core,
    device_id::IdInfo,
    pci::{self, DeviceId},
    prelude::*,
};

/// A "table" whose C pointer dangles and has no terminator.
pub struct FakeTable;

impl IdInfo<DeviceId, ()> for FakeTable {
    fn as_ptr(&self) -> *const kernel::bindings::pci_device_id {
        core::ptr::NonNull::dangling().as_ptr()
    }

    fn info(&self, _index: usize) -> Option<&()> {
        Some(&())
    }

    fn index_of(&self, _id: *const kernel::bindings::pci_device_id) -> Option<usize> {
        Some(0)
    }
}

static FAKE: FakeTable = FakeTable;

/// A driver registered with the fake table: the PCI core would read past it.
pub struct Driver;

impl pci::Driver for Driver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &FAKE;

    fn probe(_pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        Err(ENODEV)
    }
}
