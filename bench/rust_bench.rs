// SPDX-License-Identifier: GPL-2.0

//! Benchmark of the Rust driver-core bindings, the counterpart of `c_bench.c`.
//!
//! A PCI driver for QEMU's `edu` device (1234:11e8). Its probe times each operation below with
//! the same loops and the same iteration counts as `c_bench.c` does through the C API: one
//! warm-up repetition, then [`REPS`] repetitions of `n` iterations between two `ktime_get()`
//! calls. For every operation it prints one line
//!
//! ```text
//! BENCH rust <operation> n=<n> reps=<reps> median=<ns> min=<ns> max=<ns> ns/op
//! ```
//!
//! and at the end `BENCH-DONE rust` (or `BENCH-FAILED rust: <error>` if an operation failed).
//! `scripts/bench.sh` builds it as an external module, binds it to one of two `edu` devices and
//! compares its lines with those of `c_bench.c`.
//!
//! No DMA is started: the device only provides a bound `struct device`, a BAR and an MSI vector,
//! whose interrupt the benchmark raises through edu's raise register.

use core::{
    hint::{black_box, spin_loop},
    sync::atomic::{AtomicU32, Ordering},
};
use kernel::{
    c_str,
    device::{Bound, Core, Device},
    device_id::IdArray,
    devres::Devres,
    dma::{CoherentAllocation, DataDirection, DmaMask, DmaPool, SgMapping, StreamingMapping},
    dma_read, dma_write,
    io_pgtable::{prot, ArmLpaeS1, Config, IoPageTable, NoFlush, PhysAddr},
    irq::{
        self,
        pci::{IrqTypes, IrqVectors},
        work::{BoundWork, WorkHandler},
        Flags, IrqReturn,
    },
    pci,
    prelude::*,
    sync::{completion::Completion, rcu, Arc},
    time::Ktime,
    types::{AsBytes, FromBytes},
};

/// Timed repetitions per operation (after one warm-up repetition).
const REPS: usize = 7;

/// Iterations per repetition; `c_bench.c` uses the same numbers.
mod n {
    /// Coherent allocation and free (both sizes).
    pub(crate) const COHERENT_ALLOC: u64 = 64;
    /// Element reads or writes of coherent memory.
    pub(crate) const ELEMENT: u64 = 1 << 23;
    /// Allocations and frees of a DMA pool block.
    pub(crate) const POOL: u64 = 1 << 14;
    /// Streaming map, both syncs and unmap.
    pub(crate) const STREAMING: u64 = 64;
    /// Rounds of [`super::STREAMING_LIVE`] streaming mappings made, all kept live, and dropped.
    pub(crate) const STREAMING_LIVE: u64 = 16;
    /// Scatter-gather map + unmap of [`super::SG_PAGES`] pages.
    pub(crate) const SG: u64 = 16;
    /// `Devres` accesses.
    pub(crate) const DEVRES: u64 = 1 << 20;
    /// Map and unmap of [`super::PGTABLE_PAGES`] pages.
    pub(crate) const PGTABLE_MAP: u64 = 256;
    /// Translations with `iova_to_phys`.
    pub(crate) const PGTABLE_IOVA: u64 = 1 << 17;
    /// MMIO reads.
    pub(crate) const MMIO: u64 = 1 << 16;
    /// Interrupt round trips.
    pub(crate) const IRQ: u64 = 1 << 12;
    /// Work items queued and waited for.
    pub(crate) const WORK: u64 = 1 << 12;
    /// `synchronize_rcu()` calls.
    pub(crate) const SYNCHRONIZE_RCU: u64 = 4;
}

const SZ_4K: usize = 1 << 12;
const SZ_64K: usize = 1 << 16;
const SZ_2M: usize = 1 << 21;
const SZ_1G: usize = 1 << 30;
/// The coherent buffer of the element accesses: 4 KiB of `u32`.
const ELEMENTS: usize = SZ_4K / core::mem::size_of::<u32>();
/// The coherent ring of the projection benchmarks: 4 KiB of [`Desc`].
const DESCS: usize = SZ_4K / core::mem::size_of::<Desc>();
/// How many streaming mappings the live-mappings benchmark holds at once, of how many bytes.
const STREAMING_LIVE: usize = 1000;
const STREAMING_LIVE_SIZE: usize = 64;
/// How many pages the page-table benchmark maps and unmaps per iteration.
const PGTABLE_PAGES: usize = 1000;
/// Where the page table maps them, and to which physical address.
const PGTABLE_IOVA: usize = 0x10_0000_0000;
const PGTABLE_PADDR: PhysAddr = PhysAddr::new(0x4000_0000);

