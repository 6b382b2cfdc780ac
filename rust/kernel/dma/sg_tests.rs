// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for scatter-gather mappings, against a real bound device.
//!
//! A test PCI driver binds QEMU's `edu` devices, whose DMA engine moves at most its 4 KiB buffer
//! at a time, so the driver sets a maximum segment size of 4 KiB. Its `probe` maps tables of 1,
//! 2 and 64 separate pages and checks every segment (inside the mask, no longer than the maximum,
//! the bytes adding up); on the first device it also moves a pattern through edu, one transfer
//! per segment into edu's buffer and one out of it into a second table, and compares. It checks
//! that a smaller maximum cuts a page into segments, and maps `vmalloc`ed memory and a list of
//! buffers. The first device keeps one mapping past its unbind; the case checks that the unbind
//! unmapped it, once. Booted with `swiotlb=force` (`scripts/swiotlb.sh`), every segment is
//! bounced, which the suite reports.

use crate::{
    alloc::{
        flags::{GFP_ATOMIC, GFP_KERNEL},
        KVVec, KVec, VVec,
    },
    bindings, c_str,
    delay::msleep,
    device::{Bound, Core, Device},
    dma::{DataDirection, DmaAddress, DmaMask, Segment, SgMapping},
    kunit::Test,
    page::{Page, PAGE_SIZE},
    pci::{
        self,
        testing::{register_or_fail, Checks, DevRef, TestRegistration, EDU},
    },
    prelude::*,
};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};

/// How many scatter-gather mappings the unbind has unmapped, counted by the binding.
pub(crate) static SG_RELEASED: AtomicUsize = AtomicUsize::new(0);

const MASK: DmaMask = DmaMask::new::<28>();
/// edu's buffer: where its DMA engine reads and writes, and how much it moves at a time.
const EDU_BUFFER: DmaAddress = 0x40000;
const EDU_MAX: usize = 4096;
const EDU_DMA_SRC: usize = 0x80;
const EDU_DMA_DST: usize = 0x88;
const EDU_DMA_COUNT: usize = 0x90;
const EDU_DMA_CMD: usize = 0x98;
const EDU_DMA_START: u64 = 1 << 0;
const EDU_DMA_FROM_DEVICE: u64 = 1 << 1;

type Bar = pci::Bar<0x100>;

static PROBES: AtomicUsize = AtomicUsize::new(0);
static CHECKS: Checks = Checks::new();
static PDEV: DevRef = DevRef::new();
/// Segments mapped, and those whose bus address is not the page's physical address (bounced,
/// or translated by an IOMMU).
static SEGMENTS: AtomicUsize = AtomicUsize::new(0);
static BOUNCED: AtomicUsize = AtomicUsize::new(0);
/// Segments whose bus address lies in the swiotlb pool: bounce buffers.
static IN_POOL: AtomicUsize = AtomicUsize::new(0);
/// Bytes moved through edu and found intact, and the transfers made.
static VERIFIED: AtomicUsize = AtomicUsize::new(0);
static TRANSFERS: AtomicUsize = AtomicUsize::new(0);
/// A mapping kept past unbind (from `KBox::into_raw`).
static KEPT: AtomicPtr<SgMapping<KVec<Page>>> = AtomicPtr::new(core::ptr::null_mut());

macro_rules! probe_check {
    ($cond:expr) => {
        crate::pci::testing::probe_check!(CHECKS, $cond)
    };
}

fn pattern(i: usize) -> u8 {
    (i % 251) as u8 ^ 0x5a
}

/// Returns the bus addresses of the device's swiotlb pool, if it has one.
fn swiotlb_pool(dev: &Device<Bound>) -> Option<(DmaAddress, DmaAddress)> {
    let (mut start, mut end) = (0, 0);
    let raw = dev.as_raw();
    // SAFETY: `raw` is a valid device; this reads its DMA configuration, and the out pointers
    // are valid.
    if !unsafe { bindings::swiotlb_defpool(raw, &mut start, &mut end) } {
        return None;
    }
    // SAFETY: As above; this converts addresses.
    Some(unsafe {
        (
            bindings::phys_to_dma(raw, start),
            bindings::phys_to_dma(raw, end),
        )
    })
}

