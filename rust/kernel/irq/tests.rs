// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for interrupt handlers and PCI vectors, on QEMU's `edu` devices.
//!
//! The edu device raises an interrupt when its raise register (0x60) is written, sets the value
//! in its status register (0x24) and keeps the interrupt asserted until the bits are written to
//! its acknowledge register (0x64); it signals through MSI once MSI is enabled. The test driver
//! allocates one MSI vector, registers a handler that reads the status and acknowledges it
//! through the BAR's `Devres` with the bound device it is given (no RCU, no lock), raises
//! interrupts and waits for them; then does the same with a threaded handler, whose thread
//! sleeps. Every bad input is checked to return its error.

use super::{
    pci::{IrqType, IrqTypes, IrqVectors},
    work::{BoundWork, WorkHandler},
    Flags, Handler, Irq, IrqReturn, Registration, ThreadedHandler, ThreadedIrqReturn,
};
use crate::{
    c_str,
    delay::msleep,
    device::{Bound, Core, Device},
    devres::Devres,
    error::code::*,
    kunit::Test,
    pci::{
        self,
        testing::{probe_check, register_or_fail, ArcSlot, Checks, DevRef, EDU, EDU_ID},
    },
    prelude::*,
    sync::Arc,
};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};

const EDU_IRQ_STATUS: usize = 0x24;
/// Writing here raises an interrupt (the value is or-ed into the status).
pub(super) const EDU_IRQ_RAISE: usize = 0x60;
const EDU_IRQ_ACK: usize = 0x64;
/// How many interrupts each handler is sent.
const RAISES: usize = 8;

/// The part of edu's BAR 0 the interrupt suites map.
pub(super) type Bar = pci::Bar<0x100>;

static CHECKS: Checks = Checks::new();
static PROBES: AtomicUsize = AtomicUsize::new(0);
static HARD: AtomicUsize = AtomicUsize::new(0);
static THREAD: AtomicUsize = AtomicUsize::new(0);
/// Handlers dropped (their registration freed).
static DROPPED: AtomicUsize = AtomicUsize::new(0);
/// A line kept from the first binding, for the next one to try (from `KBox::into_raw`).
static STALE: AtomicPtr<Irq> = AtomicPtr::new(core::ptr::null_mut());
static PDEV: DevRef = DevRef::new();

macro_rules! check {
    ($cond:expr) => {
        probe_check!(CHECKS, $cond)
    };
}

/// Acknowledges what edu's status holds, through the BAR and the bound device; `false` if it
/// held nothing (another device's interrupt on a shared line).
pub(super) fn ack(bar: &Devres<Bar>, dev: &Device<Bound>) -> bool {
    let Ok(bar) = bar.access(dev) else {
        return false;
    };
    let status = bar.read32::<EDU_IRQ_STATUS>();
    if status == 0 {
        return false;
    }
    bar.write32::<EDU_IRQ_ACK>(status);
    true
}

struct Hard {
    bar: Devres<Bar>,
}

impl Handler for Hard {
    fn handle(&self, dev: &Device<Bound>) -> IrqReturn {
        if !ack(&self.bar, dev) {
            return IrqReturn::None;
        }
        HARD.fetch_add(1, SeqCst);
        IrqReturn::Handled
    }
}

impl Drop for Hard {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, SeqCst);
    }
}

struct Threaded {
    bar: Devres<Bar>,
}

impl ThreadedHandler for Threaded {
    fn handle(&self, dev: &Device<Bound>) -> ThreadedIrqReturn {
        if !ack(&self.bar, dev) {
            return ThreadedIrqReturn::None;
        }
        ThreadedIrqReturn::WakeThread
    }

    fn handle_threaded(&self, _dev: &Device<Bound>) -> IrqReturn {
        // Process context: sleeping is allowed here.
        msleep(1);
        THREAD.fetch_add(1, SeqCst);
        IrqReturn::Handled
    }
}

impl Drop for Threaded {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, SeqCst);
    }
}

/// Raises `RAISES` interrupts through `bar` and waits until `count` has seen them all.
fn raise_and_wait(bar: &Bar, count: &AtomicUsize) -> bool {
    let start = count.load(SeqCst);
    for i in 0..RAISES {
        bar.write32::<EDU_IRQ_RAISE>(1);
        let mut waited = 0;
        while count.load(SeqCst) < start + i + 1 {
            if waited == 1000 {
                return false;
            }
            msleep(1);
            waited += 1;
        }
    }
    true
}

