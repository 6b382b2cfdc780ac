// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the driver data on the data path, and for interrupts that race the unbind.
//!
//! The test driver binds to QEMU's `edu` device and takes its MSI vector with a threaded handler:
//! the hard part acknowledges, the thread reads the driver's data through
//! [`Device::drvdata`] (typed: asking for another type is refused), sleeps a little, reads it
//! again and queues a bound work, which reads it too. A kernel thread raises interrupts without
//! pause while the case unbinds and rebinds the device, hundreds of times. Every other binding
//! leaks its registration (`mem::forget`), so that the line is freed only when the device's
//! managed resources are released, after `remove` has returned: the driver data must outlive
//! that, and it does, being dropped last. A handler or work that runs after the data was
//! dropped, or finds it of the wrong type or not its own, counts as a failure; under KASAN a use
//! of dropped data is also a report. The thread also holds a managed resource made after the
//! registration, which the unbind releases before it frees the line: the bus must have stopped
//! the handlers before any release, so that no release comes while a thread function holds it.
//! Delayed bound work runs after its delay, and is cancelled at unbind while its delay runs.

use super::{
    pci::IrqTypes,
    tests::{ack, Bar, EDU_IRQ_RAISE},
    work::{BoundWork, WorkHandler},
    Flags, IrqReturn, Registration, ThreadedHandler, ThreadedIrqReturn,
};
use crate::{
    bindings, c_str,
    delay::msleep,
    device::{Bound, Core, Device},
    devres::Devres,
    error::code::*,
    kunit::{thread, Test},
    new_mutex,
    pci::{
        self,
        testing::{probe_check, register_or_fail, ArcSlot, Checks, DevRef, EDU},
    },
    prelude::*,
    sync::{Arc, Mutex},
};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};

/// Unbind and bind cycles of the race case.
const CYCLES: usize = 200;
/// What the driver data holds, to tell it from freed or foreign memory.
const MAGIC: u32 = 0x5eed_da7a;

/// The BAR of the current binding, for the raising thread (which has no bound device).
type BarSlot = Mutex<Option<Arc<Devres<Bar>>>>;
/// A managed resource made after the registration, for its handler.
type LateSlot = Mutex<Option<Arc<Devres<Late>>>>;

static CHECKS: Checks = Checks::new();
static PDEV: DevRef = DevRef::new();
/// The case's slot, while it runs (from `Arc::into_raw`).
static SLOT: AtomicPtr<BarSlot> = AtomicPtr::new(core::ptr::null_mut());
/// Set in probe before the interrupt is requested; cleared when the driver data is dropped.
static BOUND: AtomicBool = AtomicBool::new(false);
/// Set while `remove` runs.
static REMOVING: AtomicBool = AtomicBool::new(false);
/// Thread-function runs: with the data, during probe (no data yet), during `remove`, after the
/// data was dropped, and with a wrong or missing answer.
static WITH_DATA: AtomicUsize = AtomicUsize::new(0);
static IN_PROBE: AtomicUsize = AtomicUsize::new(0);
static IN_REMOVE: AtomicUsize = AtomicUsize::new(0);
static LATE: AtomicUsize = AtomicUsize::new(0);
static BAD: AtomicUsize = AtomicUsize::new(0);
/// Bound-work runs that found the data.
static WORK_RUNS: AtomicUsize = AtomicUsize::new(0);
/// Interrupts raised by the thread, and driver data dropped.
static RAISED: AtomicUsize = AtomicUsize::new(0);
static DROPS: AtomicUsize = AtomicUsize::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
/// Thread functions inside an access to their [`Late`] resource, and releases of one that came
/// while a thread function was inside.
static IN_LATE: AtomicUsize = AtomicUsize::new(0);
static LATE_RELEASED_UNDER: AtomicUsize = AtomicUsize::new(0);
static LATE_ACCESSES: AtomicUsize = AtomicUsize::new(0);
/// Set when the binding's [`Late`] resource is released (the bus has stopped the handlers), and
/// handler calls that came after.
static LATE_GONE: AtomicBool = AtomicBool::new(false);
static AFTER_STOP: AtomicUsize = AtomicUsize::new(0);

/// A managed resource of the binding made after its interrupt registration: at unbind it is
/// released before the registration is freed, so the bus must have stopped the handler first.
struct Late;

impl Drop for Late {
    fn drop(&mut self) {
        LATE_GONE.store(true, SeqCst);
        if IN_LATE.load(SeqCst) != 0 {
            LATE_RELEASED_UNDER.fetch_add(1, SeqCst);
        }
    }
}

struct RaceDriver {
    magic: u32,
    /// Whether this is the binding of the device the case cycles.
    first: bool,
    handled: AtomicUsize,
    _irq: Option<Devres<Registration<Irq>>>,
}