/// edu's interrupt registers: status (read), raise and acknowledge (written with status bits).
const EDU_IRQ_STATUS: usize = 0x24;
const EDU_IRQ_RAISE: usize = 0x60;
const EDU_IRQ_ACK: usize = 0x64;
/// How often the interrupt benchmark polls its counter for one interrupt before it gives up;
/// `c_bench.c` uses the same number.
const SPIN_LIMIT: u32 = 1 << 22;
/// How long the work benchmark waits for one run before it gives up, in milliseconds.
const WAIT_MS: u32 = 1000;

/// A descriptor as a device's ring holds them: the element of the projection benchmarks, which
/// access its `len` (the other fields only give it its layout, that of `c_bench.c`'s).
#[derive(FromBytes, AsBytes)]
#[repr(C)]
#[allow(dead_code)] // Only `len` is accessed, and only in DMA memory.
struct Desc {
    addr: u64,
    len: u32,
    flags: u32,
}

/// The value the `Devres` benchmarks read.
struct Resource {
    value: u32,
}

/// The bound-borrow access to a `Devres`: what `make bench` times as `devres_access` and
/// disassembles, to check that it holds no atomic read-modify-write and calls nothing.
#[no_mangle]
#[inline(never)]
#[allow(clippy::no_mangle_with_rust_abi)] // Called from Rust only; the name is for objdump.
fn bench_devres_access(res: &Devres<Resource>, dev: &Device<Bound>) -> u32 {
    match res.access(dev) {
        Ok(r) => r.value,
        Err(_) => 0,
    }
}

/// The access to a `Devres` from any context, under RCU: timed as `devres_try_access`.
#[no_mangle]
#[inline(never)]
#[allow(clippy::no_mangle_with_rust_abi)] // As above.
fn bench_devres_try_access(res: &Devres<Resource>) -> u32 {
    match res.try_access() {
        Some(r) => r.value,
        None => 0,
    }
}

/// Returns `r` through an empty volatile assembly statement, as the C side's `hide()` does, so
/// that the compiler can not hoist a loop body that uses it out of the loop.
#[inline(always)]
#[allow(clippy::pointers_in_nomem_asm_block)] // The assembly does not dereference the pointer.
fn hide<T>(r: &T) -> &T {
    let mut p = core::ptr::from_ref(r);
    // SAFETY: The assembly is empty: it neither reads nor writes memory, and leaves the
    // register, and so the pointer, as it was.
    unsafe {
        core::arch::asm!("/* {0} */", inout(reg) p, options(nomem, nostack, preserves_flags))
    };
    // SAFETY: `p` is still `r`, valid for the same lifetime.
    unsafe { &*p }
}

/// Nanoseconds of `CLOCK_MONOTONIC`.
fn now() -> u64 {
    Ktime::ktime_get().to_ns() as u64
}

/// Runs `once` (which times `n` iterations and returns the nanoseconds they took) once to warm
/// up and [`REPS`] times more, and prints the median, minimum and maximum time per iteration.
///
/// Not inlined, so that every timed loop is compiled in a function of its own, as on the C side.
#[inline(never)]
fn measure(name: &str, n: u64, mut once: impl FnMut(u64) -> Result<u64>) -> Result {
    once(n)?;
    let mut ns = [0u64; REPS];
    for slot in ns.iter_mut() {
        *slot = once(n)?;
    }
    // Insertion sort: a handful of values, and no panicking paths.
    for i in 1..REPS {
        let mut j = i;
        while j > 0 && ns[j - 1] > ns[j] {
            ns.swap(j - 1, j);
            j -= 1;
        }
    }
    // Picoseconds per iteration, printed as nanoseconds with three decimals.
    let ps = |t: u64| t * 1000 / n;
    let (med, min, max) = (ps(ns[REPS / 2]), ps(ns[0]), ps(ns[REPS - 1]));
    pr_info!(
        "BENCH rust {} n={} reps={} median={}.{:03} min={}.{:03} max={}.{:03} ns/op\n",
        name,
        n,
        REPS,
        med / 1000,
        med % 1000,
        min / 1000,
        min % 1000,
        max / 1000,
        max % 1000
    );
    Ok(())
}

