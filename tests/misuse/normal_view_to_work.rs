// SPDX-License-Identifier: GPL-2.0
//! Moving a borrow of the device taken from the bound reference into a work item.
// expect: E0521
// expect-message: borrowed data escapes

use kernel::{
    device::{Bound, Device},
    prelude::*,
    workqueue,
};

/// Queues work that logs through the device.
pub fn start(dev: &Device<Bound>) -> Result {
    let plain: &Device = dev;
    workqueue::system().try_spawn(GFP_KERNEL, move || kernel::dev_info!(plain, "work\n"))?;
    Ok(())
}
