// SPDX-License-Identifier: GPL-2.0

//! KUnit suite: one table of bad inputs across the driver-core APIs, each with its error code.
//!
//! A test driver binds QEMU's two `edu` devices. The first device is then unbound and bound
//! again, and its second probe runs every entry of [`INPUTS`] against live objects: a BAR
//! mapping, coherent allocations, an io-pgtable, a `Devres` left from the first binding and
//! one of the other device. Each entry must return exactly its error, and must not make the
//! kernel warn (the `TAINT_WARN` flag stays clear across it).

use super::testing::{register_or_fail, DevRef, EDU};
use crate::{
    alloc::{
        flags::{GFP_KERNEL, __GFP_NOWARN},
        KVVec, KVec,
    },
    bindings, c_str,
    device::{Bound, Core, Device},
    devres::Devres,
    dma::{
        attrs, Attrs, CoherentAllocation, DataDirection, DeviceOnlyAllocation, DmaMask, DmaPool,
        PoolObject, SgMapping, StreamingMapping,
    },
    error::{code::*, Error},
    io_pgtable::{prot, ArmLpaeS1, ArmV7s, Config, IoPageTable, NoFlush, PhysAddr, Prot},
    kunit::Test,
    pci,
    prelude::*,
    sync::Arc,
};
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering::SeqCst};

const SZ_4K: usize = 1 << 12;
const SZ_16K: usize = 1 << 14;
const SZ_64K: usize = 1 << 16;
const SZ_2M: usize = 1 << 21;
/// The part of BAR0 the driver maps.
const BAR_SIZE: usize = 0x100;
/// Elements of [`Ctx::alloc`].
const COUNT: usize = 64;
/// The io-pgtable's input and output address sizes.
const IAS: u32 = 39;
const OAS: u32 = 40;
/// A page mapped in [`Ctx::table`], and one mapped and unmapped again.
const MAPPED: usize = 0x1000;
const UNMAPPED: usize = 0x3000;
const PHYS: PhysAddr = PhysAddr::new(0x1000_0000);

/// The live objects the entries misuse.
struct Ctx<'a> {
    dev: &'a Device<Bound>,
    pdev: &'a pci::Device<Core>,
    bar: &'a pci::Bar<BAR_SIZE>,
    alloc: &'a CoherentAllocation<u32>,
    /// An object of a pool of this binding.
    pool_obj: &'a PoolObject<u64>,
    /// A pool of this device from its previous binding.
    stale_pool: &'a DmaPool<u64>,
    /// Three pages, one byte short: fewer than a 16 KiB table page covers.
    ring: &'a Arc<Devres<CoherentAllocation<u8>>>,
    table: &'a IoPageTable<ArmLpaeS1, NoFlush>,
    /// A `Devres` of this device from its previous binding.
    stale: &'a Devres<u32>,
    /// A `Devres` of the other `edu` device, which is bound.
    foreign: &'a Devres<u32>,
}

/// One bad input: what it is, the error it must return, and the call.
struct BadInput {
    what: &'static str,
    expect: Error,
    call: fn(&Ctx<'_>) -> Result,
}

/// Discards the value of a call, keeping its error.
/// The device in the `Core` context, for the setters.
fn core<'a>(c: &Ctx<'a>) -> &'a Device<Core> {
    c.pdev.as_ref()
}

fn ok<T>(r: Result<T>) -> Result {
    r.map(|_| ())
}

/// Maps one page of `pgsize` (or `count` of them) with the unsafe entry point.
fn map(c: &Ctx<'_>, iova: usize, paddr: PhysAddr, pgsize: usize, count: usize) -> Result {
    // SAFETY: No hardware walks the table, so the physical addresses are never accessed; and
    // every call made with this helper is refused before anything is mapped.
    let r = unsafe {
        c.table
            .map_pages(iova, paddr, pgsize, count, prot::READ, GFP_KERNEL)
    };
    r.map(|_| ()).map_err(|(e, _)| e)
}