/// Allocation and free of `size` bytes of coherent memory.
fn coherent_alloc(dev: &Device<Bound>, name: &str, size: usize) -> Result {
    measure(name, n::COHERENT_ALLOC, |n| {
        let t0 = now();
        for _ in 0..n {
            let buf = CoherentAllocation::<u32>::alloc_coherent(
                dev,
                size / core::mem::size_of::<u32>(),
                GFP_KERNEL,
            )?;
            drop(buf);
        }
        Ok(now() - t0)
    })
}

/// Element reads and writes of a 4 KiB coherent buffer.
fn coherent_elements(dev: &Device<Bound>) -> Result {
    let buf = CoherentAllocation::<u32>::alloc_coherent(dev, ELEMENTS, GFP_KERNEL)?;
    let ca = buf.access(dev)?;
    measure("coherent_read", n::ELEMENT, |n| {
        let mut sum = 0u32;
        let t0 = now();
        for i in 0..n {
            sum = sum.wrapping_add(ca.read(i as usize & (ELEMENTS - 1))?);
        }
        let t = now() - t0;
        black_box(sum);
        Ok(t)
    })?;
    measure("coherent_write", n::ELEMENT, |n| {
        let t0 = now();
        for i in 0..n {
            ca.write(i as usize & (ELEMENTS - 1), i as u32)?;
        }
        Ok(now() - t0)
    })?;
    // The same reads, the range checked once per pass over the buffer rather than per element.
    measure("coherent_read_iter", n::ELEMENT, |n| {
        let mut sum = 0u32;
        let t0 = now();
        for _ in 0..n / ELEMENTS as u64 {
            for v in ca.iter(0, ELEMENTS)? {
                sum = sum.wrapping_add(v);
            }
        }
        let t = now() - t0;
        black_box(sum);
        Ok(t)
    })
}

/// Field reads and writes, through `dma_read!` and `dma_write!`, of the `len` of the elements of
/// a 4 KiB coherent ring of [`Desc`]: the loops of [`coherent_elements`] with a field projection.
fn projection(dev: &Device<Bound>) -> Result {
    let ring = CoherentAllocation::<Desc>::alloc_coherent(dev, DESCS, GFP_KERNEL)?;
    let r = ring.access(dev)?;
    measure("project_read", n::ELEMENT, |n| {
        let mut sum = 0u32;
        let t0 = now();
        for i in 0..n {
            sum = sum.wrapping_add(dma_read!(r[i as usize & (DESCS - 1)].len)?);
        }
        let t = now() - t0;
        black_box(sum);
        Ok(t)
    })?;
    measure("project_write", n::ELEMENT, |n| {
        let t0 = now();
        for i in 0..n {
            dma_write!(r[i as usize & (DESCS - 1)].len = i as u32)?;
        }
        Ok(now() - t0)
    })
}

/// Allocation (zeroed) and free of a 64-byte block of a DMA pool of 64-byte aligned blocks.
fn pool_alloc(dev: &Device<Bound>) -> Result {
    let pool = DmaPool::<[u8; 64]>::new(dev, c_str!("bench"), 64, 0)?;
    measure("pool_alloc_64", n::POOL, |n| {
        let t0 = now();
        for _ in 0..n {
            let obj = pool.alloc(dev, GFP_KERNEL)?;
            drop(obj);
        }
        Ok(now() - t0)
    })
}

/// Streaming map, sync for the CPU, sync for the device and unmap of a 4 KiB buffer.
fn streaming(dev: &Device<Bound>) -> Result {
    let mut buf = Some(KVec::from_elem(0u8, SZ_4K, GFP_KERNEL)?);
    measure("streaming_4k", n::STREAMING, |n| {
        let mut v = buf.take().ok_or(EINVAL)?;
        let t0 = now();
        for _ in 0..n {
            let mapped = StreamingMapping::map(dev, v, DataDirection::Bidirectional)?;
            v = mapped.sync_for_cpu().sync_for_device().unmap();
        }
        let t = now() - t0;
        buf = Some(v);
        Ok(t)
    })
}