impl Drop for RaceDriver {
    fn drop(&mut self) {
        // After every handler and work of the binding: the line and the work were released
        // before.
        if self.first {
            BOUND.store(false, SeqCst);
            DROPS.fetch_add(1, SeqCst);
        }
    }
}

/// Reads the driver data as a handler or work does; counts what it found.
fn look(dev: &Device<Bound>) -> Option<Pin<&RaceDriver>> {
    if !BOUND.load(SeqCst) {
        LATE.fetch_add(1, SeqCst);
    }
    // Another type than the driver's is refused.
    if dev.drvdata::<Irq>().err() != Some(EINVAL) {
        BAD.fetch_add(1, SeqCst);
    }
    match dev.drvdata::<RaceDriver>() {
        Ok(data) if data.magic == MAGIC => Some(data),
        Err(e) if e == ENOENT => {
            IN_PROBE.fetch_add(1, SeqCst);
            None
        }
        _ => {
            BAD.fetch_add(1, SeqCst);
            None
        }
    }
}

struct Work;

impl WorkHandler for Work {
    fn run(&self, dev: &Device<Bound>) {
        if look(dev).is_some() {
            WORK_RUNS.fetch_add(1, SeqCst);
        }
    }
}

struct Irq {
    bar: Arc<Devres<Bar>>,
    work: Arc<Devres<BoundWork<Work>>>,
    late: Arc<LateSlot>,
}

impl ThreadedHandler for Irq {
    fn handle(&self, dev: &Device<Bound>) -> ThreadedIrqReturn {
        if LATE_GONE.load(SeqCst) {
            AFTER_STOP.fetch_add(1, SeqCst);
        }
        if !ack(&self.bar, dev) {
            return ThreadedIrqReturn::None;
        }
        ThreadedIrqReturn::WakeThread
    }

    fn handle_threaded(&self, dev: &Device<Bound>) -> IrqReturn {
        if LATE_GONE.load(SeqCst) {
            AFTER_STOP.fetch_add(1, SeqCst);
        }
        let removing = REMOVING.load(SeqCst);
        let first = look(dev).is_some();
        let late = self.late.lock().clone();
        let late = late.as_ref().and_then(|l| l.access(dev).ok());
        if late.is_some() {
            IN_LATE.fetch_add(1, SeqCst);
            LATE_ACCESSES.fetch_add(1, SeqCst);
        }
        // Sleep with the data and the late resource borrowed, so that an unbind overtakes the
        // thread.
        msleep(1);
        if late.is_some() {
            IN_LATE.fetch_sub(1, SeqCst);
        }
        if let Some(data) = look(dev) {
            data.handled.fetch_add(1, SeqCst);
            WITH_DATA.fetch_add(1, SeqCst);
            if removing {
                IN_REMOVE.fetch_add(1, SeqCst);
            }
        } else if first {
            // Found before the sleep, gone after it.
            BAD.fetch_add(1, SeqCst);
        }
        if let Ok(work) = self.work.access(dev) {
            work.queue();
        }
        IrqReturn::Handled
    }
}

fn setup(pdev: &pci::Device<Core>, keep: bool) -> Result<Option<Devres<Registration<Irq>>>> {
    let dev: &Device<Bound> = pdev.as_ref();
    // In probe, the driver's value does not exist yet.
    probe_check!(CHECKS, dev.drvdata::<RaceDriver>().err() == Some(ENOENT));
    pdev.enable_device_mem()?;
    pdev.set_master();
    let bar = Arc::new(
        pdev.iomap_region_sized::<0x100>(0, c_str!("rust-irq-unbind"))?,
        GFP_KERNEL,
    )?;
    let vectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI)?;
    let work = Arc::new(BoundWork::new(dev, Work, GFP_KERNEL)?, GFP_KERNEL)?;
    BOUND.store(true, SeqCst);
    LATE_GONE.store(false, SeqCst);
    let late = Arc::pin_init(new_mutex!(None), GFP_KERNEL)?;
    let irq = Irq {
        bar: bar.clone(),
        work,
        late: late.clone(),
    };
    let line = vectors.vector(dev, 0)?;
    let reg =
        Registration::new_threaded(dev, line, Flags::ONESHOT, c_str!("rust-irq-unbind"), irq)?;
    // Made after the registration: released before it at unbind.
    *late.lock() = Some(Arc::new(Devres::new(dev, Late, GFP_KERNEL)?, GFP_KERNEL)?);
    let slot = SLOT.load(SeqCst);
    if !slot.is_null() {
        // SAFETY: The case keeps the slot alive while the driver is registered.
        *unsafe { &*slot }.lock() = Some(bar);
    }
    if keep {
        Ok(Some(reg))
    } else {
        // Freed at unbind, after `remove`, with the device's managed resources.
        core::mem::forget(reg);
        Ok(None)
    }
}

