// SPDX-License-Identifier: GPL-2.0
//! Comparing a page table's output address with a DMA address as if they were the same kind: on
//! x86_64 without an IOMMU the numbers agree, behind one they do not.
// expect: E0308
// expect-message: expected `PhysAddr`, found `u64`

use kernel::{
    dma::CoherentAllocation,
    io_pgtable::{ArmLpaeS1, IoPageTable, NoFlush},
    prelude::*,
};

/// Checks a translation against the buffer's bus address, without saying how they relate.
pub fn translated(t: &IoPageTable<ArmLpaeS1, NoFlush>, buf: &CoherentAllocation<u8>) -> Result<bool> {
    Ok(t.iova_to_phys(0x1000)? == buf.dma_handle())
}