/// [`STREAMING_LIVE`] buffers of 64 bytes mapped to the device one after the other and all kept
/// mapped, then all dropped (each unmapped and freed). Only the mapping and the dropping are
/// timed: each round allocates its buffers before its timed part, and the time per operation is
/// that of a whole round, all [`STREAMING_LIVE`] mappings.
/// Pages of the scatter-gather row.
const SG_PAGES: usize = 64;

/// A scatter-gather mapping of [`SG_PAGES`] separate pages made (its table built and mapped) and
/// unmapped.
fn sg(dev: &Device<Bound>) -> Result {
    let mut pages = KVec::with_capacity(SG_PAGES, GFP_KERNEL)?;
    for _ in 0..SG_PAGES {
        pages.push(kernel::page::Page::alloc_page(GFP_KERNEL)?, GFP_KERNEL)?;
    }
    let mut pages = Some(pages);
    measure("sg_map_unmap_64", n::SG, |n| {
        let mut p = pages.take().ok_or(EINVAL)?;
        let t0 = now();
        for _ in 0..n {
            p = SgMapping::map(dev, p, DataDirection::ToDevice, GFP_KERNEL)?.unmap();
        }
        let t = now() - t0;
        pages = Some(p);
        Ok(t)
    })
}

fn streaming_live(dev: &Device<Bound>) -> Result {
    let mut bufs: KVec<Option<KVec<u8>>> = KVec::with_capacity(STREAMING_LIVE, GFP_KERNEL)?;
    let mut maps: KVec<Option<StreamingMapping<u8>>> =
        KVec::with_capacity(STREAMING_LIVE, GFP_KERNEL)?;
    for _ in 0..STREAMING_LIVE {
        bufs.push(None, GFP_KERNEL)?;
        maps.push(None, GFP_KERNEL)?;
    }
    measure("streaming_live_1000", n::STREAMING_LIVE, |n| {
        let mut t = 0;
        for _ in 0..n {
            for b in bufs.iter_mut() {
                *b = Some(KVec::from_elem(0u8, STREAMING_LIVE_SIZE, GFP_KERNEL)?);
            }
            let t0 = now();
            for (b, m) in bufs.iter_mut().zip(maps.iter_mut()) {
                let buf = b.take().ok_or(EINVAL)?;
                *m = Some(StreamingMapping::map(dev, buf, DataDirection::ToDevice)?);
            }
            for m in maps.iter_mut() {
                drop(m.take());
            }
            t += now() - t0;
        }
        Ok(t)
    })
}

/// `Devres` access through the bound borrow and through `try_access()`.
fn devres(dev: &Device<Bound>) -> Result {
    let res = Devres::new(dev, Resource { value: 0x5a5a }, GFP_KERNEL)?;
    measure("devres_access", n::DEVRES, |n| {
        let mut sum = 0u32;
        let t0 = now();
        for _ in 0..n {
            sum = sum.wrapping_add(bench_devres_access(hide(&res), dev));
        }
        let t = now() - t0;
        black_box(sum);
        Ok(t)
    })?;
    measure("devres_try_access", n::DEVRES, |n| {
        let mut sum = 0u32;
        let t0 = now();
        for _ in 0..n {
            sum = sum.wrapping_add(bench_devres_try_access(hide(&res)));
        }
        let t = now() - t0;
        black_box(sum);
        Ok(t)
    })
}

/// Maps [`PGTABLE_PAGES`] pages of 4 KiB from `PGTABLE_IOVA`, calling `map_pages` until all are
/// mapped (one call maps at most up to the end of a leaf table).
fn pgtable_map(t: &IoPageTable<ArmLpaeS1, NoFlush>) -> Result {
    let len = PGTABLE_PAGES * SZ_4K;
    let mut done = 0;
    while done < len {
        // SAFETY: The table is never handed to a device, so no device can reach the memory at
        // `PGTABLE_PADDR`.
        let mapped = unsafe {
            t.map_pages(
                PGTABLE_IOVA + done,
                PGTABLE_PADDR + done as u64,
                SZ_4K,
                (len - done) / SZ_4K,
                prot::READ | prot::WRITE,
                GFP_KERNEL,
            )
        }
        .map_err(|(e, _)| e)?;
        if mapped == 0 {
            return Err(EIO);
        }
        done += mapped;
    }
    Ok(())
}

