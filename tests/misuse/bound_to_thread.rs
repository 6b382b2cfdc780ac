// SPDX-License-Identifier: GPL-2.0
//! Moving a bound device reference into a kernel thread.
// expect: E0277
// expect-message: cannot be shared between threads safely

use kernel::{
    device::{Bound, Device},
    kunit::thread,
    prelude::*,
};

/// Starts a thread that keeps using the device.
pub fn start(dev: &Device<Bound>) -> Result {
    let t = thread::spawn(move || kernel::dev_info!(dev, "from a thread\n"))?;
    drop(t);
    Ok(())
}
