// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the io-pgtable abstractions, for every format that builds.
//!
//! A test PCI driver binds QEMU's `edu` devices; its `probe` creates tables of each format for
//! the bound device and records every failed check. No hardware walks these tables, so the
//! physical addresses mapped are arbitrary (and never accessed).

use crate::{
    alloc::flags::{GFP_KERNEL, GFP_NOWAIT, __GFP_NOWARN},
    kunit::thread,
};
use crate::{
    bindings, c_str,
    device::{Bound, Core, Device},
    dma::{CoherentAllocation, DmaMask},
    io_pgtable::*,
    kunit::Test,
    pci::{
        self,
        testing::{probe_check, register_or_fail, Checks, EDU},
    },
    sync::Arc,
};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

const SZ_4K: usize = 1 << 12;
const SZ_16K: usize = 1 << 14;
const SZ_64K: usize = 1 << 16;
const SZ_1M: usize = 1 << 20;
const SZ_2M: usize = 1 << 21;
const SZ_16M: usize = 1 << 24;
const SZ_1G: usize = 1 << 30;

/// The physical address `addr`.
const fn phys(addr: u64) -> PhysAddr {
    PhysAddr::new(addr)
}

static PROBES: AtomicUsize = AtomicUsize::new(0);
static CHECKS: Checks = Checks::new();
static FORMATS: AtomicUsize = AtomicUsize::new(0);
static PAGE_SIZES: AtomicUsize = AtomicUsize::new(0);
/// Calls of each TLB callback, over all tables.
static FLUSH_ALL: AtomicUsize = AtomicUsize::new(0);
static FLUSH_WALK: AtomicUsize = AtomicUsize::new(0);
static ADD_PAGE: AtomicUsize = AtomicUsize::new(0);
static SYNC: AtomicUsize = AtomicUsize::new(0);
/// IOMMU page-table pages not given back after the cycles, and held by 300 live tables.
static LEAKED: AtomicUsize = AtomicUsize::new(0);
static HELD: AtomicUsize = AtomicUsize::new(0);

macro_rules! check {
    ($cond:expr) => {
        probe_check!(CHECKS, $cond)
    };
}

struct Counting;

// SAFETY: No hardware walks the tables of these tests: nothing ever needs invalidating.
unsafe impl FlushOps for Counting {
    fn tlb_flush_all(&self) {
        FLUSH_ALL.fetch_add(1, SeqCst);
    }
    fn tlb_flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {
        FLUSH_WALK.fetch_add(1, SeqCst);
    }
    fn tlb_add_page(&self, _iova: usize, _granule: usize) {
        ADD_PAGE.fetch_add(1, SeqCst);
    }
    fn tlb_sync(&self) {
        SYNC.fetch_add(1, SeqCst);
    }
}

/// Flush callbacks for the tables of these tests, which no hardware walks.
pub(crate) fn no_flush() -> NoFlush {
    // SAFETY: No device walks the tables of the tests (they are never given to hardware).
    unsafe { NoFlush::new() }
}

/// Maps, translates, overlaps and unmaps at each page size of a table of format `F`.
fn exercise<F: Format>(dev: &Device<Bound>, cfg: Config) -> Result {
    let table = IoPageTable::<F, Counting>::new(dev, cfg, Counting)?;
    let t = table.access(dev)?;
    FORMATS.fetch_add(1, SeqCst);
    let (ias, oas) = t.address_sizes();
    let rw = prot::READ | prot::WRITE;
    let sizes = t.pgsize_bitmap();
    check!(sizes != 0 && sizes & !cfg.pgsize_bitmap == 0);
    for bit in 0..usize::BITS {
        let pgsize = 1usize << bit;
        if sizes & pgsize == 0 || pgsize > SZ_1G {
            continue;
        }
        let iova = 4 * pgsize;
        let paddr = phys((8 * pgsize) as u64);
        if iova + 2 * pgsize > (1usize << ias.min(63)) || 10 * pgsize as u64 > (1u64 << oas.min(63))
        {
            continue;
        }
        PAGE_SIZES.fetch_add(1, SeqCst);
        // SAFETY: No hardware walks this table; the physical addresses are never accessed.
        let mapped = unsafe { t.map_pages(iova, paddr, pgsize, 2, rw, GFP_KERNEL) };
        check!(mapped == Ok(2 * pgsize));
        check!(t.iova_to_phys(iova) == Ok(paddr));
        check!(t.iova_to_phys(iova + pgsize + 0x10) == Ok(paddr + pgsize as u64 + 0x10));
        check!(t.iova_to_phys(iova - pgsize) == Ok(phys(0)));
        // An overlapping map is refused, with nothing mapped.
        // SAFETY: As above.
        let again = unsafe { t.map_pages(iova + pgsize, paddr, pgsize, 1, rw, GFP_KERNEL) };
        check!(matches!(again, Err((e, 0)) if e == EEXIST));
        // Partial unmap: the first page only.
        let adds = ADD_PAGE.load(SeqCst);
        check!(t.unmap_pages(iova, pgsize, 1) == Ok(pgsize));
        check!(ADD_PAGE.load(SeqCst) > adds);
        check!(t.iova_to_phys(iova) == Ok(phys(0)));
        check!(t.iova_to_phys(iova + pgsize) == Ok(paddr + pgsize as u64));
        check!(t.unmap_pages(iova + pgsize, pgsize, 1) == Ok(pgsize));
        check!(t.iova_to_phys(iova + pgsize) == Ok(phys(0)));
        // Double unmap.
        check!(t.unmap_pages(iova, pgsize, 1) == Err(ENOENT));
    }
    Ok(())
}

