// SPDX-License-Identifier: GPL-2.0
//! Control: the CPU touches a streaming buffer only between `sync_for_cpu` and `sync_for_device`,
//! and the `KVec` again after `unmap`.
// expect: ok

use kernel::{
    device::{Bound, Device},
    dma::{DataDirection, StreamingMapping},
    prelude::*,
};

/// Peeks at the first byte.
pub fn peek(dev: &Device<Bound>) -> Result<u8> {
    let buf = KVec::from_elem(0u8, 64, GFP_KERNEL)?;
    let mapped = StreamingMapping::map(dev, buf, DataDirection::FromDevice)?;
    let cpu = mapped.sync_for_cpu();
    Ok(cpu[0])
}

/// Refills the buffer, then writes the `KVec` after unmapping it.
pub fn refill(dev: &Device<Bound>) -> Result {
    let buf = KVec::from_elem(0u8, 64, GFP_KERNEL)?;
    let mapped = StreamingMapping::map(dev, buf, DataDirection::ToDevice)?;
    let mut cpu = mapped.sync_for_cpu();
    cpu.fill(0xff);
    let mut buf = cpu.sync_for_device().unmap();
    buf[0] = 0x5a;
    Ok(())
}

/// Reads the buffer before handing it back to the device.
pub fn poll(mapped: StreamingMapping<u8>) -> (u8, StreamingMapping<u8>) {
    let cpu = mapped.sync_for_cpu();
    let first = cpu[0];
    (first, cpu.sync_for_device())
}
