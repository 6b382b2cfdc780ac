// SPDX-License-Identifier: GPL-2.0

//! KUnit suite: what takes the bound device works in every context of the data path.
//!
//! A test driver takes the MSI vector of QEMU's `edu` device with a threaded handler and creates
//! a bound work. For each interrupt the hard handler, in hard interrupt context, reads the
//! device through its BAR's `Devres` and maps a buffer for DMA with `GFP_ATOMIC`, which it hands
//! to the work; the thread maps and unmaps a buffer of its own with `GFP_KERNEL`, sleeping; the
//! work takes the hard handler's buffer back from the device and unmaps it. Each reaches the
//! driver data. Under the debug kernel (atomic-sleep checks) anything that may sleep in the
//! hard handler is a report that fails the run.

use super::{
    pci::IrqTypes,
    tests::{ack, Bar, EDU_IRQ_RAISE},
    work::{BoundWork, WorkHandler},
    Flags, IrqReturn, Registration, ThreadedHandler, ThreadedIrqReturn,
};
use crate::{
    alloc::flags::GFP_ATOMIC,
    c_str,
    delay::msleep,
    device::{Bound, Core, Device},
    devres::Devres,
    dma::{DataDirection, StreamingMapping},
    kunit::Test,
    pci::{
        self,
        testing::{probe_check, register_or_fail, ArcSlot, Checks, DevRef, EDU, EDU_ID},
    },
    prelude::*,
    sync::Arc,
};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};

/// Interrupts the case raises, one at a time.
const RAISES: usize = 16;
/// The bytes of each buffer, and what the hard handler fills its buffers with.
const LEN: usize = 256;
const FILL: u8 = 0xa5;

static CHECKS: Checks = Checks::new();
static PDEV: DevRef = DevRef::new();
static HARD_MAPPED: AtomicUsize = AtomicUsize::new(0);
static THREAD_MAPPED: AtomicUsize = AtomicUsize::new(0);
static WORK_UNMAPPED: AtomicUsize = AtomicUsize::new(0);
/// The hard handler's mapping, for the work (from `KBox::into_raw`).
static HANDOFF: AtomicPtr<StreamingMapping<u8>> = AtomicPtr::new(core::ptr::null_mut());
/// The BAR of the first binding, for the case.
static CASE_BAR: ArcSlot<Devres<Bar>> = ArcSlot::new();

struct CtxDriver {
    _irq: Option<Devres<Registration<Irq>>>,
}

/// Takes the hard handler's buffer back from the device and unmaps it, in process context.
struct Unmap;

impl WorkHandler for Unmap {
    fn run(&self, dev: &Device<Bound>) {
        probe_check!(CHECKS, dev.drvdata::<CtxDriver>().is_ok());
        let p = HANDOFF.swap(core::ptr::null_mut(), SeqCst);
        if p.is_null() {
            return;
        }
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        let mapped = KBox::into_inner(unsafe { KBox::from_raw(p) });
        let cpu = mapped.sync_for_cpu();
        probe_check!(CHECKS, cpu.iter().all(|&b| b == FILL));
        // Unmapping may sleep: here it may.
        drop(cpu.sync_for_device().unmap());
        WORK_UNMAPPED.fetch_add(1, SeqCst);
    }
}

struct Irq {
    bar: Arc<Devres<Bar>>,
    work: Arc<Devres<BoundWork<Unmap>>>,
}

impl Irq {
    /// Maps a buffer in hard interrupt context; `None` if something failed.
    fn map_atomic(dev: &Device<Bound>) -> Option<KBox<StreamingMapping<u8>>> {
        let buf = KVec::from_elem(FILL, LEN, GFP_ATOMIC).ok()?;
        let mapped = StreamingMapping::map_with(dev, buf, DataDirection::ToDevice, GFP_ATOMIC);
        KBox::new(mapped.ok()?, GFP_ATOMIC).ok()
    }
}

impl ThreadedHandler for Irq {
    fn handle(&self, dev: &Device<Bound>) -> ThreadedIrqReturn {
        // Hard interrupt context: MMIO through the bound device, no lock.
        if !ack(&self.bar, dev) {
            return ThreadedIrqReturn::None;
        }
        let id = self.bar.access(dev).map(|bar| bar.read32::<0>());
        probe_check!(CHECKS, id == Ok(EDU_ID));
        probe_check!(CHECKS, dev.drvdata::<CtxDriver>().is_ok());
        // A DMA mapping made here, handed to the work (a mapping must not be dropped here).
        if HANDOFF.load(SeqCst).is_null() {
            match Self::map_atomic(dev) {
                Some(mapped) => {
                    HANDOFF.store(KBox::into_raw(mapped), SeqCst);
                    HARD_MAPPED.fetch_add(1, SeqCst);
                }
                None => probe_check!(CHECKS, false),
            }
        }
        if let Ok(work) = self.work.access(dev) {
            work.queue();
        }
        ThreadedIrqReturn::WakeThread
    }