/// The table of bad inputs, on an ARM LPAE stage-1 table with 4 KiB and 2 MiB pages, 39-bit
/// input and 40-bit output addresses.
fn bad_inputs(dev: &Device<Bound>) -> Result {
    let cfg = Config::new(SZ_4K | SZ_2M, 39, 40);
    let table = IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, cfg, no_flush())?;
    let t = table.access(dev)?;
    let rw = prot::READ | prot::WRITE;
    // SAFETY: No hardware walks this table; the physical addresses are never accessed.
    let map = |iova, paddr: u64, pgsize, count| unsafe {
        t.map_pages(iova, phys(paddr), pgsize, count, rw, GFP_KERNEL)
            .map_err(|(e, _)| e)
    };
    check!(map(0x1000, 0x1000, SZ_64K, 1) == Err(EINVAL)); // page size not in the bitmap
    check!(map(0x1000, 0x1000, 3 * SZ_4K, 1) == Err(EINVAL)); // not a power of two
    check!(map(0x1800, 0x1000, SZ_4K, 1) == Err(EINVAL)); // unaligned iova
    check!(map(0x1000, 0x1800, SZ_4K, 1) == Err(EINVAL)); // unaligned paddr
    check!(map(SZ_2M + SZ_4K, 0, SZ_2M, 1) == Err(EINVAL)); // iova unaligned to 2 MiB
    check!(map(0x1000, 0x1000, SZ_4K, 0) == Err(EINVAL)); // no pages
    check!(map(1 << 39, 0x1000, SZ_4K, 1) == Err(ERANGE)); // iova past ias
    check!(map((1 << 39) - SZ_4K, 0x1000, SZ_4K, 2) == Err(ERANGE)); // range past ias
    check!(map(0x1000, 1 << 40, SZ_4K, 1) == Err(ERANGE)); // paddr past oas
    check!(map(usize::MAX & !(SZ_4K - 1), 0, SZ_4K, 2) == Err(EINVAL)); // iova range wraps
    check!(map(0x1000, 0x1000, SZ_4K, usize::MAX) == Err(EINVAL)); // length overflows
    check!(map(0x1000, 0, SZ_4K, 1) == Err(EINVAL)); // physical address 0
    check!(Prot::try_from_raw(1 << 20) == Err(EINVAL)); // unknown protection flag
    check!(t.unmap_pages(0x1000, SZ_4K, 1) == Err(ENOENT)); // never mapped
    check!(t.unmap_pages(0x1000, SZ_64K, 1) == Err(EINVAL)); // unmap: bad page size
    check!(t.unmap_pages(0x1000, SZ_4K, 0) == Err(EINVAL)); // unmap: no pages
    check!(t.unmap_pages(1 << 39, SZ_4K, 1) == Err(ERANGE)); // unmap: past ias
    check!(t.iova_to_phys(1 << 39) == Err(ERANGE)); // translate: past ias

    // Bad configurations.
    let bad = |cfg| IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, cfg, no_flush()).err();
    check!(bad(Config::new(0, 39, 40)) == Some(EINVAL)); // no page sizes
    check!(bad(Config::new(SZ_4K, 65, 40)) == Some(EINVAL)); // ias over 64
    check!(bad(Config::new(SZ_4K, 39, 0)) == Some(EINVAL)); // no oas
    check!(bad(Config::new(SZ_2M, 39, 40)) == Some(EINVAL)); // no granule the format has

    // Quirks: an unknown bit is refused; with TTBR1 the input addresses are those with every
    // bit above ias set, as the C code checks them (a low address would reach its WARN_ON).
    let mut q = Config::new(SZ_4K, 39, 40);
    q.quirks = 1 << 20;
    check!(bad(q) == Some(EINVAL));
    q.quirks = quirks::ARM_TTBR1;
    let high = IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, q, no_flush())?;
    let h = high.access(dev)?;
    let top = usize::MAX - (SZ_4K - 1);
    // SAFETY: No hardware walks this table; the physical addresses are never accessed.
    let map_high = |iova| unsafe { h.map_pages(iova, phys(0x2000), SZ_4K, 1, rw, GFP_KERNEL) };
    check!(map_high(top) == Ok(SZ_4K));
    check!(h.iova_to_phys(top + 8) == Ok(phys(0x2008)));
    check!(map_high(0x1000) == Err((ERANGE, 0)));
    check!(map_high(usize::MAX << 39 >> 1) == Err((ERANGE, 0)));
    check!(h.iova_to_phys(0x1000) == Err(ERANGE));
    check!(h.unmap_pages(top, SZ_4K, 1) == Ok(SZ_4K));

    // An ias over what the format walks is clamped by the C code; the table reports it, and
    // validation uses what it reports.
    let wide = IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, Config::new(SZ_4K, 60, 40), no_flush())?;
    let w = wide.access(dev)?;
    let (ias, _) = w.address_sizes();
    check!(ias < 60);
    check!(w.iova_to_phys(1 << ias) == Err(ERANGE));
    check!(
        IoPageTable::<ArmV7s, NoFlush>::new(dev, Config::new(SZ_4K, 40, 32), no_flush()).err()
            == Some(EINVAL)
    );
    Ok(())
}

