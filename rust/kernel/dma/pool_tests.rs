// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for DMA pools, against a real bound device.
//!
//! A test PCI driver binds QEMU's `edu` devices. Its `probe` creates pools and checks their
//! objects: aligned, inside the DMA mask, within the boundary, zeroed, distinct, written and read
//! back through the projection macros, allocated and dropped in atomic context. The first device
//! keeps [`KEPT`] objects of one pool alive past `probe`; the case unbinds it and checks that the
//! unbind returned exactly those to the pool, and that dropping them afterwards frees nothing
//! again (`CONFIG_DMA_API_DEBUG`, KASAN and the pool's own "busy" message would report it).

use crate::{
    alloc::flags::{GFP_ATOMIC, GFP_KERNEL},
    c_str,
    device::{Bound, Core, Device},
    dma::{DmaMask, DmaPool, PoolObject},
    dma_read, dma_write,
    kunit::Test,
    pci::{
        self,
        testing::{register_or_fail, Checks, DevRef, TestRegistration, EDU},
    },
    prelude::*,
    types::{AsBytes, FromBytes},
};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};

/// How many live blocks pool releases have returned at unbind, counted by the binding.
pub(crate) static POOL_RETURNED: AtomicUsize = AtomicUsize::new(0);

const MASK_BITS: u32 = 28;
/// Objects of one pool that the first device keeps alive past its unbind.
const KEPT: usize = 300;
/// The alignment and boundary of the descriptor pool.
const ALIGN: usize = 64;
const BOUNDARY: usize = 4096;
/// The number of `probe_check!` calls that a successful probe makes.
const CHECKS_PER_PROBE: usize = 10;

/// A device descriptor: 24 bytes, no padding.
#[derive(FromBytes, AsBytes)]
#[repr(C)]
struct Desc {
    addr: u64,
    len: u32,
    flags: u32,
    next: u64,
}

/// What the first device keeps past its unbind.
struct Kept {
    pool: DmaPool<Desc>,
    objects: KVec<PoolObject<Desc>>,
}

static PROBES: AtomicUsize = AtomicUsize::new(0);
static CHECKS: Checks = Checks::new();
static PDEV: DevRef = DevRef::new();
/// From `KBox::into_raw`.
static KEPT_OBJECTS: AtomicPtr<Kept> = AtomicPtr::new(core::ptr::null_mut());

macro_rules! probe_check {
    ($cond:expr) => {
        crate::pci::testing::probe_check!(CHECKS, $cond)
    };
}

/// Allocates [`KEPT`] descriptors and checks them.
fn descriptors(dev: &Device<Bound>, pool: &DmaPool<Desc>) -> Result<KVec<PoolObject<Desc>>> {
    let mask = DmaMask::new::<MASK_BITS>().value();
    let size = core::mem::size_of::<Desc>() as u64;
    let mut objects = KVec::with_capacity(KEPT, GFP_KERNEL)?;
    let mut handles = KVec::with_capacity(KEPT, GFP_KERNEL)?;
    let (mut aligned, mut reachable, mut within, mut zeroed) = (0, 0, 0, 0);
    for i in 0..KEPT {
        let obj = pool.alloc(dev, GFP_KERNEL)?;
        let dma = obj.dma_handle();
        aligned += usize::from(dma % ALIGN as u64 == 0);
        reachable += usize::from(dma + size - 1 <= mask);
        within += usize::from(dma / BOUNDARY as u64 == (dma + size - 1) / BOUNDARY as u64);
        let view = obj.access(dev)?;
        let d = dma_read!(view[0])?;
        zeroed += usize::from(d.addr == 0 && d.len == 0 && d.flags == 0 && d.next == 0);
        dma_write!(view[0].addr = dma)?;
        dma_write!(view[0].len = i as u32)?;
        handles.push(dma, GFP_KERNEL)?;
        objects.push(obj, GFP_KERNEL)?;
    }
    probe_check!(aligned == KEPT && reachable == KEPT && within == KEPT);
    probe_check!(zeroed == KEPT);
    handles.sort_unstable();
    let distinct = handles.windows(2).all(|w| w[1] - w[0] >= size);
    probe_check!(distinct);
    // What was written is still there, object by object.
    let mut intact = 0;
    for (i, obj) in objects.iter().enumerate() {
        let view = obj.access(dev)?;
        let ok = dma_read!(view[0].addr) == Ok(obj.dma_handle())
            && dma_read!(view[0].len) == Ok(i as u32);
        intact += usize::from(ok);
    }
    probe_check!(intact == KEPT);
    probe_check!(pool.live() == KEPT);
    Ok(objects)
}