fn behind_iommu(dev: &Device<Bound>) -> bool {
    // SAFETY: `dev` is a valid device; this reads its DMA configuration.
    unsafe { bindings::use_dma_iommu(dev.as_raw()) }
}

/// `n` pages, each allocated on its own, from the zone the device reaches.
fn pages(dev: &Device<Bound>, n: usize) -> Result<KVec<Page>> {
    let mut pages = KVec::with_capacity(n, GFP_KERNEL)?;
    for _ in 0..n {
        pages.push(Page::alloc_page(GFP_KERNEL | dev.dma_zone())?, GFP_KERNEL)?;
    }
    Ok(pages)
}

/// Checks the segments of a mapping of `bytes` bytes built from `entries` pieces no longer than
/// the maximum; returns them.
fn check_segments<B: crate::dma::SgBuffer>(
    dev: &Device<Bound>,
    m: &SgMapping<B>,
    bytes: usize,
    entries: usize,
) -> Result<KVec<Segment>> {
    let mask = dev.dma_mask().unwrap_or(0);
    let max = dev.dma_max_seg_size() as usize;
    let mut segs = KVec::new();
    for s in m.segments() {
        segs.push(s, GFP_KERNEL)?;
    }
    let total: usize = segs.iter().map(|s| s.len).sum();
    let inside = segs
        .iter()
        .all(|s| s.len > 0 && s.len <= max && s.addr + s.len as u64 - 1 <= mask);
    probe_check!(segs.len() == m.count() && total == bytes && inside);
    // The direct mapping neither merges nor splits; an IOMMU may merge within the limits.
    probe_check!(if behind_iommu(dev) {
        segs.len() <= entries
    } else {
        segs.len() == entries
    });
    Ok(segs)
}

/// Moves `len` bytes from `src` to `dst` through edu's buffer, waiting for each transfer.
fn edu_copy(bar: &Bar, src: DmaAddress, dst: DmaAddress, len: usize) -> Result {
    for (from, to, dir) in [(src, EDU_BUFFER, 0), (EDU_BUFFER, dst, EDU_DMA_FROM_DEVICE)] {
        bar.write64::<EDU_DMA_SRC>(from);
        bar.write64::<EDU_DMA_DST>(to);
        bar.write64::<EDU_DMA_COUNT>(len as u64);
        bar.write64::<EDU_DMA_CMD>(EDU_DMA_START | dir);
        TRANSFERS.fetch_add(1, SeqCst);
        let mut done = false;
        for _ in 0..200 {
            if bar.read64::<EDU_DMA_CMD>() & EDU_DMA_START == 0 {
                done = true;
                break;
            }
            msleep(10);
        }
        if !done {
            return Err(ETIMEDOUT);
        }
    }
    Ok(())
}

/// Maps a table of `n` pages with a pattern, moves it through edu segment by segment into a
/// second table, and compares.
fn round_trip(dev: &Device<Bound>, bar: &Bar, n: usize) -> Result {
    let src = SgMapping::map(dev, pages(dev, n)?, DataDirection::ToDevice, GFP_KERNEL)?;
    let mut cpu = src.sync_for_cpu();
    for i in 0..n {
        if let Some(page) = cpu.get_mut(i) {
            for (j, b) in page.iter_mut().enumerate() {
                *b = pattern(i * PAGE_SIZE + j);
            }
        }
    }
    let src = cpu.sync_for_device();
    let dst = SgMapping::map(dev, pages(dev, n)?, DataDirection::FromDevice, GFP_KERNEL)?;
    let a = check_segments(dev, &src, n * PAGE_SIZE, n)?;
    let b = check_segments(dev, &dst, n * PAGE_SIZE, n)?;
    // Walk both segment lists: each transfer stays within one segment of each.
    let (mut i, mut j, mut ai, mut bj) = (0, 0, 0, 0);
    while i < a.len() && j < b.len() {
        let len = (a[i].len - ai).min(b[j].len - bj).min(EDU_MAX);
        edu_copy(bar, a[i].addr + ai as u64, b[j].addr + bj as u64, len)?;
        ai += len;
        bj += len;
        if ai == a[i].len {
            i += 1;
            ai = 0;
        }
        if bj == b[j].len {
            j += 1;
            bj = 0;
        }
    }
    let cpu = dst.sync_for_cpu();
    let mut intact = 0;
    for p in 0..n {
        if let Some(page) = cpu.get(p) {
            let base = p * PAGE_SIZE;
            intact += page
                .iter()
                .enumerate()
                .filter(|&(k, &v)| v == pattern(base + k))
                .count();
        }
    }
    VERIFIED.fetch_add(intact, SeqCst);
    probe_check!(intact == n * PAGE_SIZE);
    drop(cpu.unmap());
    drop(src.unmap());
    Ok(())
}

