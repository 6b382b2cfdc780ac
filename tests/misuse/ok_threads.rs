// SPDX-License-Identifier: GPL-2.0
//! Control: threads and work items get a counted device and plain values, not borrows.
// expect: ok

use kernel::{
    device::{Bound, Device},
    devres::Devres,
    kunit::thread,
    prelude::*,
    types::ARef,
    workqueue,
};

/// Starts a thread and a work item that keep using the device.
pub fn start(dev: &Device<Bound>) -> Result {
    let counted: ARef<Device> = ARef::from(&**dev);
    let t = thread::spawn(move || kernel::dev_info!(&*counted, "from a thread\n"))?;
    drop(t);
    let counted: ARef<Device> = ARef::from(&**dev);
    workqueue::system().try_spawn(GFP_KERNEL, move || kernel::dev_info!(&*counted, "work\n"))?;
    Ok(())
}

/// Reads the counter here and sends the value, or lets the thread take its own guard.
pub fn read(counter: &'static Devres<u64>) -> Result {
    let value = counter.try_access_with(|v| *v).ok_or(ENXIO)?;
    thread::spawn(move || assert_eq!(value, 0))?.join();
    thread::spawn(move || assert_eq!(counter.try_access_with(|v| *v), Some(0)))?.join();
    Ok(())
}