impl pci::Driver for RaceDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        PDEV.keep_first(pdev);
        let dev: &Device<Core> = pdev.as_ref();
        let first = PDEV.dev() == dev.as_raw();
        let irq = if first {
            // Every other binding leaks its registration.
            let keep = DROPS.load(SeqCst) % 2 == 0;
            setup(pdev, keep).inspect_err(|e| {
                crate::pr_err!("irq unbind test probe: {:?}\n", e);
                probe_check!(CHECKS, false);
            })?
        } else {
            None
        };
        Ok(KBox::pin(
            RaceDriver {
                magic: MAGIC,
                first,
                handled: AtomicUsize::new(0),
                _irq: irq,
            },
            GFP_KERNEL,
        )?)
    }

    fn remove(pdev: &pci::Device<Core>, this: Pin<&Self>) {
        let dev: &Device<Core> = pdev.as_ref();
        if PDEV.dev() != dev.as_raw() {
            return;
        }
        // The driver data is this binding's, also from `remove`.
        let same = dev
            .drvdata::<RaceDriver>()
            .is_ok_and(|d| core::ptr::eq(&*d, &*this));
        probe_check!(CHECKS, same);
        // Interrupts keep coming while `remove` runs (bus mastering goes off when it returns).
        REMOVING.store(true, SeqCst);
        msleep(1);
        REMOVING.store(false, SeqCst);
    }
}

/// Raises interrupts through the current binding's BAR until told to stop.
fn raise(slot: Arc<BarSlot>) {
    while !STOP.load(SeqCst) {
        let bar = slot.lock().clone();
        if let Some(bar) = bar {
            for _ in 0..4 {
                if bar
                    .try_access_with(|b| b.write32::<EDU_IRQ_RAISE>(1))
                    .is_some()
                {
                    RAISED.fetch_add(1, SeqCst);
                }
            }
        }
        // A pause between bursts, so that the unbind still gets the processors.
        msleep(1);
    }
}

/// Interrupts raised without pause while the device is unbound and bound [`CYCLES`] times:
/// the threaded handler and the bound work find the binding's driver data, typed, every time;
/// none runs after it was dropped, also when the registration was leaked; the data is dropped
/// once per binding.
fn interrupts_race_unbind(test: &mut Test) {
    CHECKS.reset();
    for c in [
        &WITH_DATA,
        &IN_PROBE,
        &IN_REMOVE,
        &LATE,
        &BAD,
        &WORK_RUNS,
        &RAISED,
        &DROPS,
        &IN_LATE,
        &LATE_RELEASED_UNDER,
        &LATE_ACCESSES,
        &AFTER_STOP,
    ] {
        c.store(0, SeqCst);
    }
    STOP.store(false, SeqCst);
    let Ok(slot) = Arc::pin_init(new_mutex!(None), GFP_KERNEL) else {
        crate::kunit_expect!(test, false);
        return;
    };
    let slot: Arc<BarSlot> = slot;
    SLOT.store(core::ptr::from_ref::<BarSlot>(&slot).cast_mut(), SeqCst);
    let Some(reg) = register_or_fail::<RaceDriver>(test, c_str!("rust_irq_unbind_test")) else {
        SLOT.store(core::ptr::null_mut(), SeqCst);
        return;
    };
    let raiser = {
        let slot = slot.clone();
        thread::spawn(move || raise(slot))
    };
    crate::kunit_expect!(test, raiser.is_ok());
    let mut bound = 0;
    for _ in 0..CYCLES {
        PDEV.unbind();
        bound += PDEV.bind();
    }
    STOP.store(true, SeqCst);
    if let Ok(raiser) = raiser {
        raiser.join();
    }
    drop(reg);
    SLOT.store(core::ptr::null_mut(), SeqCst);
    *slot.lock() = None;
    PDEV.put();

    crate::kunit_expect_eq!(test, bound, CYCLES as i32);
    crate::kunit_expect_eq!(test, LATE.load(SeqCst), 0);
    crate::kunit_expect_eq!(test, BAD.load(SeqCst), 0);
    // A resource made after the registration was never released under its handler.
    crate::kunit_expect_eq!(test, LATE_RELEASED_UNDER.load(SeqCst), 0);
    crate::kunit_expect!(test, LATE_ACCESSES.load(SeqCst) > 0);
    // No handler ran after the bus stopped the binding (its release of `Late` came after).
    crate::kunit_expect_eq!(test, AFTER_STOP.load(SeqCst), 0);
    crate::kunit_expect!(test, WITH_DATA.load(SeqCst) > 0);
    crate::kunit_expect!(test, WORK_RUNS.load(SeqCst) > 0);
    // The race was run: handlers ran while `remove` did.
    crate::kunit_expect!(test, IN_REMOVE.load(SeqCst) > 0);
    crate::kunit_expect!(test, DROPS.load(SeqCst) > CYCLES);
    // One check per probe and per remove of the first device.
    CHECKS.report(test, 2 * (CYCLES + 1));
    crate::pr_info!(
        "rust_irq_unbind: {} cycles, {} raised, {} thread runs with the data ({} during remove, {} during probe), {} work runs, {} late, {} bad, {} of {} accesses of a later resource released under them, {} handler calls after the stop\n",
        CYCLES,
        RAISED.load(SeqCst),
        WITH_DATA.load(SeqCst),
        IN_REMOVE.load(SeqCst),
        IN_PROBE.load(SeqCst),
        WORK_RUNS.load(SeqCst),
        LATE.load(SeqCst),
        BAD.load(SeqCst),
        LATE_RELEASED_UNDER.load(SeqCst),
        LATE_ACCESSES.load(SeqCst),
        AFTER_STOP.load(SeqCst)
    );
}

