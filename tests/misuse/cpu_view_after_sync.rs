// SPDX-License-Identifier: GPL-2.0
//! Using the CPU view of a streaming buffer after `sync_for_device`.
// expect: E0382
// expect-message: borrow of moved value: `cpu`

use kernel::dma::StreamingMapping;

/// Hands the buffer back to the device, then reads it anyway.
pub fn poll(mapped: StreamingMapping<u8>) -> (u8, StreamingMapping<u8>) {
    let cpu = mapped.sync_for_cpu();
    let mapped = cpu.sync_for_device();
    (cpu[0], mapped)
}