fn new_table(c: &Ctx<'_>, cfg: Config) -> Result {
    ok(IoPageTable::<ArmLpaeS1, NoFlush>::new(
        c.dev,
        cfg,
        crate::io_pgtable::tests::no_flush(),
    ))
}

/// The table. Entries are grouped by API; the comment of each is its name in the report.
static INPUTS: [BadInput; 70] = [
    // DMA masks.
    BadInput {
        what: "DMA mask of 0 bits",
        expect: EINVAL,
        call: |_| ok(DmaMask::try_new(0)),
    },
    BadInput {
        what: "DMA mask of 65 bits",
        expect: EINVAL,
        call: |_| ok(DmaMask::try_new(65)),
    },
    // Coherent allocations.
    BadInput {
        what: "coherent allocation of 0 elements",
        expect: EINVAL,
        call: |c| {
            ok(CoherentAllocation::<u32>::alloc_coherent(
                c.dev, 0, GFP_KERNEL,
            ))
        },
    },
    BadInput {
        what: "coherent allocation whose size overflows",
        expect: EOVERFLOW,
        call: |c| {
            ok(CoherentAllocation::<u64>::alloc_coherent(
                c.dev,
                usize::MAX / 4,
                GFP_KERNEL,
            ))
        },
    },
    BadInput {
        what: "coherent allocation of 1 TiB",
        expect: ENOMEM,
        call: |c| {
            ok(CoherentAllocation::<u8>::alloc_attrs(
                c.dev,
                1 << 40,
                GFP_KERNEL | __GFP_NOWARN,
                attrs::DMA_ATTR_NO_WARN,
            ))
        },
    },
    BadInput {
        what: "unknown DMA attribute bit",
        expect: EINVAL,
        call: |_| ok(Attrs::try_from_raw(1 << 31)),
    },
    BadInput {
        what: "element read at index == count",
        expect: EINVAL,
        call: |c| ok(c.alloc.read(COUNT)),
    },
    BadInput {
        what: "element write at index usize::MAX",
        expect: EINVAL,
        call: |c| c.alloc.write(usize::MAX, 1),
    },
    BadInput {
        what: "DMA handle of index == count",
        expect: EINVAL,
        call: |c| ok(c.alloc.dma_handle_of(COUNT)),
    },
    BadInput {
        what: "slice past the end",
        expect: EINVAL,
        call: |c| {
            // SAFETY: Refused before any slice is made.
            ok(unsafe { c.alloc.as_slice(COUNT - 3, 4) })
        },
    },
    BadInput {
        what: "slice whose end overflows",
        expect: EINVAL,
        call: |c| {
            // SAFETY: Refused before any slice is made.
            ok(unsafe { c.alloc.as_slice(usize::MAX, 2) })
        },
    },
    BadInput {
        what: "projected read at index == count",
        expect: EINVAL,
        call: |c| ok(crate::dma_read!(c.alloc[COUNT])),
    },
    BadInput {
        what: "projected write at index usize::MAX",
        expect: EINVAL,
        call: |c| crate::dma_write!(c.alloc[usize::MAX] = 1),
    },
    BadInput {
        what: "DMA attribute DMA_ATTR_NO_KERNEL_MAPPING in Attrs",
        expect: EINVAL,
        call: |_| ok(Attrs::try_from_raw(bindings::DMA_ATTR_NO_KERNEL_MAPPING)),
    },
    BadInput {
        what: "device-only allocation of 0 bytes",
        expect: EINVAL,
        call: |c| ok(DeviceOnlyAllocation::alloc(c.dev, 0, GFP_KERNEL)),
    },
    BadInput {
        what: "coherent allocation initialised from an empty slice",
        expect: EINVAL,
        call: |c| {
            ok(CoherentAllocation::<u32>::from_slice(
                c.dev,
                &[],
                GFP_KERNEL,
            ))
        },
    },
    BadInput {
        what: "coherent initialiser that fails",
        expect: EDOM,
        call: |c| {
            ok(CoherentAllocation::<u32>::init(
                c.dev,
                4,
                GFP_KERNEL,
                |_, _| Err(EDOM),
            ))
        },
    },
    // Scatter-gather mappings and segment limits.
    BadInput {
        what: "scatter-gather mapping of an empty buffer",
        expect: EINVAL,
        call: |c| {
            ok(SgMapping::map(
                c.dev,
                KVVec::<u8>::new(),
                DataDirection::ToDevice,
                GFP_KERNEL,
            ))
        },
    },
    BadInput {
        what: "scatter-gather mapping of a list of empty buffers",
        expect: EINVAL,
        call: |c| {
            let mut list = KVec::new();
            list.push(KVVec::<u8>::new(), GFP_KERNEL)?;
            ok(SgMapping::map(
                c.dev,
                list,
                DataDirection::ToDevice,
                GFP_KERNEL,
            ))
        },
    },
    BadInput {
        what: "maximum segment size 0",
        expect: EINVAL,
        call: |c| core(c).dma_set_max_seg_size(0),
    },
    BadInput {
        what: "segment boundary mask 0x1000 (not 2^n - 1)",
        expect: EINVAL,
        call: |c| core(c).dma_set_seg_boundary(0x1000),
    },
    BadInput {
        what: "segment boundary mask below a page",
        expect: EINVAL,
        call: |c| core(c).dma_set_seg_boundary(0x1ff),
    },
    // DMA pools.
    BadInput {
        what: "DMA pool of a zero-sized type",
        expect: EINVAL,
        call: |c| ok(DmaPool::<[u64; 0]>::new(c.dev, c_str!("bad"), 0, 0)),
    },
    BadInput {
        what: "DMA pool alignment 3 (not a power of two)",
        expect: EINVAL,
        call: |c| ok(DmaPool::<u64>::new(c.dev, c_str!("bad"), 3, 0)),
    },
    BadInput {
        what: "DMA pool boundary 24 (not a power of two)",
        expect: EINVAL,
        call: |c| ok(DmaPool::<[u8; 16]>::new(c.dev, c_str!("bad"), 0, 24)),
    },
    BadInput {
        what: "DMA pool boundary smaller than a block",
        expect: EINVAL,
        call: |c| ok(DmaPool::<[u8; 64]>::new(c.dev, c_str!("bad"), 0, 32)),
    },
    BadInput {
        what: "DMA pool block larger than INT_MAX",
        expect: EINVAL,
        call: |c| ok(DmaPool::<[u8; 1 << 31]>::new(c.dev, c_str!("bad"), 0, 0)),
    },
    BadInput {
        what: "DMA pool object read at index 1",
        expect: EINVAL,
        call: |c| ok(crate::dma_read!(c.pool_obj.access(c.dev)?[1])),
    },
    BadInput {
        what: "DMA pool of an earlier binding",
        expect: ENXIO,
        call: |c| ok(c.stale_pool.alloc(c.dev, GFP_KERNEL)),
    },
    // Streaming mappings.
    BadInput {
        what: "streaming mapping of an empty buffer",
        expect: EINVAL,
        call: |c| {
            ok(StreamingMapping::<u8>::map(
                c.dev,
                KVec::new(),
                DataDirection::ToDevice,
            ))
        },
    },
    // Devres.
    BadInput {
        what: "Devres access after its device was unbound",
        expect: ENXIO,
        call: |c| ok(c.stale.access(c.dev)),
    },
    BadInput {
        what: "Devres access through another device",
        expect: EINVAL,
        call: |c| ok(c.foreign.access(c.dev)),
    },
    // PCI and MMIO.
    BadInput {
        what: "BAR number 6",
        expect: EINVAL,
        call: |c| ok(c.pdev.iomap_region_sized::<4>(6, c_str!("bad-inputs"))),
    },
    BadInput {
        what: "BAR mapping larger than the BAR",
        expect: EINVAL,
        call: |c| {
            ok(c.pdev
                .iomap_region_sized::<{ 1 << 24 }>(0, c_str!("bad-inputs")))
        },
    },
    BadInput {
        what: "BAR region already held",
        expect: EBUSY,
        call: |c| ok(c.pdev.iomap_region_sized::<4>(0, c_str!("bad-inputs"))),
    },
    BadInput {
        what: "length of BAR 6",
        expect: EINVAL,
        call: |c| ok(c.pdev.resource_len(6)),
    },
    BadInput {
        what: "MMIO read at the end of the mapping",
        expect: EINVAL,
        call: |c| ok(c.bar.try_read32(c.bar.maxsize())),
    },
    BadInput {
        what: "unaligned MMIO read",
        expect: EINVAL,
        call: |c| ok(c.bar.try_read32(2)),
    },
    BadInput {
        what: "MMIO write at offset usize::MAX",
        expect: EINVAL,
        call: |c| c.bar.try_write32(0, usize::MAX),
    },
    // io-pgtable configurations.
    BadInput {
        what: "page table without page sizes",
        expect: EINVAL,
        call: |c| new_table(c, Config::new(0, IAS, OAS)),
    },
    BadInput {
        what: "page table with a 65-bit input size",
        expect: EINVAL,
        call: |c| new_table(c, Config::new(SZ_4K, 65, OAS)),
    },
    BadInput {
        what: "page table with no granule of the format",
        expect: EINVAL,
        call: |c| new_table(c, Config::new(SZ_2M, IAS, OAS)),
    },
    BadInput {
        what: "ARMv7s table with a 40-bit input size",
        expect: EINVAL,
        call: |c| {
            ok(IoPageTable::<ArmV7s, NoFlush>::new(
                c.dev,
                Config::new(SZ_4K, 40, 32),
                crate::io_pgtable::tests::no_flush(),
            ))
        },
    },
    // io-pgtable mappings.
    BadInput {
        what: "map: page size not in the bitmap",
        expect: EINVAL,
        call: |c| map(c, 0x10000, PHYS, SZ_64K, 1),
    },
    BadInput {
        what: "map: page size not a power of two",
        expect: EINVAL,
        call: |c| map(c, 0x10000, PHYS, 3 * SZ_4K, 1),
    },
    BadInput {
        what: "map: unaligned iova",
        expect: EINVAL,
        call: |c| map(c, 0x10800, PHYS, SZ_4K, 1),
    },
    BadInput {
        what: "map: unaligned physical address",
        expect: EINVAL,
        call: |c| map(c, 0x10000, PHYS + 0x800, SZ_4K, 1),
    },
    BadInput {
        what: "map: zero pages",
        expect: EINVAL,
        call: |c| map(c, 0x10000, PHYS, SZ_4K, 0),
    },
    BadInput {
        what: "map: iova past the input size",
        expect: ERANGE,
        call: |c| map(c, 1 << IAS, PHYS, SZ_4K, 1),
    },
    BadInput {
        what: "map: range ending past the input size",
        expect: ERANGE,
        call: |c| map(c, (1 << IAS) - SZ_4K, PHYS, SZ_4K, 2),
    },
    BadInput {
        what: "map: physical address past the output size",
        expect: ERANGE,
        call: |c| map(c, 0x10000, PhysAddr::new(1 << OAS), SZ_4K, 1),
    },
    BadInput {
        what: "map: iova range wraps around",
        expect: EINVAL,
        call: |c| map(c, usize::MAX & !(SZ_4K - 1), PHYS, SZ_4K, 2),
    },
    BadInput {
        what: "map: length overflows",
        expect: EINVAL,
        call: |c| map(c, 0x10000, PHYS, SZ_4K, usize::MAX),
    },
    BadInput {
        what: "map: physical address 0",
        expect: EINVAL,
        call: |c| map(c, 0x10000, PhysAddr::new(0), SZ_4K, 1),
    },
    BadInput {
        what: "map: over a mapped page",
        expect: EEXIST,
        call: |c| map(c, MAPPED, PHYS, SZ_4K, 1),
    },
    BadInput {
        what: "map: a block over a mapped page",
        expect: EEXIST,
        call: |c| map(c, 0, PHYS, SZ_2M, 1),
    },
    BadInput {
        what: "unknown protection flag",
        expect: EINVAL,
        call: |_| ok(Prot::try_from_raw(1 << 20)),
    },
    BadInput {
        what: "unmap: a range never mapped",
        expect: ENOENT,
        call: |c| ok(c.table.unmap_pages(0x20_0000, SZ_4K, 1)),
    },
    BadInput {
        what: "unmap: twice",
        expect: ENOENT,
        call: |c| ok(c.table.unmap_pages(UNMAPPED, SZ_4K, 1)),
    },
    BadInput {
        what: "unmap: a range only partly mapped",
        expect: ENOENT,
        call: |c| ok(c.table.unmap_pages(MAPPED, SZ_4K, 2)),
    },
    BadInput {
        what: "unmap: a block over a mapped page",
        expect: ENOENT,
        call: |c| ok(c.table.unmap_pages(0, SZ_2M, 1)),
    },
    BadInput {
        what: "translate: iova past the input size",
        expect: ERANGE,
        call: |c| ok(c.table.iova_to_phys(1 << IAS)),
    },
    BadInput {
        what: "map_coherent: pages not covering the table's page whole",
        expect: EINVAL,
        call: |c| {
            let big = IoPageTable::<ArmLpaeS1, NoFlush>::new(
                c.dev,
                Config::new(SZ_16K, 36, OAS),
                crate::io_pgtable::tests::no_flush(),
            )?;
            ok(big
                .access(c.dev)?
                .map_coherent(c.dev, 0, c.ring, prot::READ))
        },
    },
    // PCI configuration space (edu: conventional PCI, 256 bytes, MSI its only capability).
    BadInput {
        what: "config read past the standard space",
        expect: EINVAL,
        call: |c| ok(c.pdev.config_space().try_read32(pci::CFG_SPACE_SIZE)),
    },
    BadInput {
        what: "config read crossing the end of the space",
        expect: EINVAL,
        call: |c| ok(c.pdev.config_space().try_read16(pci::CFG_SPACE_SIZE - 1)),
    },
    BadInput {
        what: "config read at an unaligned offset",
        expect: EINVAL,
        call: |c| ok(c.pdev.config_space().try_read32(0x02)),
    },
    BadInput {
        what: "config write past the standard space",
        expect: EINVAL,
        call: |c| c.pdev.config_space().try_write8(0, usize::MAX),
    },
    BadInput {
        what: "extended config space of a conventional PCI device",
        expect: EINVAL,
        call: |c| ok(c.pdev.config_space_extended()),
    },
    BadInput {
        what: "capability the device lacks (PCI Express)",
        expect: ENOENT,
        call: |c| ok(c.pdev.find_capability(bindings::PCI_CAP_ID_EXP as u8)),
    },
    BadInput {
        what: "extended capability of a device without extended space",
        expect: ENOENT,
        call: |c| {
            ok(c.pdev
                .find_ext_capability(bindings::PCI_EXT_CAP_ID_ERR as u16))
        },
    },
];

