// SPDX-License-Identifier: GPL-2.0
//! Swapping two buffers of a mapped list through the CPU's view: the table would describe the
//! wrong memory. The view gives each buffer's data, never the buffers.
// expect: E0599
// expect-message: no method named `swap` found

use kernel::{
    device::{Bound, Device},
    dma::{DataDirection, SgMapping},
    prelude::*,
};

/// Reorders the buffers of a list the device will write.
pub fn reorder(dev: &Device<Bound>) -> Result {
    let mut list = KVec::new();
    list.push(KVVec::from_elem(0u8, 100, GFP_KERNEL)?, GFP_KERNEL)?;
    list.push(KVVec::from_elem(0u8, 9000, GFP_KERNEL)?, GFP_KERNEL)?;
    let mapped = SgMapping::map(dev, list, DataDirection::FromDevice, GFP_KERNEL)?;
    let mut cpu = mapped.sync_for_cpu();
    cpu.swap(0, 1);
    drop(cpu);
    Ok(())
}
