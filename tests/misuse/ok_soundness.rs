// SPDX-License-Identifier: GPL-2.0
//! The corrected versions of the soundness cases: owned values in a `Devres`, revocation after
//! the guard is gone, shared revocation and flush callbacks vouched for with `unsafe`.
// expect: ok

use kernel::{
    device::{Bound, Device},
    devres::Devres,
    io_pgtable::{ArmLpaeS1, Config, FlushOps, IoPageTable, NoFlush},
    prelude::*,
    revocable::Revocable,
    sync::Arc,
};

/// An owned length.
pub struct Len(u32);

/// Hands an owned value to devres and forgets the handle: it is dropped at unbind.
pub fn leak(dev: &Device<Bound>) -> Result {
    let res = Devres::new(dev, Len(16), GFP_KERNEL)?;
    core::mem::forget(res);
    Ok(())
}

/// Reads the value, then revokes it.
pub fn read_then_revoke(mut r: Pin<KBox<Revocable<u32>>>) -> Option<u32> {
    let value = *r.try_access()?;
    r.as_mut().revoke();
    Some(value)
}

/// Revokes a value other tasks may be reading.
pub fn revoke(r: &Arc<Revocable<u32>>) -> bool {
    // SAFETY: This task holds no guard and is not in a read-side critical section.
    unsafe { r.revoke_shared() }
}

/// Callbacks that invalidate the whole TLB synchronously.
pub struct Full;

// SAFETY: Every callback would write the device's invalidate-all register and wait for it.
unsafe impl FlushOps for Full {
    fn tlb_flush_all(&self) {}
    fn tlb_flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {}
    fn tlb_add_page(&self, _iova: usize, _granule: usize) {}
    fn tlb_sync(&self) {}
}

/// A table for a device without a TLB.
pub fn vm(dev: &Device<Bound>) -> Result<Devres<IoPageTable<ArmLpaeS1, NoFlush>>> {
    // SAFETY: The device walks the table for every access and caches nothing.
    let none = unsafe { NoFlush::new() };
    IoPageTable::<ArmLpaeS1, _>::new(dev, Config::new(1 << 12, 48, 48), none)
}

/// A table with real callbacks.
pub fn vm_full(dev: &Device<Bound>) -> Result<Devres<IoPageTable<ArmLpaeS1, Full>>> {
    IoPageTable::<ArmLpaeS1, _>::new(dev, Config::new(1 << 12, 48, 48), Full)
}