/// Structure only: tables of 1, 2 and 64 pages; pages cut by a smaller maximum; `vmalloc`ed
/// memory and a list of buffers (with a 64-bit mask, since such memory may lie beyond edu's).
fn structure(dev: &Device<Core>) -> Result {
    for n in [1, 2, 64] {
        let pages = pages(dev, n)?;
        let mut phys = KVec::with_capacity(n, GFP_KERNEL)?;
        for p in pages.iter() {
            // SAFETY: The page is allocated; this computes its physical address.
            phys.push(unsafe { bindings::page_to_phys(p.as_ptr()) }, GFP_KERNEL)?;
        }
        let m = SgMapping::map(dev, pages, DataDirection::Bidirectional, GFP_KERNEL)?;
        let segs = check_segments(dev, &m, n * PAGE_SIZE, n)?;
        SEGMENTS.fetch_add(segs.len(), SeqCst);
        if let Some((start, end)) = swiotlb_pool(dev) {
            let bounces = segs
                .iter()
                .filter(|s| s.addr >= start && s.addr < end)
                .count();
            IN_POOL.fetch_add(bounces, SeqCst);
        }
        if segs.len() == n {
            let moved = segs
                .iter()
                .zip(phys.iter())
                .filter(|(s, &p)| s.addr != p)
                .count();
            BOUNCED.fetch_add(moved, SeqCst);
        }
        drop(m);
    }

    // A maximum of 1 KiB cuts a page into four segments.
    dev.dma_set_max_seg_size(1024)?;
    let m = SgMapping::map(dev, pages(dev, 1)?, DataDirection::ToDevice, GFP_KERNEL)?;
    let cut = check_segments(dev, &m, PAGE_SIZE, 4);
    probe_check!(cut.map(|s| s.iter().all(|s| s.len == 1024)) == Ok(true));
    drop(m);
    dev.dma_set_max_seg_size(EDU_MAX as u32)?;

    // In atomic context, with `GFP_ATOMIC`: nothing may sleep (the debug kernel would report).
    let pages1 = pages(dev, 2)?;
    let guard = crate::sync::rcu::read_lock();
    let m = SgMapping::map(dev, pages1, DataDirection::ToDevice, GFP_ATOMIC);
    let ok = m.as_ref().map(|m| m.count() >= 1).unwrap_or(false);
    drop(m);
    drop(guard);
    probe_check!(ok);

    dev.dma_set_mask(DmaMask::new::<64>())?;
    let r = (|| -> Result {
        // Three pages and 100 bytes of `vmalloc` memory: a piece per page.
        let v = VVec::from_elem(7u8, 3 * PAGE_SIZE + 100, GFP_KERNEL)?;
        let m = SgMapping::map(dev, v, DataDirection::ToDevice, GFP_KERNEL)?;
        check_segments(dev, &m, 3 * PAGE_SIZE + 100, 4)?;
        let back = m.unmap();
        probe_check!(back.len() == 3 * PAGE_SIZE + 100 && back.iter().all(|&b| b == 7));
        // A list of three small buffers: a piece each.
        let mut list = KVec::new();
        for len in [100, 1000, 300] {
            list.push(KVVec::from_elem(1u8, len, GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let m = SgMapping::map(dev, list, DataDirection::FromDevice, GFP_KERNEL)?;
        check_segments(dev, &m, 1400, 3)?;
        let cpu = m.sync_for_cpu();
        probe_check!(cpu.len() == 3 && cpu.get(1).map(|b| b.len()) == Some(1000));
        drop(cpu);
        Ok(())
    })();
    dev.dma_set_mask(MASK)?;
    r
}

struct TestDriver;

impl pci::Driver for TestDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        let dev: &Device<Core> = pdev.as_ref();
        let run = || -> Result {
            dev.dma_set_mask_and_coherent(MASK)?;
            dev.dma_set_max_seg_size(EDU_MAX as u32)?;
            structure(dev)?;
            if PDEV.keep_first(pdev) {
                pdev.enable_device_mem()?;
                pdev.set_master();
                let bar = pdev.iomap_region_sized::<0x100>(0, c_str!("rust_dma_sg"))?;
                let bar = bar.access(dev)?;
                for n in [1, 2, 64] {
                    round_trip(dev, bar, n)?;
                }
                let kept =
                    SgMapping::map(dev, pages(dev, 8)?, DataDirection::ToDevice, GFP_KERNEL)?;
                KEPT.store(KBox::into_raw(KBox::new(kept, GFP_KERNEL)?), SeqCst);
            }
            Ok(())
        };
        if let Err(e) = run() {
            crate::pr_err!("dma sg test probe: {:?}\n", e);
            probe_check!(false);
        }
        Ok(KBox::pin(TestDriver, GFP_KERNEL)?)
    }
}

fn register(test: &mut Test) -> Option<TestRegistration<TestDriver>> {
    PROBES.store(0, SeqCst);
    for c in [&SEGMENTS, &BOUNCED, &IN_POOL, &VERIFIED, &TRANSFERS] {
        c.store(0, SeqCst);
    }
    CHECKS.reset();
    register_or_fail(test, c_str!("rust_dma_sg_test"))
}

/// Every check made in probe passed, on every device; data went through edu intact, segment by
/// segment; the mapping kept past the unbind was unmapped by it, once.
fn segments_round_trip_and_unbind(test: &mut Test) {
    let Some(reg) = register(test) else {
        return;
    };
    let probes = PROBES.load(SeqCst);
    crate::kunit_expect!(test, probes > 0);
    CHECKS.report(test, 20 * probes);
    let verified = VERIFIED.load(SeqCst);
    crate::pr_info!(
        "rust_dma_sg: {} segments mapped, {} bounced or translated, {} in the swiotlb pool; {} \
         bytes through edu in {} transfers, intact\n",
        SEGMENTS.load(SeqCst),
        BOUNCED.load(SeqCst),
        IN_POOL.load(SeqCst),
        verified,
        TRANSFERS.load(SeqCst)
    );
    crate::kunit_expect_eq!(test, verified, (1 + 2 + 64) * PAGE_SIZE);
    let kept = KEPT.swap(core::ptr::null_mut(), SeqCst);
    if crate::kunit_expect!(test, !kept.is_null()) {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        let kept = unsafe { KBox::from_raw(kept) };
        let before = SG_RELEASED.load(SeqCst);
        PDEV.unbind();
        let after = SG_RELEASED.load(SeqCst);
        crate::kunit_expect_eq!(test, after - before, 1);
        // The buffer comes back; the unmap does nothing again.
        let pages = KBox::into_inner(kept).unmap();
        crate::kunit_expect_eq!(test, pages.len(), 8);
        crate::kunit_expect_eq!(test, SG_RELEASED.load(SeqCst), after);
    }
    drop(reg);
    PDEV.put();
}

crate::kunit_suite!(rust_dma_sg, [segments_round_trip_and_unbind]);
