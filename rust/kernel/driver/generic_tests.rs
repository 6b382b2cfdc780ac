// SPDX-License-Identifier: GPL-2.0

//! Checks written once against a bound device of any bus, for the KUnit suites of each bus.
//!
//! A bus suite calls [`exercise`] from its test driver's `probe` and keeps a [`Kept`] past the
//! unbind: what a binding's resources must do does not depend on the bus that made the binding,
//! so it is checked by the same code for every bus. [`exercise`] uses a `Devres`, coherent
//! memory, a streaming mapping and a device page table mapping coherent memory, and drops them
//! again. [`Kept`] holds one of each past the unbind: [`Kept::check_released`] finds them
//! revoked, [`released`] counts what the unbind freed, and in the next binding of the same
//! device [`Kept::check_stale`] finds them refused.
//!
//! A failed check returns [`EDOM`], which none of the checked calls returns, after printing the
//! line of the check.

use crate::{
    alloc::flags::GFP_KERNEL,
    device::{Bound, Device},
    devres::Devres,
    dma::{self, CoherentAllocation, DataDirection, StreamingMapping},
    error::code::*,
    io_pgtable::{prot, ArmLpaeS1, Config, IoPageTable, NoFlush, PhysAddr},
    prelude::*,
};
use core::sync::atomic::Ordering::SeqCst;

const SZ_4K: usize = 1 << 12;
/// Where the page tables of these checks map their memory.
const IOVA: usize = 0x10_0000;

/// Fails the calling check function with [`EDOM`] if `$cond` is false, naming the line.
macro_rules! ensure {
    ($cond:expr) => {
        if !$cond {
            crate::pr_err!(
                "{}:{}: check failed: {}\n",
                file!(),
                line!(),
                stringify!($cond)
            );
            return Err(EDOM);
        }
    };
}

/// A table for `dev` that no hardware walks.
fn table(dev: &Device<Bound>) -> Result<Devres<IoPageTable<ArmLpaeS1, NoFlush>>> {
    // SAFETY: The device is never told about the table, so it never walks it.
    let no_flush = unsafe { NoFlush::new() };
    IoPageTable::<ArmLpaeS1, _>::new(dev, Config::new(SZ_4K, 48, 48), no_flush)
}

/// A `Devres` is reached with the bound device, also under RCU, and knows its device.
fn devres(dev: &Device<Bound>) -> Result {
    let value = Devres::new(dev, 7u64, GFP_KERNEL)?;
    ensure!(value.access(dev) == Ok(&7));
    ensure!(value.try_access_with(|v| *v) == Some(7));
    ensure!(value.device().as_raw() == dev.as_raw());
    Ok(())
}

/// Coherent memory is within the coherent mask, read back as written, and bounds-checked.
fn coherent(dev: &Device<Bound>) -> Result {
    let mem = CoherentAllocation::<u32>::alloc_coherent(dev, 1024, GFP_KERNEL)?;
    let m = mem.access(dev)?;
    ensure!(m.dma_handle() + m.size() as u64 - 1 <= dev.dma_coherent_mask());
    for i in 0..m.count() {
        m.write(i, !(i as u32))?;
    }
    ensure!((0..m.count()).all(|i| m.read(i) == Ok(!(i as u32))));
    ensure!(m.read(1024) == Err(EINVAL));
    let copy = CoherentAllocation::from_slice(dev, &[1u64, 2, 3], GFP_KERNEL)?;
    ensure!(copy.access(dev)?.read(2) == Ok(3));
    Ok(())
}

/// A streaming mapping hands the buffer to the CPU and back, and returns it on unmap.
fn streaming(dev: &Device<Bound>) -> Result {
    let buf = KVec::from_elem(0x5au8, SZ_4K, GFP_KERNEL)?;
    let mapped = StreamingMapping::map(dev, buf, DataDirection::Bidirectional)?;
    ensure!(mapped.len() == SZ_4K && mapped.dma_handle() != 0);
    let mut cpu = mapped.sync_for_cpu();
    ensure!(cpu.iter().all(|&b| b == 0x5a));
    cpu[1] = 0xa5;
    let buf = cpu.sync_for_device().unmap();
    ensure!(buf.len() == SZ_4K && buf[0] == 0x5a && buf[1] == 0xa5);
    ensure!(StreamingMapping::map(dev, KVec::<u8>::new(), DataDirection::ToDevice).is_err());
    Ok(())
}