/// Pages the kernel counts as allocated for IOMMU page tables (the LPAE and DART formats
/// allocate theirs with `iommu_alloc_pages()`, which counts them).
fn iommu_pages() -> usize {
    // SAFETY: Reads a global counter; any item is valid.
    unsafe { bindings::global_node_page_state(bindings::node_stat_item_NR_IOMMU_PAGES) }
}

/// The counter lags by per-CPU deltas of at most 125 pages per CPU (`mm/vmstat.c`).
fn counter_slack() -> usize {
    // SAFETY: `nr_cpu_ids` is set during boot and read-only after it.
    125 * unsafe { bindings::nr_cpu_ids } as usize
}

/// Many create, map, unmap and free cycles of LPAE and DART tables; the page-table pages they
/// allocate all come back.
fn cycles(dev: &Device<Bound>) -> Result {
    let before = iommu_pages();
    for i in 0..1000usize {
        let cfg = Config::new(SZ_4K | SZ_2M, 48, 48);
        let table = IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, cfg, no_flush())?;
        let t = table.access(dev)?;
        let iova = (i % 64) * SZ_1G + SZ_2M;
        // SAFETY: No hardware walks this table; the physical addresses are never accessed.
        let ok = unsafe { t.map_pages(iova, phys(0x4000_0000), SZ_4K, 16, prot::READ, GFP_KERNEL) };
        check!(ok == Ok(16 * SZ_4K));
        check!(t.unmap_pages(iova, SZ_4K, 16) == Ok(16 * SZ_4K));
        if i % 10 == 0 {
            let dart = IoPageTable::<AppleDart, NoFlush>::new(
                dev,
                Config::new(SZ_16K, 36, 36),
                no_flush(),
            )?;
            let d = dart.access(dev)?;
            // SAFETY: As above.
            let ok =
                unsafe { d.map_pages(SZ_1G, phys(0x4000_0000), SZ_16K, 4, prot::READ, GFP_KERNEL) };
            check!(ok == Ok(4 * SZ_16K));
        }
    }
    let after = iommu_pages();
    LEAKED.store(after.saturating_sub(before), SeqCst);
    // A leak of one page per cycle would show 1,000 pages; the counter's lag is far smaller.
    check!(after <= before + counter_slack());

    // The counter does see page tables: 300 live tables with a mapping hold at least 3 pages
    // each (a 4 KiB-granule, 48-bit table has a root, and a mapping adds three levels).
    let mut live = KVec::new();
    for i in 0..300usize {
        let table =
            IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, Config::new(SZ_4K, 48, 48), no_flush())?;
        // SAFETY: As above.
        let ok = unsafe {
            table.access(dev)?.map_pages(
                i * SZ_1G,
                phys(0x4000_0000),
                SZ_4K,
                1,
                prot::READ,
                GFP_KERNEL,
            )
        };
        check!(ok == Ok(SZ_4K));
        live.push(table, GFP_KERNEL)?;
    }
    let held = iommu_pages();
    HELD.store(held.saturating_sub(before), SeqCst);
    check!(held >= before + 900 - counter_slack());
    drop(live);
    check!(iommu_pages() <= before + counter_slack());
    Ok(())
}

