// SPDX-License-Identifier: GPL-2.0
//! Control: configuration space of a bound device at constant offsets inside it and at run-time
//! offsets, the extended space at its last dword, capabilities, ids matched by subsystem and
//! class, and a module's aliases from its id table.
// expect: ok

use kernel::{bindings, device::Bound, device_id::IdArray, pci, prelude::*};

static TABLE: IdArray<pci::DeviceId, u32, 2> = IdArray::new([
    (
        pci::DeviceId::from_id(0x1234, 0x11e8).with_subsystem(0x1af4, 0x1100),
        1,
    ),
    (pci::DeviceId::from_class(0x010802, 0xffffff), 2),
]);

kernel::module_device_table!(pci, TABLE);

/// Reads the command register, a register at a run-time offset and the MSI capability's id.
pub fn read(pdev: &pci::Device<Bound>, offset: usize) -> Result<u32> {
    let cfg = pdev.config_space();
    cfg.write16::<0x04>(cfg.read16::<0x04>()?)?;
    let msi = pdev.find_capability(bindings::PCI_CAP_ID_MSI as u8)?;
    let id = cfg.try_read8(msi.into())?;
    Ok(u32::from(cfg.read8::<0xff>()?) ^ cfg.try_read32(offset)? ^ u32::from(id))
}

/// Reads the last dword of the extended space.
pub fn read_extended(pdev: &pci::Device<Bound>) -> Result<u32> {
    pdev.config_space_extended()?.read32::<0xffc>()
}