fn bar(pdev: &pci::Device<Core>) -> Result<Devres<Bar>> {
    pdev.iomap_region_sized::<0x100>(0, c_str!("rust-irq-test"))
}

/// A handler for the checks that never see an interrupt.
struct Quiet;

impl Handler for Quiet {
    fn handle(&self, _dev: &Device<Bound>) -> IrqReturn {
        IrqReturn::None
    }
}

fn warned() -> bool {
    // SAFETY: Reads a flag of the global taint mask.
    unsafe { crate::bindings::test_taint(crate::bindings::TAINT_WARN) != 0 }
}

/// Bad allocations and lines, each refused before the C code sees them or by it, with its
/// error and without a warning; the vectors are freed again when dropped.
fn bad_inputs(pdev: &pci::Device<Core>) -> Result {
    let warned_before = warned();
    let r = bad_input_checks(pdev);
    // Nothing can be told if the kernel had warned before.
    check!(!warned_before && !warned());
    r
}

fn bad_input_checks(pdev: &pci::Device<Core>) -> Result {
    let dev: &Device<Bound> = pdev.as_ref();
    check!(pdev.alloc_irq_vectors(0, 1, IrqTypes::MSI).err() == Some(EINVAL));
    check!(pdev.alloc_irq_vectors(2, 1, IrqTypes::MSI).err() == Some(EINVAL));
    // edu has no MSI-X capability.
    check!(pdev.alloc_irq_vectors(1, 1, IrqTypes::MSIX).err() == Some(EINVAL));
    // The driver data: not there during probe, and of the driver's type only.
    check!(dev.drvdata::<TestDriver>().err() == Some(ENOENT));
    check!(dev.drvdata::<Quiet>().err() == Some(EINVAL));

    let vectors: IrqVectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI)?;
    check!(vectors.count() == 1 && vectors.kind() == Some(IrqType::Msi));
    // A second allocation while the first exists.
    check!(pdev.alloc_irq_vectors(1, 1, IrqTypes::ALL).err() == Some(EBUSY));
    check!(vectors.vector(dev, 1).err() == Some(EINVAL));

    // A line of the first binding, kept past its unbind, is refused by the next one.
    let stale = STALE.swap(core::ptr::null_mut(), SeqCst);
    if !stale.is_null() {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        let stale = KBox::into_inner(unsafe { KBox::from_raw(stale) });
        let reg = Registration::new(dev, stale, Flags::NONE, c_str!("rust-irq-test"), Quiet);
        check!(reg.err() == Some(EINVAL));
    }
    Ok(())
}

/// The handlers: hard, then threaded, each sent interrupts; enable and disable.
fn handler_checks(pdev: &pci::Device<Core>, vectors: &IrqVectors) -> Result {
    let dev: &Device<Bound> = pdev.as_ref();
    let hard = Registration::new(
        dev,
        vectors.vector(dev, 0)?,
        Flags::NONE,
        c_str!("rust-irq-test"),
        Hard { bar: bar(pdev)? },
    )?;
    {
        let reg = hard.access(dev)?;
        let bar = reg.handler().bar.access(dev)?;
        check!(raise_and_wait(bar, &HARD));
        // Enable without a disable is refused; a disable and an enable pair up.
        check!(reg.enable().err() == Some(EINVAL));
        reg.disable();
        check!(reg.enable().is_ok());
        check!(reg.enable().err() == Some(EINVAL));
        check!(raise_and_wait(bar, &HARD));
        reg.synchronize();
    }
    let dropped = DROPPED.load(SeqCst);
    drop(hard);
    check!(DROPPED.load(SeqCst) == dropped + 1);

    // A threaded handler on the same vector, whose thread sleeps.
    let threaded = Registration::new_threaded(
        dev,
        vectors.vector(dev, 0)?,
        Flags::ONESHOT,
        c_str!("rust-irq-test"),
        Threaded { bar: bar(pdev)? },
    )?;
    {
        let reg = threaded.access(dev)?;
        let bar = reg.handler().bar.access(dev)?;
        check!(raise_and_wait(bar, &THREAD));
    }
    // Left registered, and leaked: freed at unbind, before the vectors.
    core::mem::forget(threaded);
    // Kept past the unbind, for the next binding to try.
    let kept = KBox::new(vectors.vector(dev, 0)?, GFP_KERNEL)?;
    let old = STALE.swap(KBox::into_raw(kept), SeqCst);
    if !old.is_null() {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        drop(unsafe { KBox::from_raw(old) });
    }
    Ok(())
}