/// Safe mappings of coherent memory that the table keeps alive.
fn coherent(dev: &Device<Bound>) -> Result {
    let rw = prot::READ | prot::WRITE;
    let table =
        IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, Config::new(SZ_4K, 48, 48), no_flush())?;
    let t = table.access(dev)?;
    // Three pages, 4 bytes short: the mapping covers the last page whole.
    let mem = Arc::new(
        CoherentAllocation::<u32>::alloc_coherent(dev, 3 * SZ_4K / 4 - 1, GFP_KERNEL)?,
        GFP_KERNEL,
    )?;
    let handle = PhysAddr::from_dma(mem.access(dev)?.dma_handle());
    let iova = 64 * SZ_4K;
    check!(t.map_coherent(dev, iova, &mem, rw) == Ok(3 * SZ_4K));
    for page in 0..3 {
        let off = page * SZ_4K + 0x44;
        check!(t.iova_to_phys(iova + off) == Ok(handle + off as u64));
    }
    check!(t.iova_to_phys(iova + 3 * SZ_4K) == Ok(phys(0)));
    // Over a mapped range, or with a bad iova: refused, and nothing stays mapped.
    check!(t.map_coherent(dev, iova + SZ_4K, &mem, rw) == Err(EEXIST));
    check!(t.map_coherent(dev, iova + 0x800, &mem, rw) == Err(EINVAL));
    check!(t.map_coherent(dev, 1 << 48, &mem, rw) == Err(ERANGE));
    check!(t.iova_to_phys(iova + 4 * SZ_4K) == Ok(phys(0)));
    // Unmapped in part with `unmap_pages`, the rest goes with `unmap_coherent`.
    check!(t.unmap_pages(iova, SZ_4K, 1) == Ok(SZ_4K));
    check!(t.unmap_coherent(iova) == Ok(2 * SZ_4K));
    check!(t.iova_to_phys(iova + SZ_4K) == Ok(phys(0)));
    check!(t.unmap_coherent(iova) == Err(ENOENT));
    // The memory is still the driver's.
    check!(mem.access(dev)?.write(0, 0x5a5a_5a5a).is_ok());
    // A 16 KiB-granule table can not map three 4 KiB pages whole.
    let big = IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, Config::new(SZ_16K, 36, 40), no_flush())?;
    check!(big.access(dev)?.map_coherent(dev, 0, &mem, rw) == Err(EINVAL));
    // Across the end of a leaf table (2 MiB with 4 KiB pages), where the C code stops short.
    check!(t.map_coherent(dev, SZ_2M - SZ_4K, &mem, rw) == Ok(3 * SZ_4K));
    check!(t.iova_to_phys(SZ_2M + 0x10) == Ok(handle + (SZ_4K + 0x10) as u64));
    check!(t.iova_to_phys(SZ_2M + SZ_4K + 0x10) == Ok(handle + (2 * SZ_4K + 0x10) as u64));
    check!(t.unmap_coherent(SZ_2M - SZ_4K) == Ok(3 * SZ_4K));
    check!(t.iova_to_phys(SZ_2M) == Ok(phys(0)));
    // The same through `map_pages`: one call maps the whole range.
    // SAFETY: No hardware walks this table; the memory is the driver's own.
    let across = unsafe { t.map_pages(SZ_2M - SZ_4K, handle, SZ_4K, 3, rw, GFP_KERNEL) };
    check!(across == Ok(3 * SZ_4K));
    check!(t.unmap_pages(SZ_2M - SZ_4K, SZ_4K, 3) == Ok(3 * SZ_4K));
    // Freed while mapped: the table lets the memory go after the C table is gone, and the
    // driver's reference still works.
    check!(t.map_coherent(dev, iova, &mem, rw) == Ok(3 * SZ_4K));
    drop(table);
    check!(mem.access(dev)?.read(0) == Ok(0x5a5a_5a5a));
    Ok(())
}