    fn handle_threaded(&self, dev: &Device<Bound>) -> IrqReturn {
        // Process context: map and unmap with sleeping allocations.
        probe_check!(CHECKS, dev.drvdata::<CtxDriver>().is_ok());
        let mapped = KVec::from_elem(0u8, LEN, GFP_KERNEL)
            .map_err(Error::from)
            .and_then(|buf| StreamingMapping::map(dev, buf, DataDirection::FromDevice));
        probe_check!(CHECKS, mapped.is_ok());
        if let Ok(mapped) = mapped {
            msleep(1);
            drop(mapped.unmap());
            THREAD_MAPPED.fetch_add(1, SeqCst);
        }
        IrqReturn::Handled
    }
}

fn setup(pdev: &pci::Device<Core>) -> Result<Devres<Registration<Irq>>> {
    let dev: &Device<Bound> = pdev.as_ref();
    pdev.enable_device_mem()?;
    pdev.set_master();
    let bar = Arc::new(
        pdev.iomap_region_sized::<0x100>(0, c_str!("rust-irq-contexts"))?,
        GFP_KERNEL,
    )?;
    let vectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI)?;
    let work = Arc::new(BoundWork::new(dev, Unmap, GFP_KERNEL)?, GFP_KERNEL)?;
    let irq = Irq {
        bar: bar.clone(),
        work,
    };
    let reg = Registration::new_threaded(
        dev,
        vectors.vector(dev, 0)?,
        Flags::ONESHOT,
        c_str!("rust-irq-contexts"),
        irq,
    )?;
    CASE_BAR.put(bar);
    Ok(reg)
}

impl pci::Driver for CtxDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        PDEV.keep_first(pdev);
        let dev: &Device<Core> = pdev.as_ref();
        let irq = if PDEV.dev() == dev.as_raw() {
            let reg = setup(pdev).inspect_err(|e| {
                crate::pr_err!("irq contexts test probe: {:?}\n", e);
                probe_check!(CHECKS, false);
            })?;
            Some(reg)
        } else {
            None
        };
        Ok(KBox::pin(CtxDriver { _irq: irq }, GFP_KERNEL)?)
    }
}

/// Waits up to two seconds for `count` to reach `want`.
fn wait_for(count: &AtomicUsize, want: usize) -> bool {
    for _ in 0..2000 {
        if count.load(SeqCst) >= want {
            return true;
        }
        msleep(1);
    }
    false
}

/// Each interrupt: the hard handler reads the device and maps a buffer with `GFP_ATOMIC`, the
/// thread maps and unmaps one with `GFP_KERNEL`, the work takes the hard handler's buffer back
/// and unmaps it; all of them reach the driver data.
fn mapping_in_every_context(test: &mut Test) {
    CHECKS.reset();
    for c in [&HARD_MAPPED, &THREAD_MAPPED, &WORK_UNMAPPED] {
        c.store(0, SeqCst);
    }
    let Some(reg) = register_or_fail::<CtxDriver>(test, c_str!("rust_irq_contexts_test")) else {
        return;
    };
    let bar = CASE_BAR.take();
    crate::kunit_expect!(test, bar.is_some());
    if let Some(bar) = &bar {
        for i in 0..RAISES {
            // From a task with no bound device: through RCU.
            bar.try_access_with(|b| b.write32::<EDU_IRQ_RAISE>(1));
            crate::kunit_expect!(test, wait_for(&THREAD_MAPPED, i + 1));
            crate::kunit_expect!(test, wait_for(&WORK_UNMAPPED, i + 1));
        }
    }
    drop(bar);
    PDEV.unbind();
    drop(reg);
    let left = HANDOFF.swap(core::ptr::null_mut(), SeqCst);
    crate::kunit_expect!(test, left.is_null());
    PDEV.put();
    crate::kunit_expect_eq!(test, HARD_MAPPED.load(SeqCst), RAISES);
    crate::kunit_expect_eq!(test, THREAD_MAPPED.load(SeqCst), RAISES);
    crate::kunit_expect_eq!(test, WORK_UNMAPPED.load(SeqCst), RAISES);
    // Per interrupt: two in the hard handler, two in the thread, two in the work.
    CHECKS.report(test, 6 * RAISES);
}

crate::kunit_suite!(rust_irq_contexts, [mapping_in_every_context]);