struct TestDriver {
    _vectors: Option<IrqVectors>,
}

impl pci::Driver for TestDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        PDEV.keep_first(pdev);
        let dev: &Device<Core> = pdev.as_ref();
        // The checks use the first device; the others bind without them.
        if PDEV.dev() != dev.as_raw() {
            return Ok(KBox::pin(TestDriver { _vectors: None }, GFP_KERNEL)?);
        }
        let r = pdev
            .enable_device_mem()
            .and_then(|()| {
                // An MSI is a write of the device's: it needs bus mastering.
                pdev.set_master();
                bad_inputs(pdev)
            })
            .and_then(|()| {
                // The vectors of `bad_inputs` were freed: these are new.
                let vectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI)?;
                handler_checks(pdev, &vectors)?;
                Ok(vectors)
            });
        match r {
            Ok(vectors) => Ok(KBox::pin(
                TestDriver {
                    _vectors: Some(vectors),
                },
                GFP_KERNEL,
            )?),
            Err(e) => {
                crate::pr_err!("irq test probe: {:?}\n", e);
                check!(false);
                Err(e)
            }
        }
    }
}

/// Handlers run and see the bound device, hard and threaded; bad inputs return their errors;
/// a leaked registration is freed at unbind; a line of an earlier binding is refused.
fn handlers_and_vectors(test: &mut Test) {
    CHECKS.reset();
    for c in [&PROBES, &HARD, &THREAD, &DROPPED] {
        c.store(0, SeqCst);
    }
    let Some(reg) = register_or_fail::<TestDriver>(test, c_str!("rust_irq_test")) else {
        return;
    };
    crate::kunit_expect!(test, !PDEV.dev().is_null());
    // The leaked threaded registration goes at unbind.
    let dropped = DROPPED.load(SeqCst);
    PDEV.unbind();
    crate::kunit_expect_eq!(test, DROPPED.load(SeqCst), dropped + 1);
    // The next binding refuses the line kept from this one.
    crate::kunit_expect_eq!(test, PDEV.bind(), 1);
    drop(reg);
    let stale = STALE.swap(core::ptr::null_mut(), SeqCst);
    if !stale.is_null() {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        drop(unsafe { KBox::from_raw(stale) });
    }
    PDEV.put();
    crate::kunit_expect!(test, HARD.load(SeqCst) >= 4 * RAISES);
    crate::kunit_expect!(test, THREAD.load(SeqCst) >= 2 * RAISES);
    // 16 checks per binding, and the stale line in the second.
    CHECKS.report(test, 2 * 16 + 1);
    crate::pr_info!(
        "rust_irq: {} hard and {} threaded interrupts handled\n",
        HARD.load(SeqCst),
        THREAD.load(SeqCst)
    );
}

// Bound work, queued by an interrupt handler and by the case, and released at unbind while it
// runs.

static WORK_CHECKS: Checks = Checks::new();
static WORK_STARTED: AtomicUsize = AtomicUsize::new(0);
static WORK_FINISHED: AtomicUsize = AtomicUsize::new(0);
/// The work of the first binding, for the case.
static KEPT_WORK: ArcSlot<Devres<BoundWork<Slow>>> = ArcSlot::new();
static WORK_PDEV: DevRef = DevRef::new();
/// How long a run of [`Slow`] takes.
const SLOW_MS: u32 = 100;

/// A work function that uses the BAR with the bound device and takes [`SLOW_MS`].
struct Slow {
    bar: Arc<Devres<Bar>>,
}

impl WorkHandler for Slow {
    fn run(&self, dev: &Device<Bound>) {
        WORK_STARTED.fetch_add(1, SeqCst);
        let id = self.bar.access(dev).map(|bar| bar.read32::<0>());
        probe_check!(WORK_CHECKS, id == Ok(EDU_ID));
        msleep(SLOW_MS);
        WORK_FINISHED.fetch_add(1, SeqCst);
    }
}

/// An interrupt handler that acknowledges and queues the work.
struct Kick {
    bar: Arc<Devres<Bar>>,
    work: Arc<Devres<BoundWork<Slow>>>,
}

