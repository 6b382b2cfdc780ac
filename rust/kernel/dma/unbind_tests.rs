// SPDX-License-Identifier: GPL-2.0

//! KUnit suite: owners dropping and synchronising their DMA resources while the device unbinds.
//!
//! A test PCI driver binds QEMU's `edu` devices; on the first device, each probe hands the case
//! [`MAPPINGS`] streaming mappings, [`SG_MAPPINGS`] scatter-gather mappings and [`OBJECTS`]
//! objects of a DMA pool. Each cycle a thread synchronises and drops them, one by one, while the
//! case unbinds the device, whose unbind unmaps and returns whatever is still live. Every
//! resource must be undone exactly once, by one side or the other: the counts of both sides add
//! up to what was made, cycle by cycle, and no mapping is live once the unbind has returned (an
//! owner's unmap under way is waited for). A double unmap or free, or one after the memory is
//! gone, is also what KASAN and `CONFIG_DMA_API_DEBUG` report, which the runner finds in the log.

use crate::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings, c_str,
    device::{Core, Device},
    dma::{DataDirection, DmaMask, DmaPool, PoolObject, SgMapping, StreamingMapping},
    kunit::{thread, Test},
    page::Page,
    pci::{
        self,
        testing::{register_or_fail, DevRef, TestRegistration, EDU},
    },
    prelude::*,
};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};

/// Streaming and scatter-gather mappings live (mapped and not yet unmapped), counted by the
/// bindings.
pub(crate) static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Unmaps and frees by the owners, counted by the bindings.
pub(crate) static OWNER_UNMAPPED: AtomicUsize = AtomicUsize::new(0);
pub(crate) static SG_OWNER_UNMAPPED: AtomicUsize = AtomicUsize::new(0);
pub(crate) static POOL_OWNER_FREED: AtomicUsize = AtomicUsize::new(0);

const MAPPINGS: usize = 32;
const SG_MAPPINGS: usize = 8;
const OBJECTS: usize = 32;
const CYCLES: usize = 50;

/// What a probe hands the case.
struct Kept {
    maps: KVec<StreamingMapping<u8>>,
    sgs: KVec<SgMapping<KVec<Page>>>,
    objects: KVec<PoolObject<u64>>,
    _pool: DmaPool<u64>,
}

static PROBES: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);
static PDEV: DevRef = DevRef::new();
/// From `KBox::into_raw`.
static KEPT: AtomicPtr<Kept> = AtomicPtr::new(core::ptr::null_mut());

fn take() -> Option<KBox<Kept>> {
    let p = KEPT.swap(core::ptr::null_mut(), SeqCst);
    // SAFETY: The slot holds pointers from `KBox::into_raw` only.
    (!p.is_null()).then(|| unsafe { KBox::from_raw(p) })
}

fn make(dev: &Device<Core>) -> Result<Kept> {
    let mut maps = KVec::with_capacity(MAPPINGS, GFP_KERNEL)?;
    for _ in 0..MAPPINGS {
        let buf = KVec::from_elem(0u8, 256, GFP_KERNEL | dev.dma_zone())?;
        maps.push(
            StreamingMapping::map(dev, buf, DataDirection::Bidirectional)?,
            GFP_KERNEL,
        )?;
    }
    let mut sgs = KVec::with_capacity(SG_MAPPINGS, GFP_KERNEL)?;
    for _ in 0..SG_MAPPINGS {
        let mut pages = KVec::new();
        for _ in 0..2 {
            pages.push(Page::alloc_page(GFP_KERNEL | dev.dma_zone())?, GFP_KERNEL)?;
        }
        let m = SgMapping::map(dev, pages, DataDirection::FromDevice, GFP_KERNEL)?;
        sgs.push(m, GFP_KERNEL)?;
    }
    let pool = DmaPool::<u64>::new(dev, c_str!("rust_dma_unbind"), 0, 0)?;
    let mut objects = KVec::with_capacity(OBJECTS, GFP_KERNEL)?;
    for _ in 0..OBJECTS {
        objects.push(pool.alloc(dev, GFP_KERNEL)?, GFP_KERNEL)?;
    }
    Ok(Kept {
        maps,
        sgs,
        objects,
        _pool: pool,
    })
}

struct TestDriver;

impl pci::Driver for TestDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        let dev: &Device<Core> = pdev.as_ref();
        dev.dma_set_mask_and_coherent(DmaMask::new::<28>())?;
        if PDEV.keep_first(pdev) || PDEV.dev() == dev.as_raw() {
            match make(dev).and_then(|k| Ok(KBox::new(k, GFP_KERNEL)?)) {
                Ok(kept) => {
                    let old = KEPT.swap(KBox::into_raw(kept), SeqCst);
                    if !old.is_null() {
                        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
                        drop(unsafe { KBox::from_raw(old) });
                    }
                }
                Err(_) => {
                    FAILED.fetch_add(1, SeqCst);
                }
            }
        }
        Ok(KBox::pin(TestDriver, GFP_KERNEL)?)
    }
}