/// The mapped ranges the table keeps: a block over smaller pages, unmaps across page sizes and
/// across separately mapped ranges, ranges with holes, the top of the input space, and many
/// ranges merging into one.
fn tracked(dev: &Device<Bound>) -> Result {
    let cfg = Config::new(SZ_4K | SZ_2M, 48, 48);
    let table = IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, cfg, no_flush())?;
    let t = table.access(dev)?;
    let rw = prot::READ | prot::WRITE;
    // SAFETY: No hardware walks this table; the physical addresses are never accessed.
    let map = |iova, paddr: PhysAddr, pgsize, count| unsafe {
        t.map_pages(iova, paddr, pgsize, count, rw, GFP_KERNEL)
            .map_err(|(e, _)| e)
    };
    let base = 16 * SZ_2M;
    let pa = phys(0x4000_0000);
    let page = |i: usize| (base + i * SZ_4K, pa + (i * SZ_4K) as u64);

    // A block over a mapped page inside it is refused (C would replace the page); the page stays.
    check!(map(page(5).0, pa, SZ_4K, 1) == Ok(SZ_4K));
    check!(map(base, pa, SZ_2M, 1) == Err(EEXIST));
    check!(t.iova_to_phys(page(5).0) == Ok(pa));
    // Unmaps of ranges that are not all mapped are refused, and unmap nothing.
    check!(t.unmap_pages(base, SZ_2M, 1) == Err(ENOENT));
    check!(t.unmap_pages(page(4).0, SZ_4K, 2) == Err(ENOENT));
    check!(t.unmap_pages(page(5).0, SZ_4K, 2) == Err(ENOENT));
    check!(t.iova_to_phys(page(5).0) == Ok(pa));
    check!(t.unmap_pages(page(5).0, SZ_4K, 1) == Ok(SZ_4K));

    // Once the range is empty the block maps; a page out of its middle splits it.
    check!(map(base, pa, SZ_2M, 1) == Ok(SZ_2M));
    check!(t.unmap_pages(page(7).0, SZ_4K, 1) == Ok(SZ_4K));
    check!(t.iova_to_phys(page(7).0) == Ok(phys(0)));
    check!(t.iova_to_phys(page(6).0) == Ok(page(6).1));
    check!(t.iova_to_phys(page(8).0) == Ok(page(8).1));
    check!(map(base, pa, SZ_2M, 1) == Err(EEXIST));
    check!(t.unmap_pages(page(7).0, SZ_4K, 1) == Err(ENOENT));
    // The hole filled, the whole range unmaps in one call of the block size.
    check!(map(page(7).0, page(7).1, SZ_4K, 1) == Ok(SZ_4K));
    check!(t.unmap_pages(base, SZ_2M, 1) == Ok(SZ_2M));
    check!(t.iova_to_phys(page(6).0) == Ok(phys(0)));
    check!(t.unmap_pages(page(7).0, SZ_4K, 1) == Err(ENOENT));

    // Ranges mapped by separate calls unmap in one call when they touch, not across a gap.
    check!(map(page(0).0, pa, SZ_4K, 2) == Ok(2 * SZ_4K));
    check!(map(page(2).0, pa, SZ_4K, 2) == Ok(2 * SZ_4K));
    check!(t.unmap_pages(base, SZ_4K, 4) == Ok(4 * SZ_4K));
    check!(map(page(0).0, pa, SZ_4K, 1) == Ok(SZ_4K));
    check!(map(page(2).0, pa, SZ_4K, 1) == Ok(SZ_4K));
    check!(t.unmap_pages(base, SZ_4K, 3) == Err(ENOENT));
    check!(t.unmap_pages(page(0).0, SZ_4K, 1) == Ok(SZ_4K));
    check!(t.unmap_pages(page(2).0, SZ_4K, 1) == Ok(SZ_4K));

    // The last page of the input space.
    let top = (1usize << 48) - SZ_4K;
    check!(map(top, pa, SZ_4K, 1) == Ok(SZ_4K));
    check!(map(top, pa, SZ_4K, 1) == Err(EEXIST));
    check!(t.unmap_pages(top, SZ_4K, 1) == Ok(SZ_4K));
    check!(t.unmap_pages(top, SZ_4K, 1) == Err(ENOENT));

    // 64 separate ranges, then the gaps between them: one range, unmapped in one call.
    for i in 0..64 {
        check!(map(page(2 * i).0, page(2 * i).1, SZ_4K, 1) == Ok(SZ_4K));
    }
    check!(t.unmap_pages(base, SZ_4K, 128) == Err(ENOENT));
    for i in 0..64 {
        check!(map(page(2 * i + 1).0, page(2 * i + 1).1, SZ_4K, 1) == Ok(SZ_4K));
    }
    check!(t.iova_to_phys(page(77).0 + 0x10) == Ok(page(77).1 + 0x10));
    check!(t.unmap_pages(base, SZ_4K, 128) == Ok(128 * SZ_4K));
    check!((0..128).all(|i| t.iova_to_phys(page(i).0) == Ok(phys(0))));
    Ok(())
}

/// Rounds of the `blocks` task in [`race`].
const RACE_ROUNDS: usize = 1000;
static RACE_WRONG: AtomicUsize = AtomicUsize::new(0);
static RACE_BLOCKS: AtomicUsize = AtomicUsize::new(0);
static RACE_PAGES: AtomicUsize = AtomicUsize::new(0);
static RACE_STOP: AtomicBool = AtomicBool::new(false);

/// Flush callbacks whose walk-cache flush takes a while: the C unmap calls it between clearing
/// the entry of a table page and freeing the page, which widens the window in which another
/// walk may still be inside that page.
struct SlowWalk;

// SAFETY: No hardware walks the table of this test: nothing ever needs invalidating.
unsafe impl FlushOps for SlowWalk {
    fn tlb_flush_all(&self) {}
    fn tlb_flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {
        // SAFETY: A busy wait; it may be called from any context.
        unsafe { bindings::__udelay(20) };
    }
    fn tlb_add_page(&self, _iova: usize, _granule: usize) {}
    fn tlb_sync(&self) {}
}

