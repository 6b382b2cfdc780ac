// SPDX-License-Identifier: GPL-2.0
//! Opting out of TLB invalidation without `unsafe`.
// expect: E0133
// expect-message: call to unsafe function `NoFlush::new` is unsafe

use kernel::{
    device::{Bound, Device},
    devres::Devres,
    io_pgtable::{ArmLpaeS1, Config, IoPageTable, NoFlush},
    prelude::*,
};

/// A table for a device that does cache translations.
pub fn vm(dev: &Device<Bound>) -> Result<Devres<IoPageTable<ArmLpaeS1, NoFlush>>> {
    IoPageTable::<ArmLpaeS1, _>::new(dev, Config::new(1 << 12, 48, 48), NoFlush::new())
}