/// A device page table maps coherent memory at its DMA address, and lets it go on unmap.
fn page_table(dev: &Device<Bound>) -> Result {
    let table = table(dev)?;
    let t = table.access(dev)?;
    let mem = CoherentAllocation::<u64>::alloc_coherent(dev, 2 * SZ_4K / 8, GFP_KERNEL)?;
    let handle = mem.access(dev)?.dma_handle();
    ensure!(t.map_coherent(dev, IOVA, &mem, prot::READ | prot::WRITE)? == 2 * SZ_4K);
    ensure!(
        t.iova_to_phys(IOVA + SZ_4K + 8) == Ok(PhysAddr::from_dma(handle) + (SZ_4K + 8) as u64)
    );
    // A second map over the range is refused, and nothing else changes.
    ensure!(t.map_coherent(dev, IOVA, &mem, prot::READ).err() == Some(EEXIST));
    ensure!(t.unmap_coherent(IOVA) == Ok(2 * SZ_4K));
    ensure!(t.iova_to_phys(IOVA).map(|p| p.is_zero()) == Ok(true));
    ensure!(t.unmap_coherent(IOVA).err() == Some(ENOENT));
    Ok(())
}

/// Runs every check that a bound device of any bus must pass; nothing it makes outlives it.
///
/// Call it from a test driver's `probe`, after the DMA mask is set (any mask that covers the
/// machine's coherent memory: a device page table translates to DMA addresses, whatever they
/// are).
pub(crate) fn exercise(dev: &Device<Bound>) -> Result {
    devres(dev)?;
    coherent(dev)?;
    streaming(dev)?;
    page_table(dev)?;
    Ok(())
}

/// Resources of a binding kept past its unbind: a `Devres`, coherent memory that a device page
/// table maps, and a streaming mapping.
pub(crate) struct Kept {
    value: Devres<u64>,
    mem: Devres<CoherentAllocation<u64>>,
    table: Devres<IoPageTable<ArmLpaeS1, NoFlush>>,
    _mapping: StreamingMapping<u8>,
}

/// What the unbind of a binding that holds one [`Kept`] frees of it: one coherent allocation
/// (mapped by the table, freed after it) and one streaming mapping.
pub(crate) const KEPT_RELEASED: Released = Released {
    coherent: 1,
    streaming: 1,
};

/// Counts of DMA resources that the driver core has released, from the counters of the DMA
/// code; compare two of them with [`Released::since`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Released {
    /// Coherent allocations freed (`dma_free_attrs()`), by anyone.
    pub(crate) coherent: usize,
    /// Streaming mappings unmapped by an unbind.
    pub(crate) streaming: usize,
}

impl Released {
    /// What was released between `earlier` and `self`.
    pub(crate) fn since(self, earlier: Released) -> Released {
        Released {
            coherent: self.coherent - earlier.coherent,
            streaming: self.streaming - earlier.streaming,
        }
    }
}

/// The DMA resources released so far.
pub(crate) fn released() -> Released {
    Released {
        coherent: dma::tests::COHERENT_FREED.load(SeqCst),
        streaming: dma::tests::STREAMING_RELEASED.load(SeqCst),
    }
}

impl Kept {
    /// Makes the resources for `dev`'s binding and checks that they are reachable now.
    pub(crate) fn new(dev: &Device<Bound>) -> Result<Self> {
        let value = Devres::new(dev, 0u64, GFP_KERNEL)?;
        ensure!(value.access(dev) == Ok(&0));
        let mem = CoherentAllocation::<u64>::alloc_coherent(dev, SZ_4K / 8, GFP_KERNEL)?;
        let table = table(dev)?;
        ensure!(
            table
                .access(dev)?
                .map_coherent(dev, IOVA, &mem, prot::READ)?
                == SZ_4K
        );
        let buf = KVec::from_elem(0u8, SZ_4K, GFP_KERNEL)?;
        let mapping = StreamingMapping::map(dev, buf, DataDirection::FromDevice)?;
        Ok(Self {
            value,
            mem,
            table,
            _mapping: mapping,
        })
    }

    /// After the unbind of the binding that made them: every value is revoked.
    pub(crate) fn check_released(&self) -> Result {
        ensure!(self.value.try_access().is_none());
        ensure!(self.mem.try_access().is_none());
        ensure!(self.table.try_access().is_none());
        Ok(())
    }

    /// In a later binding of the same device: the values of the earlier one are refused.
    pub(crate) fn check_stale(&self, dev: &Device<Bound>) -> Result {
        ensure!(self.value.access(dev).err() == Some(ENXIO));
        ensure!(self.mem.access(dev).err() == Some(ENXIO));
        ensure!(self.table.access(dev).err() == Some(ENXIO));
        Ok(())
    }
}