/// Maps, unmaps and translations from two tasks at once on ranges that share table pages.
///
/// One task maps a 2 MiB range as 512 pages (one leaf table) and unmaps it with one 2 MiB unmap,
/// which makes the C code free the leaf table; the other maps, translates and unmaps single
/// pages of the same 2 MiB as fast as it can, and translates addresses in it when it cannot
/// map. Every result must be exact, and KASAN (in the debug kernel) reports any walk through a
/// freed table page. (Before the table kept pending ranges and held its lock across the C
/// unmap and translation, the second task could map into, or translate through, the leaf table
/// that the first task's unmap was freeing.)
fn race(dev: &Device<Bound>) -> Result {
    const BASE: usize = 64 * SZ_2M;
    const PA: PhysAddr = PhysAddr::new(0x4000_0000);
    type Shared = Arc<crate::devres::Devres<IoPageTable<ArmLpaeS1, SlowWalk>>>;
    let rw = prot::READ | prot::WRITE;
    let atomic = GFP_NOWAIT | __GFP_NOWARN;
    let cfg = Config::new(SZ_4K | SZ_2M, 48, 48);
    let table: Shared = Arc::new(IoPageTable::new(dev, cfg, SlowWalk)?, GFP_KERNEL)?;
    RACE_STOP.store(false, SeqCst);
    let expected = |iova: usize| PA + (iova - BASE) as u64;

    let t1 = table.clone();
    let blocks = thread::spawn(move || {
        // At least `RACE_ROUNDS`, and on until one whole block got mapped between the other
        // task's pages (the scheduler decides when; bounded all the same).
        let mut round = 0;
        while round < RACE_ROUNDS || (RACE_BLOCKS.load(SeqCst) == 0 && round < 100 * RACE_ROUNDS) {
            round += 1;
            let Some(t) = t1.try_access() else { break };
            // SAFETY: No hardware walks this table; the physical addresses are never accessed.
            match unsafe { t.map_pages(BASE, PA, SZ_4K, 512, rw, atomic) } {
                Ok(n) if n == SZ_2M => {
                    let probe = BASE + (round * 7 % 512) * SZ_4K + 0x18;
                    if t.iova_to_phys(probe) != Ok(expected(probe)) {
                        RACE_WRONG.fetch_add(1, SeqCst);
                    }
                    // Only this task maps the whole range, so only it can unmap it.
                    if t.unmap_pages(BASE, SZ_2M, 1) != Ok(SZ_2M) {
                        RACE_WRONG.fetch_add(1, SeqCst);
                    }
                    RACE_BLOCKS.fetch_add(1, SeqCst);
                }
                // A page of the other task is mapped there, or an allocation failed.
                Err((e, 0)) if e == EEXIST || e == ENOMEM => {}
                _ => {
                    RACE_WRONG.fetch_add(1, SeqCst);
                }
            }
            drop(t);
            if round % 16 == 0 {
                thread::yield_now();
            }
        }
        RACE_STOP.store(true, SeqCst);
    });
    let t2 = table.clone();
    let pages = thread::spawn(move || {
        let mut i = 0usize;
        while !RACE_STOP.load(SeqCst) {
            i += 1;
            let iova = BASE + (i * 13 % 512) * SZ_4K;
            let Some(t) = t2.try_access() else { break };
            // SAFETY: As above.
            match unsafe { t.map_pages(iova, expected(iova), SZ_4K, 1, rw, atomic) } {
                Ok(_) => {
                    if t.iova_to_phys(iova + 0x40) != Ok(expected(iova) + 0x40) {
                        RACE_WRONG.fetch_add(1, SeqCst);
                    }
                    if t.unmap_pages(iova, SZ_4K, 1) != Ok(SZ_4K) {
                        RACE_WRONG.fetch_add(1, SeqCst);
                    }
                    RACE_PAGES.fetch_add(1, SeqCst);
                }
                Err((e, 0)) if e == EEXIST || e == ENOMEM => {
                    // Mapped by the other task, or being unmapped by it: "not mapped" or the
                    // one address mapped there.
                    let probe = iova + 0x8;
                    match t.iova_to_phys(probe) {
                        Ok(p) if p.is_zero() => {}
                        Ok(pa) if pa == expected(probe) => {}
                        _ => {
                            RACE_WRONG.fetch_add(1, SeqCst);
                        }
                    }
                }
                _ => {
                    RACE_WRONG.fetch_add(1, SeqCst);
                }
            }
            drop(t);
            if i % 16 == 0 {
                thread::yield_now();
            }
        }
    });
    match (blocks, pages) {
        (Ok(b), Ok(p)) => {
            b.join();
            p.join();
        }
        (b, p) => {
            RACE_STOP.store(true, SeqCst);
            drop((b, p));
            return Err(ENOMEM);
        }
    }
    let t = table.access(dev)?;
    check!((0..1024).all(|p| t.iova_to_phys(BASE + p * SZ_4K) == Ok(phys(0))));
    Ok(())
}