/// The result of each entry: 0 not run, 1 success, otherwise the negative error code.
static RESULTS: [AtomicI32; INPUTS.len()] = [const { AtomicI32::new(0) }; INPUTS.len()];
/// Bit `i % 64` set when entry `i` made the kernel warn.
static WARNED: [AtomicUsize; INPUTS.len()] = [const { AtomicUsize::new(0) }; INPUTS.len()];
/// Whether the kernel had warned before the entries ran (nothing can be told then).
static WARNED_BEFORE: AtomicUsize = AtomicUsize::new(0);
static PROBES: AtomicUsize = AtomicUsize::new(0);
/// Why the entries could not run, as a negative error code.
static SETUP_ERROR: AtomicI32 = AtomicI32::new(0);
static FIRST: DevRef = DevRef::new();
/// The `Devres` of the first device's first binding, and one of the other device.
static STALE: AtomicPtr<Devres<u32>> = AtomicPtr::new(core::ptr::null_mut());
/// A DMA pool of the first device's first binding (from `KBox::into_raw`).
static STALE_POOL: AtomicPtr<DmaPool<u64>> = AtomicPtr::new(core::ptr::null_mut());
static FOREIGN: AtomicPtr<Devres<u32>> = AtomicPtr::new(core::ptr::null_mut());