// Delayed bound work: runs after its delay with the driver data; pending at unbind, it is
// cancelled, without waiting for the delay.

static DELAY_CHECKS: Checks = Checks::new();
static DELAY_PDEV: DevRef = DevRef::new();
static TICKS: AtomicUsize = AtomicUsize::new(0);
/// The work of the first binding, for the case.
static DELAYED: ArcSlot<Devres<BoundWork<Tick>>> = ArcSlot::new();

struct Tick;

impl WorkHandler for Tick {
    fn run(&self, dev: &Device<Bound>) {
        probe_check!(DELAY_CHECKS, dev.drvdata::<DelayDriver>().is_ok());
        TICKS.fetch_add(1, SeqCst);
    }
}

struct DelayDriver;

impl pci::Driver for DelayDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        DELAY_PDEV.keep_first(pdev);
        let dev: &Device<Core> = pdev.as_ref();
        if DELAY_PDEV.dev() == dev.as_raw() {
            let work = Arc::new(BoundWork::new(dev, Tick, GFP_KERNEL)?, GFP_KERNEL)?;
            DELAYED.put(work);
        }
        Ok(KBox::pin(DelayDriver, GFP_KERNEL)?)
    }
}

/// Returns the monotonic clock, in milliseconds.
fn now_ms() -> i64 {
    // SAFETY: `ktime_get()` may be called in any context once timekeeping runs.
    unsafe { bindings::ktime_get() / 1_000_000 }
}

/// Delayed bound work runs after its delay, with the driver data; queued again with a minute's
/// delay, it is pending at unbind, which cancels it at once: it never runs, and can not be
/// queued again.
fn delayed_work_at_unbind(test: &mut Test) {
    DELAY_CHECKS.reset();
    TICKS.store(0, SeqCst);
    let Some(reg) = register_or_fail::<DelayDriver>(test, c_str!("rust_irq_delay_test")) else {
        return;
    };
    let work = DELAYED.take();
    crate::kunit_expect!(test, work.is_some());
    if let Some(work) = &work {
        let start = now_ms();
        crate::kunit_expect_eq!(
            test,
            work.try_access_with(|w| w.queue_after(20)),
            Some(true)
        );
        let mut waited = 0;
        while TICKS.load(SeqCst) == 0 && waited < 2000 {
            msleep(1);
            waited += 1;
        }
        crate::kunit_expect_eq!(test, TICKS.load(SeqCst), 1);
        crate::kunit_expect!(test, now_ms() - start >= 20);
        // Pending for a minute: queueing it again, at once or later, is refused.
        crate::kunit_expect_eq!(
            test,
            work.try_access_with(|w| w.queue_after(60_000)),
            Some(true)
        );
        crate::kunit_expect_eq!(test, work.try_access_with(|w| w.queue()), Some(false));
        let start = now_ms();
        DELAY_PDEV.unbind();
        // Cancelled, not waited for.
        crate::kunit_expect!(test, now_ms() - start < 10_000);
        crate::kunit_expect!(test, work.try_access().is_none());
        msleep(50);
        crate::kunit_expect_eq!(test, TICKS.load(SeqCst), 1);
    }
    drop(work);
    drop(reg);
    drop(DELAYED.take());
    DELAY_PDEV.put();
    DELAY_CHECKS.report(test, 1);
}

crate::kunit_suite!(
    rust_irq_unbind,
    [interrupts_race_unbind, delayed_work_at_unbind]
);