fn run_all(dev: &Device<Bound>) -> Result {
    exercise::<ArmLpaeS1>(dev, Config::new(SZ_4K | SZ_2M | SZ_1G, 48, 48))?;
    exercise::<ArmLpaeS1>(dev, Config::new(SZ_16K, 36, 40))?;
    exercise::<ArmLpaeS1>(dev, Config::new(SZ_64K, 42, 48))?;
    exercise::<ArmLpaeS2>(dev, Config::new(SZ_4K | SZ_2M | SZ_1G, 40, 40))?;
    exercise::<Arm32LpaeS1>(dev, Config::new(SZ_4K | SZ_2M | SZ_1G, 32, 40))?;
    exercise::<Arm32LpaeS2>(dev, Config::new(SZ_4K | SZ_2M | SZ_1G, 40, 40))?;
    exercise::<ArmMaliLpae>(dev, Config::new(SZ_4K | SZ_2M | SZ_1G, 48, 40))?;
    exercise::<ArmV7s>(dev, Config::new(SZ_4K | SZ_64K | SZ_1M | SZ_16M, 32, 32))?;
    exercise::<AppleDart>(dev, Config::new(SZ_16K, 36, 36))?;
    exercise::<AppleDart2>(dev, Config::new(SZ_16K, 38, 42))?;
    bad_inputs(dev)?;
    tracked(dev)?;
    coherent(dev)?;
    race(dev)?;
    cycles(dev)
}

/// A walker that does not snoop the caches reads table pages at their physical addresses: a
/// table for one is refused (`EINVAL`) unless the device reaches all of memory directly. On
/// x86_64 (no IOMMU, 1 GiB) with PCI's default 32-bit mask it does, and the table maps and
/// translates; not with edu's 28-bit mask, nor on arm64, where the SMMU is in the path.
fn noncoherent_walk(dev: &Device<Core>) -> Result {
    let mut cfg = Config::new(SZ_4K, 39, 40);
    cfg.coherent_walk = false;
    let new = || IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, cfg, no_flush());
    dev.dma_set_mask(DmaMask::new::<32>())?;
    if cfg!(CONFIG_ARM_SMMU_V3) {
        check!(new().err() == Some(EINVAL));
    } else {
        let table = new()?;
        let t = table.access(dev)?;
        // SAFETY: No hardware walks this table; the physical address is never accessed.
        let mapped =
            unsafe { t.map_pages(0x1000, phys(0x4000_0000), SZ_4K, 1, prot::READ, GFP_KERNEL) };
        check!(mapped.is_ok());
        check!(t.iova_to_phys(0x1234) == Ok(phys(0x4000_0234)));
        check!(t.unmap_pages(0x1000, SZ_4K, 1) == Ok(SZ_4K));
    }
    dev.dma_set_mask(DmaMask::new::<28>())?;
    check!(new().err() == Some(EINVAL));
    // A coherent walker needs nothing of the device's DMA.
    check!(
        IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, Config::new(SZ_4K, 39, 40), no_flush()).is_ok()
    );
    dev.dma_set_mask(DmaMask::new::<32>())
}

struct TestDriver;

impl pci::Driver for TestDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        // The checks need one device; the others bind without them.
        if PROBES.fetch_add(1, SeqCst) == 0 {
            if let Err(e) = run_all(pdev.as_ref()).and_then(|()| noncoherent_walk(pdev.as_ref())) {
                crate::pr_err!("io-pgtable test probe: {:?}\n", e);
                check!(false);
            }
        }
        Ok(KBox::pin(TestDriver, GFP_KERNEL)?)
    }
}

/// Every format maps and unmaps at each of its page sizes, the TLB callbacks run, every bad
/// input returns its error, and 1,000 create/map/unmap/free cycles succeed.
fn formats_and_bad_inputs(test: &mut Test) {
    CHECKS.reset();
    for c in [
        &PROBES,
        &FORMATS,
        &PAGE_SIZES,
        &FLUSH_ALL,
        &FLUSH_WALK,
        &ADD_PAGE,
        &SYNC,
        &RACE_WRONG,
        &RACE_BLOCKS,
        &RACE_PAGES,
        &LEAKED,
        &HELD,
    ] {
        c.store(0, SeqCst);
    }
    let Some(reg) = register_or_fail::<TestDriver>(test, c_str!("rust_io_pgtable_test")) else {
        return;
    };
    crate::kunit_expect!(test, PROBES.load(SeqCst) > 0);
    CHECKS.report(test, 2000);
    crate::kunit_expect_eq!(test, FORMATS.load(SeqCst), 10);
    crate::kunit_expect!(test, PAGE_SIZES.load(SeqCst) >= 16);
    // Every table's free flushes all of it: 10 exercised, 1 for bad inputs, 1,000 cycles.
    crate::kunit_expect!(test, FLUSH_ALL.load(SeqCst) >= 10);
    crate::kunit_expect!(test, ADD_PAGE.load(SeqCst) > 0);
    crate::kunit_expect!(test, SYNC.load(SeqCst) > 0);
    crate::kunit_expect!(test, RACE_BLOCKS.load(SeqCst) > 0);
    crate::kunit_expect!(test, RACE_PAGES.load(SeqCst) > 0);
    crate::kunit_expect_eq!(test, RACE_WRONG.load(SeqCst), 0);
    crate::pr_info!(
        "rust_io_pgtable: race: {} block rounds, {} page rounds\n",
        RACE_BLOCKS.load(SeqCst),
        RACE_PAGES.load(SeqCst)
    );
    crate::pr_info!(
        "rust_io_pgtable: 1,000 cycles left {} IOMMU pages; 300 live tables held {}\n",
        LEAKED.load(SeqCst),
        HELD.load(SeqCst)
    );
    drop(reg);
}