fn warned() -> bool {
    // SAFETY: Reads a flag of the global taint mask.
    unsafe { bindings::test_taint(bindings::TAINT_WARN) != 0 }
}

/// Keeps a `Devres` of `dev` in `slot`, for a later probe.
fn keep(slot: &AtomicPtr<Devres<u32>>, dev: &Device<Bound>, value: u32) -> Result {
    let d = KBox::new(Devres::new(dev, value, GFP_KERNEL)?, GFP_KERNEL)?;
    let old = slot.swap(KBox::into_raw(d), SeqCst);
    if !old.is_null() {
        // SAFETY: Every pointer stored in the slot comes from `KBox::into_raw`.
        drop(unsafe { KBox::from_raw(old) });
    }
    Ok(())
}

fn take(slot: &AtomicPtr<Devres<u32>>) -> Option<KBox<Devres<u32>>> {
    let p = slot.swap(core::ptr::null_mut(), SeqCst);
    // SAFETY: Every pointer stored in the slot comes from `KBox::into_raw`.
    (!p.is_null()).then(|| unsafe { KBox::from_raw(p) })
}

/// Builds the objects and runs every entry.
fn run(pdev: &pci::Device<Core>) -> Result {
    let dev: &Device<Bound> = pdev.as_ref();
    let stale = STALE.load(SeqCst);
    let foreign = FOREIGN.load(SeqCst);
    if stale.is_null() || foreign.is_null() {
        return Err(ENODEV);
    }
    // SAFETY: The slots are emptied only by the case, after the driver is unregistered, so
    // they outlive this probe.
    let (stale, foreign) = unsafe { (&*stale, &*foreign) };
    pdev.enable_device_mem()?;
    let bar = pdev.iomap_region_sized::<BAR_SIZE>(0, c_str!("bad-inputs"))?;
    let alloc = CoherentAllocation::<u32>::alloc_coherent(dev, COUNT, GFP_KERNEL)?;
    let stale_pool = STALE_POOL.load(SeqCst);
    if stale_pool.is_null() {
        return Err(ENODEV);
    }
    // SAFETY: As above.
    let stale_pool = unsafe { &*stale_pool };
    let pool = DmaPool::<u64>::new(dev, c_str!("bad-inputs"), 0, 0)?;
    let pool_obj = pool.alloc(dev, GFP_KERNEL)?;
    let ring = Arc::new(
        CoherentAllocation::<u8>::alloc_coherent(dev, 3 * SZ_4K - 1, GFP_KERNEL)?,
        GFP_KERNEL,
    )?;
    let table = IoPageTable::<ArmLpaeS1, NoFlush>::new(
        dev,
        Config::new(SZ_4K | SZ_2M, IAS, OAS),
        crate::io_pgtable::tests::no_flush(),
    )?;
    let t = table.access(dev)?;
    // SAFETY: No hardware walks the table; the physical addresses are never accessed.
    unsafe {
        t.map_pages(MAPPED, PHYS, SZ_4K, 1, prot::READ, GFP_KERNEL)
            .map_err(|(e, _)| e)?;
        t.map_pages(UNMAPPED, PHYS, SZ_4K, 1, prot::READ, GFP_KERNEL)
            .map_err(|(e, _)| e)?;
    }
    t.unmap_pages(UNMAPPED, SZ_4K, 1)?;
    let c = Ctx {
        dev,
        pdev,
        bar: bar.access(dev)?,
        alloc: alloc.access(dev)?,
        pool_obj: &pool_obj,
        stale_pool,
        ring: &ring,
        table: t,
        stale,
        foreign,
    };
    WARNED_BEFORE.store(warned().into(), SeqCst);
    for (i, input) in INPUTS.iter().enumerate() {
        let before = warned();
        let result = (input.call)(&c);
        RESULTS[i].store(result.map_or_else(|e| e.to_errno(), |()| 1), SeqCst);
        WARNED[i].store((!before && warned()).into(), SeqCst);
    }
    Ok(())
}

