// SPDX-License-Identifier: GPL-2.0
//! Control: plain-data descriptors by derive, a ring filled before its address is handed out,
//! projected fields, a DMA pool, memory without a kernel mapping, a scatter-gather mapping and
//! a range of coherent memory read through its iterator, all in safe code.
// expect: ok

use kernel::{
    c_str,
    device::{Bound, Device},
    dma::{CoherentAllocation, DataDirection, DeviceOnlyAllocation, DmaAddress, DmaPool, SgMapping},
    dma_read, dma_write,
    prelude::*,
    types::{AsBytes, FromBytes},
};

/// A ring descriptor.
#[derive(FromBytes, AsBytes)]
#[repr(C)]
pub struct Desc {
    pub addr: u64,
    pub len: u32,
    pub status: u32,
}

/// Builds a ring, posts a buffer from a pool, and keeps firmware scratch memory.
pub fn ring(dev: &Device<Bound>) -> Result<u32> {
    let ring = CoherentAllocation::<Desc>::init(dev, 8, GFP_KERNEL, |descs, base| {
        for (i, d) in descs.iter_mut().enumerate() {
            d.addr = base + (i * 16) as DmaAddress;
        }
        Ok(())
    })?;
    let r = ring.access(dev)?;
    let pool = DmaPool::<[u8; 256]>::new(dev, c_str!("bufs"), 64, 0)?;
    let buf = pool.alloc(dev, GFP_ATOMIC)?;
    dma_write!(r[0].addr = buf.dma_handle())?;
    dma_write!(r[0].len = 256)?;
    dma_write!(buf.access(dev)?[0] = [0; 256])?;
    let _scratch = DeviceOnlyAllocation::alloc(dev, 4096, GFP_KERNEL)?;
    let data = KVVec::from_elem(0u8, 3 * 4096, GFP_KERNEL)?;
    let sg = SgMapping::map(dev, data, DataDirection::ToDevice, GFP_ATOMIC)?;
    let first = sg.segments().next().map_or(0, |s| s.addr);
    let mut cpu = sg.sync_for_cpu();
    cpu[0] = 1;
    let _data = cpu.sync_for_device().unmap();
    dma_write!(r[1].addr = first)?;
    // What a device's own MMU would translate to: said so, not assumed.
    let _out = kernel::io_pgtable::PhysAddr::from_dma(first) + 0x10;
    let words = CoherentAllocation::<u32>::zeroed(dev, 64, GFP_KERNEL)?;
    let _sum = words.access(dev)?.iter(0, 64)?.fold(0, u32::wrapping_add);
    dma_read!(r[0].status)
}