/// Large, page-aligned blocks, in atomic context too.
fn pages(dev: &Device<Bound>) -> Result {
    let pool = DmaPool::<[u64; 512]>::new(dev, c_str!("rust_pool_pages"), 4096, 4096)?;
    let a = pool.alloc(dev, GFP_KERNEL)?;
    probe_check!(a.dma_handle() % 4096 == 0);
    // Allocating and dropping in atomic context: inside an RCU read-side section, which is
    // atomic on non-preemptible RCU, nothing may sleep (the debug kernel would report it).
    let guard = crate::sync::rcu::read_lock();
    let b = pool.alloc(dev, GFP_ATOMIC);
    let ok = b.as_ref().map(|b| b.dma_handle() % 4096 == 0) == Ok(true);
    drop(b);
    drop(guard);
    probe_check!(ok);
    let view = a.access(dev)?;
    dma_write!(view[0] = [7; 512])?;
    probe_check!(dma_read!(view[0]).map(|p| p.iter().all(|&w| w == 7)) == Ok(true));
    probe_check!(pool.live() == 1);
    Ok(())
}

struct TestDriver;

impl pci::Driver for TestDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        let dev: &Device<Core> = pdev.as_ref();
        dev.dma_set_mask_and_coherent(DmaMask::new::<MASK_BITS>())?;
        let run = || -> Result {
            let pool = DmaPool::<Desc>::new(dev, c_str!("rust_pool_descs"), ALIGN, BOUNDARY)?;
            let objects = descriptors(dev, &pool)?;
            pages(dev)?;
            if PDEV.keep_first(pdev) {
                let kept = KBox::new(Kept { pool, objects }, GFP_KERNEL)?;
                KEPT_OBJECTS.store(KBox::into_raw(kept), SeqCst);
            } else {
                drop(objects);
                probe_check!(pool.live() == 0);
            }
            Ok(())
        };
        if let Err(e) = run() {
            crate::pr_err!("dma pool test probe: {:?}\n", e);
            probe_check!(false);
        }
        Ok(KBox::pin(TestDriver, GFP_KERNEL)?)
    }
}

fn register(test: &mut Test) -> Option<TestRegistration<TestDriver>> {
    PROBES.store(0, SeqCst);
    CHECKS.reset();
    register_or_fail(test, c_str!("rust_dma_pool_test"))
}

fn take_kept() -> Option<KBox<Kept>> {
    let p = KEPT_OBJECTS.swap(core::ptr::null_mut(), SeqCst);
    // SAFETY: The slot holds pointers from `KBox::into_raw` only.
    (!p.is_null()).then(|| unsafe { KBox::from_raw(p) })
}

/// Every check made in probe passed, on every device; objects alive at unbind are returned to
/// the pool by the unbind, once.
fn objects_alive_at_unbind_are_returned_once(test: &mut Test) {
    let Some(reg) = register(test) else {
        return;
    };
    let probes = PROBES.load(SeqCst);
    crate::kunit_expect!(test, probes > 0);
    // The device that kept its objects skips one check.
    crate::kunit_expect_eq!(test, CHECKS.made(), CHECKS_PER_PROBE * probes - 1);
    CHECKS.report(test, 1);
    let Some(kept) = take_kept() else {
        crate::kunit_expect!(test, false);
        drop(reg);
        PDEV.put();
        return;
    };
    crate::kunit_expect_eq!(test, kept.pool.live(), KEPT);
    let before = POOL_RETURNED.load(SeqCst);
    PDEV.unbind();
    let returned = POOL_RETURNED.load(SeqCst) - before;
    crate::pr_info!(
        "rust_dma_pool: {} of {} objects alive at unbind returned by it; {} left\n",
        returned,
        kept.objects.len(),
        kept.pool.live()
    );
    crate::kunit_expect_eq!(test, returned, KEPT);
    crate::kunit_expect_eq!(test, kept.pool.live(), 0);
    // Dropping the objects now returns nothing again, and dropping the pool destroys nothing.
    let before = POOL_RETURNED.load(SeqCst);
    drop(kept);
    crate::kunit_expect_eq!(test, POOL_RETURNED.load(SeqCst), before);
    drop(reg);
    PDEV.put();
}

crate::kunit_suite!(rust_dma_pool, [objects_alive_at_unbind_are_returned_once]);
