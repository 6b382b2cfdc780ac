// SPDX-License-Identifier: GPL-2.0
//! Creating an `IoPageTable` from a device in the `Normal` context.
// expect: E0308
// expect-message: expected `&Device<Bound>`, found `&Device`

use kernel::{
    device::Device,
    devres::Devres,
    io_pgtable::{ArmLpaeS1, Config, IoPageTable, NoFlush},
    prelude::*,
};

/// Builds a page table for a device that may have no driver.
pub fn vm(dev: &Device) -> Result<Devres<IoPageTable<ArmLpaeS1, NoFlush>>> {
    let cfg = Config::new((1 << 12) | (1 << 21), 48, 48);
    // SAFETY: Nothing walks the table.
    IoPageTable::<ArmLpaeS1, _>::new(dev, cfg, unsafe { NoFlush::new() })
}