impl Handler for Kick {
    fn handle(&self, dev: &Device<Bound>) -> IrqReturn {
        if !ack(&self.bar, dev) {
            return IrqReturn::None;
        }
        if let Ok(work) = self.work.access(dev) {
            work.queue();
        }
        IrqReturn::Handled
    }
}

struct WorkDriver {
    _vectors: Option<IrqVectors>,
    _irq: Option<Devres<Registration<Kick>>>,
}

impl WorkDriver {
    fn setup(pdev: &pci::Device<Core>) -> Result<Pin<KBox<Self>>> {
        let dev: &Device<Bound> = pdev.as_ref();
        pdev.enable_device_mem()?;
        pdev.set_master();
        let bar = Arc::new(bar(pdev)?, GFP_KERNEL)?;
        let vectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI)?;
        // Before the registration whose handler queues it: released after it at unbind.
        let slow = Slow { bar: bar.clone() };
        let work = Arc::new(BoundWork::new(dev, slow, GFP_KERNEL)?, GFP_KERNEL)?;
        let kick = Kick {
            bar: bar.clone(),
            work: work.clone(),
        };
        let line = vectors.vector(dev, 0)?;
        let irq = Registration::new(dev, line, Flags::NONE, c_str!("rust-irq-work"), kick)?;
        // An interrupt queues the work, which runs with the bound device.
        bar.access(dev)?.write32::<EDU_IRQ_RAISE>(1);
        let mut waited = 0;
        while WORK_FINISHED.load(SeqCst) == 0 && waited < 2000 {
            msleep(1);
            waited += 1;
        }
        probe_check!(WORK_CHECKS, WORK_FINISHED.load(SeqCst) == 1);
        KEPT_WORK.put(work);
        Ok(KBox::pin(
            WorkDriver {
                _vectors: Some(vectors),
                _irq: Some(irq),
            },
            GFP_KERNEL,
        )?)
    }
}

impl pci::Driver for WorkDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        WORK_PDEV.keep_first(pdev);
        let dev: &Device<Core> = pdev.as_ref();
        if WORK_PDEV.dev() != dev.as_raw() {
            return Ok(KBox::pin(
                WorkDriver {
                    _vectors: None,
                    _irq: None,
                },
                GFP_KERNEL,
            )?);
        }
        Self::setup(pdev).inspect_err(|e| {
            crate::pr_err!("irq work test probe: {:?}\n", e);
            probe_check!(WORK_CHECKS, false);
        })
    }
}

/// An interrupt handler queues bound work, which runs with the bound device; a run in progress
/// when the device unbinds has finished when the unbind returns, and none starts after it.
fn bound_work_at_unbind(test: &mut Test) {
    WORK_CHECKS.reset();
    WORK_STARTED.store(0, SeqCst);
    WORK_FINISHED.store(0, SeqCst);
    let Some(reg) = register_or_fail::<WorkDriver>(test, c_str!("rust_irq_work_test")) else {
        return;
    };
    let work = KEPT_WORK.take();
    crate::kunit_expect!(test, work.is_some());
    if let Some(work) = &work {
        // Queued from a task that holds no bound device: through RCU.
        crate::kunit_expect_eq!(test, work.try_access_with(|w| w.queue()), Some(true));
        let mut waited = 0;
        while WORK_STARTED.load(SeqCst) < 2 && waited < 2000 {
            msleep(1);
            waited += 1;
        }
        crate::kunit_expect_eq!(test, WORK_STARTED.load(SeqCst), 2);
        // The second run sleeps for `SLOW_MS`: the unbind releases the work meanwhile.
        WORK_PDEV.unbind();
        crate::kunit_expect_eq!(test, WORK_FINISHED.load(SeqCst), 2);
        // Released: it can not be queued, and no run starts later.
        crate::kunit_expect!(test, work.try_access().is_none());
        msleep(2 * SLOW_MS);
        crate::kunit_expect_eq!(test, WORK_STARTED.load(SeqCst), 2);
    }
    drop(work);
    drop(reg);
    drop(KEPT_WORK.take());
    WORK_PDEV.put();
    WORK_CHECKS.report(test, 3);
}

crate::kunit_suite!(rust_irq, [handlers_and_vectors, bound_work_at_unbind]);