/// Coherent-memory frees seen when the table of [`OrderDriver`] was dropped (its first
/// `tlb_flush_all` then), or `usize::MAX` if it was not.
static FREED_AT_TABLE_DROP: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Flush callbacks that note, at the table's drop, how many coherent allocations have been freed.
struct Recorder;

// SAFETY: No hardware walks the table of this test: nothing ever needs invalidating.
unsafe impl FlushOps for Recorder {
    fn tlb_flush_all(&self) {
        let freed = crate::dma::tests::COHERENT_FREED.load(SeqCst);
        let _ = FREED_AT_TABLE_DROP.compare_exchange(usize::MAX, freed, SeqCst, SeqCst);
    }
    fn tlb_flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {}
    fn tlb_add_page(&self, _iova: usize, _granule: usize) {}
    fn tlb_sync(&self) {}
}

/// What [`OrderDriver`] keeps past unbind, so that devres releases both at unbind, in reverse
/// order of creation: the memory first.
struct Kept {
    _table: crate::devres::Devres<IoPageTable<ArmLpaeS1, Recorder>>,
    _mem: crate::devres::Devres<CoherentAllocation<u64>>,
}

/// The kept resources of each probe (from `KBox::into_raw`), dropped by the case after unbind.
static ORDER_KEPT: [core::sync::atomic::AtomicPtr<Kept>; 2] = [
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut()),
];

/// A driver whose table is created before the coherent memory it maps and which keeps both
/// past its binding (as a work item might), so that at unbind devres, not the driver data,
/// releases them: the memory's `Devres` first, as it was created last.
struct OrderDriver;

static ORDER_PROBES: AtomicUsize = AtomicUsize::new(0);

impl pci::Driver for OrderDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        let dev: &Device<Bound> = pdev.as_ref();
        let table = IoPageTable::new(dev, Config::new(SZ_4K, 48, 48), Recorder)?;
        let mem = CoherentAllocation::<u64>::alloc_coherent(dev, 1024, GFP_KERNEL)?;
        let mapped = table
            .access(dev)?
            .map_coherent(dev, SZ_1G, &mem, prot::READ | prot::WRITE);
        check!(mapped == Ok(2 * SZ_4K));
        let n = ORDER_PROBES.fetch_add(1, SeqCst);
        let kept = KBox::into_raw(KBox::new(
            Kept {
                _table: table,
                _mem: mem,
            },
            GFP_KERNEL,
        )?);
        if let Some(slot) = ORDER_KEPT.get(n) {
            slot.store(kept, SeqCst);
        } else {
            // SAFETY: `kept` came from `KBox::into_raw` just now and was not stored.
            drop(unsafe { KBox::from_raw(kept) });
        }
        Ok(KBox::pin(OrderDriver, GFP_KERNEL)?)
    }
}

/// Memory mapped with `map_coherent` stays allocated until its table is gone, also when its
/// `Devres` is released first at unbind (it was created after the table).
fn memory_outlives_table_at_unbind(test: &mut Test) {
    CHECKS.reset();
    ORDER_PROBES.store(0, SeqCst);
    FREED_AT_TABLE_DROP.store(usize::MAX, SeqCst);
    let before = crate::dma::tests::COHERENT_FREED.load(SeqCst);
    let Some(reg) = register_or_fail::<OrderDriver>(test, c_str!("rust_io_pgtable_order")) else {
        return;
    };
    let probes = ORDER_PROBES.load(SeqCst);
    crate::kunit_expect!(test, probes > 0);
    // Unregistering unbinds every device: devres releases each one's memory, then its table.
    drop(reg);
    for slot in &ORDER_KEPT {
        let kept = slot.swap(core::ptr::null_mut(), SeqCst);
        if !kept.is_null() {
            // SAFETY: The slots hold pointers from `KBox::into_raw` only.
            drop(unsafe { KBox::from_raw(kept) });
        }
    }
    CHECKS.report(test, 1);
    crate::kunit_expect_eq!(test, FREED_AT_TABLE_DROP.load(SeqCst), before);
    crate::kunit_expect_eq!(
        test,
        crate::dma::tests::COHERENT_FREED.load(SeqCst),
        before + probes
    );
}

crate::kunit_suite!(
    rust_io_pgtable,
    [formats_and_bad_inputs, memory_outlives_table_at_unbind]
);