fn register(test: &mut Test) -> Option<TestRegistration<TestDriver>> {
    PROBES.store(0, SeqCst);
    FAILED.store(0, SeqCst);
    register_or_fail(test, c_str!("rust_dma_unbind_test"))
}

/// The thread's part: synchronise and drop every resource, interleaving the kinds.
fn drop_all(kept: KBox<Kept>) {
    let Kept {
        maps,
        sgs,
        objects,
        _pool,
    } = KBox::into_inner(kept);
    let (mut maps, mut sgs, mut objects) = (maps.into_iter(), sgs.into_iter(), objects.into_iter());
    loop {
        let mut any = false;
        if let Some(m) = maps.next() {
            // Both transitions, then the owner's unmap: each may meet the unbind.
            drop(m.sync_for_cpu().sync_for_device().unmap());
            any = true;
        }
        if let Some(m) = sgs.next() {
            drop(m.sync_for_cpu().unmap());
            any = true;
        }
        if let Some(o) = objects.next() {
            drop(o);
            any = true;
        }
        if !any {
            break;
        }
        thread::yield_now();
    }
}

/// Owners racing the unbind: each resource undone exactly once, by one side or the other.
fn owners_race_unbind(test: &mut Test) {
    let Some(reg) = register(test) else {
        return;
    };
    let dev = PDEV.dev();
    if !crate::kunit_expect!(test, !dev.is_null()) {
        return;
    }
    static GO: AtomicBool = AtomicBool::new(false);
    let (mut by_unbind, mut by_owner, mut wrong, mut live_after) = ([0usize; 3], [0usize; 3], 0, 0);
    for _ in 0..CYCLES {
        let Some(kept) = take() else {
            crate::kunit_expect!(test, false);
            break;
        };
        let before = (
            [
                super::tests::STREAMING_RELEASED.load(SeqCst),
                super::sg_tests::SG_RELEASED.load(SeqCst),
                super::pool_tests::POOL_RETURNED.load(SeqCst),
            ],
            [
                OWNER_UNMAPPED.load(SeqCst),
                SG_OWNER_UNMAPPED.load(SeqCst),
                POOL_OWNER_FREED.load(SeqCst),
            ],
        );
        // Mappings of other suites, if any are left: all but this cycle's.
        let base = LIVE.load(SeqCst).saturating_sub(MAPPINGS + SG_MAPPINGS);
        GO.store(false, SeqCst);
        let owner = thread::spawn(move || {
            while !GO.load(SeqCst) {
                thread::yield_now();
            }
            drop_all(kept);
        });
        let Ok(owner) = owner else {
            crate::kunit_expect!(test, false);
            break;
        };
        GO.store(true, SeqCst);
        // SAFETY: `dev` is referenced by `PDEV`; unbinding takes the device lock itself.
        unsafe { bindings::device_release_driver(dev) };
        // No mapping of the binding is live once its unbind has returned, also not one whose
        // owner was unmapping it meanwhile (the other device has none of this suite's).
        if LIVE.load(SeqCst) != base {
            live_after += 1;
        }
        owner.join();
        let unbind = [
            super::tests::STREAMING_RELEASED.load(SeqCst) - before.0[0],
            super::sg_tests::SG_RELEASED.load(SeqCst) - before.0[1],
            super::pool_tests::POOL_RETURNED.load(SeqCst) - before.0[2],
        ];
        let owner = [
            OWNER_UNMAPPED.load(SeqCst) - before.1[0],
            SG_OWNER_UNMAPPED.load(SeqCst) - before.1[1],
            POOL_OWNER_FREED.load(SeqCst) - before.1[2],
        ];
        for (k, made) in [MAPPINGS, SG_MAPPINGS, OBJECTS].into_iter().enumerate() {
            by_unbind[k] += unbind[k];
            by_owner[k] += owner[k];
            if unbind[k] + owner[k] != made {
                wrong += 1;
            }
        }
        // SAFETY: As above; binding takes the device lock itself.
        if unsafe { bindings::device_attach(dev) } != 1 {
            crate::kunit_expect!(test, false);
            break;
        }
    }
    crate::pr_info!(
        "rust_dma_unbind: {} cycles; undone by the unbind / by the owner: streaming {} / {}, \
         scatter-gather {} / {}, pool objects {} / {}; {} counts that do not add up, {} unbinds \
         that returned with a mapping live\n",
        CYCLES,
        by_unbind[0],
        by_owner[0],
        by_unbind[1],
        by_owner[1],
        by_unbind[2],
        by_owner[2],
        wrong,
        live_after
    );
    crate::kunit_expect_eq!(test, wrong, 0);
    crate::kunit_expect_eq!(test, live_after, 0);
    crate::kunit_expect_eq!(test, FAILED.load(SeqCst), 0);
    drop(reg);
    drop(take());
    PDEV.put();
}

crate::kunit_suite!(rust_dma_unbind, [owners_race_unbind]);