/// Unmaps what [`pgtable_map`] mapped, calling `unmap_pages` until all is unmapped.
fn pgtable_unmap(t: &IoPageTable<ArmLpaeS1, NoFlush>) -> Result {
    let len = PGTABLE_PAGES * SZ_4K;
    let mut done = 0;
    while done < len {
        done += t.unmap_pages(PGTABLE_IOVA + done, SZ_4K, (len - done) / SZ_4K)?;
    }
    Ok(())
}

/// ARM LPAE stage-1 table (4 KiB granule, 48-bit addresses): map and unmap of
/// [`PGTABLE_PAGES`] pages, and translations.
fn pgtable(dev: &Device<Bound>) -> Result {
    let cfg = Config::new(SZ_4K | SZ_2M | SZ_1G, 48, 48);
    // SAFETY: No hardware walks the table: nothing needs invalidating.
    let no_flush = unsafe { NoFlush::new() };
    let table = IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, cfg, no_flush)?;
    let t = table.access(dev)?;
    measure("pgtable_map_unmap_1000", n::PGTABLE_MAP, |n| {
        let t0 = now();
        for _ in 0..n {
            pgtable_map(t)?;
            pgtable_unmap(t)?;
        }
        Ok(now() - t0)
    })?;
    pgtable_map(t)?;
    let ret = measure("pgtable_iova_to_phys", n::PGTABLE_IOVA, |n| {
        let mut sum = 0u64;
        let t0 = now();
        for i in 0..n as usize {
            let iova = PGTABLE_IOVA + (i & 511) * SZ_4K + 0x123;
            sum = sum.wrapping_add(t.iova_to_phys(iova)?.as_u64());
        }
        let t = now() - t0;
        black_box(sum);
        Ok(t)
    });
    pgtable_unmap(t)?;
    ret
}

/// MMIO reads of the identification register.
fn mmio(dev: &Device<Bound>, bar: &Devres<Bar>) -> Result {
    let bar = bar.access(dev)?;
    measure("mmio_read32", n::MMIO, |n| {
        let mut sum = 0u32;
        let t0 = now();
        for _ in 0..n {
            sum = sum.wrapping_add(bar.read32::<0>());
        }
        let t = now() - t0;
        black_box(sum);
        Ok(t)
    })
}

/// The handler of the interrupt benchmark: reads edu's status, acknowledges it and counts the
/// interrupt, as `c_bench.c`'s handler does.
struct EduIrq {
    bar: Arc<Devres<Bar>>,
    count: AtomicU32,
}

impl irq::Handler for EduIrq {
    fn handle(&self, dev: &Device<Bound>) -> IrqReturn {
        let Ok(bar) = self.bar.access(dev) else {
            return IrqReturn::None;
        };
        let status = bar.read32::<EDU_IRQ_STATUS>();
        if status == 0 {
            return IrqReturn::None;
        }
        bar.write32::<EDU_IRQ_ACK>(status);
        self.count.fetch_add(1, Ordering::Relaxed);
        IrqReturn::Handled
    }
}

/// Interrupt round trips: raise edu's interrupt through the BAR and poll until the handler has
/// counted it, at most [`SPIN_LIMIT`] times ([`ETIMEDOUT`] then: a lost interrupt).
fn irq_round_trip(dev: &Device<Bound>, bar: &Arc<Devres<Bar>>, vectors: &IrqVectors) -> Result {
    let handler = EduIrq {
        bar: bar.clone(),
        count: AtomicU32::new(0),
    };
    let line = vectors.vector(dev, 0)?;
    let reg = irq::Registration::new(dev, line, Flags::NONE, c_str!("rust_bench"), handler)?;
    let count = &reg.access(dev)?.handler().count;
    let bar = bar.access(dev)?;
    measure("irq_round_trip", n::IRQ, |n| {
        let t0 = now();
        for _ in 0..n {
            let seen = count.load(Ordering::Relaxed);
            bar.write32::<EDU_IRQ_RAISE>(1);
            let mut spins = 0;
            while count.load(Ordering::Relaxed) == seen {
                if spins == SPIN_LIMIT {
                    return Err(ETIMEDOUT);
                }
                spin_loop();
                spins += 1;
            }
        }
        Ok(now() - t0)
    })
}