struct TestDriver;

impl pci::Driver for TestDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        let dev: &Device<Bound> = pdev.as_ref();
        match PROBES.fetch_add(1, SeqCst) {
            // The first device's first binding, and the other device.
            0 if FIRST.keep_first(pdev) => {
                keep(&STALE, dev, 1)?;
                let pool = KBox::new(DmaPool::new(dev, c_str!("stale"), 0, 0)?, GFP_KERNEL)?;
                STALE_POOL.store(KBox::into_raw(pool), SeqCst);
            }
            0 | 1 => keep(&FOREIGN, dev, 2)?,
            // The first device again: run the table.
            _ => {
                if let Err(e) = run(pdev) {
                    SETUP_ERROR.store(e.to_errno(), SeqCst);
                }
            }
        }
        Ok(KBox::pin(TestDriver, GFP_KERNEL)?)
    }
}

/// Every bad input returns its error code, and none makes the kernel warn.
fn every_bad_input_returns_its_error(test: &mut Test) {
    PROBES.store(0, SeqCst);
    SETUP_ERROR.store(0, SeqCst);
    for (r, w) in RESULTS.iter().zip(WARNED.iter()) {
        r.store(0, SeqCst);
        w.store(0, SeqCst);
    }
    let Some(reg) = register_or_fail::<TestDriver>(test, c_str!("rust_bad_inputs_test")) else {
        return;
    };
    // The second device stays bound; the first is unbound (revoking `STALE`) and bound again.
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), 2);
    FIRST.unbind();
    crate::kunit_expect_eq!(test, FIRST.bind(), 1);
    crate::kunit_expect_eq!(test, SETUP_ERROR.load(SeqCst), 0);
    crate::kunit_expect_eq!(test, WARNED_BEFORE.load(SeqCst), 0);
    let mut passed = 0;
    for (i, input) in INPUTS.iter().enumerate() {
        let got = RESULTS[i].load(SeqCst);
        let good = got == input.expect.to_errno() && WARNED[i].load(SeqCst) == 0;
        if good {
            passed += 1;
        } else {
            crate::kunit::err(format_args!(
                "    bad input \"{}\": expected {:?}, got {} (warned: {})\n",
                input.what,
                input.expect,
                got,
                WARNED[i].load(SeqCst)
            ));
        }
    }
    crate::kunit_expect_eq!(test, passed, INPUTS.len());
    crate::kunit::info(format_args!(
        "    {} of {} bad inputs returned their error without a warning\n",
        passed,
        INPUTS.len()
    ));
    drop(reg);
    drop(take(&STALE));
    let pool = STALE_POOL.swap(core::ptr::null_mut(), SeqCst);
    if !pool.is_null() {
        // SAFETY: The pointer comes from `KBox::into_raw`, taken once.
        drop(unsafe { KBox::from_raw(pool) });
    }
    drop(take(&FOREIGN));
    FIRST.put();
}

crate::kunit_suite!(rust_bad_inputs, [every_bad_input_returns_its_error]);