/// The function of the work benchmark: signals the completion the benchmark waits for, as
/// `c_bench.c`'s work function does.
struct Dispatch {
    done: Pin<KBox<Completion>>,
}

impl WorkHandler for Dispatch {
    fn run(&self, _dev: &Device<Bound>) {
        self.done.complete();
    }
}

/// Bound work queued on the system workqueue and waited for, at most [`WAIT_MS`] per run
/// ([`ETIMEDOUT`] then); disabled and flushed when dropped at the end.
fn bound_work_dispatch(dev: &Device<Bound>) -> Result {
    let done = KBox::pin_init(Completion::new(), GFP_KERNEL)?;
    let work = BoundWork::new(dev, Dispatch { done }, GFP_KERNEL)?;
    let w = work.access(dev)?;
    let done = &w.handler().done;
    measure("bound_work_dispatch", n::WORK, |n| {
        let t0 = now();
        for _ in 0..n {
            w.queue();
            if !done.wait_timeout(WAIT_MS) {
                return Err(ETIMEDOUT);
            }
        }
        Ok(now() - t0)
    })
}

/// The grace period that every `Revocable` revocation, and so every `Devres` drop, waits for.
fn synchronize_rcu() -> Result {
    measure("synchronize_rcu", n::SYNCHRONIZE_RCU, |n| {
        let t0 = now();
        for _ in 0..n {
            rcu::synchronize_rcu();
        }
        Ok(now() - t0)
    })
}

fn run_all(dev: &Device<Bound>, bar: &Arc<Devres<Bar>>, vectors: &IrqVectors) -> Result {
    coherent_alloc(dev, "coherent_alloc_4k", SZ_4K)?;
    coherent_alloc(dev, "coherent_alloc_64k", SZ_64K)?;
    coherent_elements(dev)?;
    projection(dev)?;
    pool_alloc(dev)?;
    streaming(dev)?;
    streaming_live(dev)?;
    sg(dev)?;
    devres(dev)?;
    pgtable(dev)?;
    mmio(dev, bar)?;
    irq_round_trip(dev, bar, vectors)?;
    bound_work_dispatch(dev)?;
    synchronize_rcu()
}

type Bar = pci::Bar<0x100>;

struct RustBench {
    _bar: Arc<Devres<Bar>>,
}

static ID_TABLE: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);

impl pci::Driver for RustBench {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &ID_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        let dev: &Device<Core> = pdev.as_ref();
        // No transfer is started; a 32-bit mask keeps the streaming mappings of this 1 GiB
        // guest free of bounce buffers, on both sides of the comparison.
        dev.dma_set_mask_and_coherent(DmaMask::new::<32>())?;
        pdev.enable_device_mem()?;
        // Also for the interrupt benchmark: an MSI is a write of the device's.
        pdev.set_master();
        let bar = pdev.iomap_region_sized(0, c_str!("rust_bench"))?;
        let bar = Arc::new(bar, GFP_KERNEL)?;
        let vectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI)?;
        match run_all(dev, &bar, &vectors) {
            Ok(()) => pr_info!("BENCH-DONE rust\n"),
            Err(e) => pr_info!("BENCH-FAILED rust: {:?}\n", e),
        }
        // Freed here, as `c_bench.c` frees its vector at the end of its probe.
        drop(vectors);
        Ok(KBox::pin(RustBench { _bar: bar }, GFP_KERNEL)?)
    }
}

kernel::module_pci_driver! {
    type: RustBench,
    name: "rust_bench",
    author: "Rust for Linux Contributors",
    description: "Benchmark of the Rust driver-core bindings against the C API",
    license: "GPL v2",
}
