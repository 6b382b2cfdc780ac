// SPDX-License-Identifier: GPL-2.0

//! KUnit suites for `Revocable` and `Devres`, against real bound devices.
//!
//! A test PCI driver binds QEMU's `edu` devices (the test run starts two, with `-device edu
//! -device edu -smp 2`); each case sets what its `probe` creates, then binds and unbinds the
//! first device through the driver core while kernel threads access or drop the resources
//! concurrently. A [`Payload`] counts its creations and drops and checks that it is never
//! dropped twice or read after its drop.

use crate::{
    bindings, c_str,
    device::{Bound, Core, Device},
    devres::{self, Devres},
    error::code::*,
    kunit::{thread, Test},
    pci::{
        self,
        testing::{register_or_fail, DevRef, TestRegistration, EDU},
    },
    prelude::*,
    revocable::Revocable,
    sync::{rcu, Arc},
};
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering::SeqCst};

/// How many bind/unbind cycles each race case runs.
const CYCLES: usize = 350;

const ALIVE: u32 = 0x600d_cafe;
const DEAD: u32 = 0xdead_dead;

static CREATED: AtomicUsize = AtomicUsize::new(0);
static DROPPED: AtomicUsize = AtomicUsize::new(0);
/// Double drops and reads of a dropped payload.
static BAD: AtomicUsize = AtomicUsize::new(0);

/// A resource that counts its life and detects misuse.
struct Payload {
    magic: AtomicU32,
}

impl Payload {
    fn new() -> Self {
        CREATED.fetch_add(1, SeqCst);
        Payload {
            magic: AtomicU32::new(ALIVE),
        }
    }

    fn check(&self) {
        if self.magic.load(SeqCst) != ALIVE {
            BAD.fetch_add(1, SeqCst);
        }
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        if self.magic.swap(DEAD, SeqCst) != ALIVE {
            BAD.fetch_add(1, SeqCst);
        }
        DROPPED.fetch_add(1, SeqCst);
    }
}

/// Set when a [`SlowPayload`]'s drop has begun, and when it has ended.
static SLOW_STARTED: AtomicBool = AtomicBool::new(false);
static SLOW_FINISHED: AtomicBool = AtomicBool::new(false);
/// How long a [`SlowPayload`]'s drop takes.
const SLOW_DROP_MS: u32 = 100;

/// A resource whose release takes [`SLOW_DROP_MS`] (as freeing hardware state may).
struct SlowPayload;

impl Drop for SlowPayload {
    fn drop(&mut self) {
        SLOW_STARTED.store(true, SeqCst);
        crate::delay::msleep(SLOW_DROP_MS);
        SLOW_FINISHED.store(true, SeqCst);
    }
}

/// What `probe` creates besides the driver data's own `Devres<Payload>`.
#[derive(Clone, Copy, PartialEq)]
#[repr(u32)]
enum Mode {
    Plain = 0,
    /// A `Devres` shared through [`SHARED`], for access after unbind and for readers.
    Shared,
    /// A `Devres` in [`SLOT`], for an owner that drops it during unbind.
    Slot,
    /// A `Devres` dropped during probe, and a value given to `devres::register`.
    EarlyDrop,
    /// A `Devres` owning a `Devres`, and a registered value owning a `Devres`.
    Nested,
    /// A `Devres<SlowPayload>` in [`SLOW_SLOT`], for an owner whose drop overlaps the unbind.
    SlowSlot,
    /// [`MANY`] more `Devres` in the driver data.
    Many,
}

static MODE: AtomicU32 = AtomicU32::new(Mode::Plain as u32);
/// How many `Devres` [`Mode::Many`] adds.
static MANY: AtomicUsize = AtomicUsize::new(0);
static PROBES: AtomicUsize = AtomicUsize::new(0);
/// Results of the checks made in probe that only probe can make.
static PROBE_FAILURES: AtomicUsize = AtomicUsize::new(0);
/// The first device probed, with a reference taken.
static PDEV: DevRef = DevRef::new();
/// A `Devres` shared with the test thread and readers (from `Arc::into_raw`).
static SHARED: AtomicPtr<Devres<Payload>> = AtomicPtr::new(core::ptr::null_mut());
/// A `Devres` of the first device for the owner thread to drop (from `KBox::into_raw`).
static SLOT: AtomicPtr<Devres<Payload>> = AtomicPtr::new(core::ptr::null_mut());
/// The same for a [`SlowPayload`].
static SLOW_SLOT: AtomicPtr<Devres<SlowPayload>> = AtomicPtr::new(core::ptr::null_mut());

/// Puts `res` into `slot`, dropping what it held.
fn put_box<T: Send + 'static>(slot: &AtomicPtr<Devres<T>>, res: Devres<T>) -> Result {
    let old = slot.swap(KBox::into_raw(KBox::new(res, GFP_KERNEL)?), SeqCst);
    if !old.is_null() {
        // SAFETY: The slots hold pointers from `KBox::into_raw` only.
        drop(unsafe { KBox::from_raw(old) });
    }
    Ok(())
}

/// Takes what `slot` holds.
fn take_box<T: Send + 'static>(slot: &AtomicPtr<Devres<T>>) -> Option<KBox<Devres<T>>> {
    let ptr = slot.swap(core::ptr::null_mut(), SeqCst);
    // SAFETY: The slots hold pointers from `KBox::into_raw` only, each taken out once.
    (!ptr.is_null()).then(|| unsafe { KBox::from_raw(ptr) })
}
/// A `Devres` of another device, for the identity check (from `Arc::into_raw`).
static OTHER: AtomicPtr<Devres<Payload>> = AtomicPtr::new(core::ptr::null_mut());
/// Set when the identity check ran in a probe.
static IDENTITY_CHECKED: AtomicBool = AtomicBool::new(false);

fn mode() -> Mode {
    match MODE.load(SeqCst) {
        1 => Mode::Shared,
        2 => Mode::Slot,
        3 => Mode::EarlyDrop,
        4 => Mode::Nested,
        5 => Mode::SlowSlot,
        6 => Mode::Many,
        _ => Mode::Plain,
    }
}

fn probe_expect(ok: bool) {
    if !ok {
        PROBE_FAILURES.fetch_add(1, SeqCst);
    }
}

fn store_arc(slot: &AtomicPtr<Devres<Payload>>, res: Devres<Payload>) -> Result {
    let arc = Arc::new(res, GFP_KERNEL)?;
    let old = slot.swap(Arc::into_raw(arc).cast_mut(), SeqCst);
    if !old.is_null() {
        // SAFETY: The slot holds pointers from `Arc::into_raw` only.
        drop(unsafe { Arc::from_raw(old) });
    }
    Ok(())
}

fn take_arc(slot: &AtomicPtr<Devres<Payload>>) -> Option<Arc<Devres<Payload>>> {
    let ptr = slot.swap(core::ptr::null_mut(), SeqCst);
    // SAFETY: The slot holds pointers from `Arc::into_raw` only, each taken out once.
    (!ptr.is_null()).then(|| unsafe { Arc::from_raw(ptr) })
}

/// Checks that a `Devres` of another device is refused, then offers our own for the next probe.
fn identity_check(dev: &Device<Bound>) -> Result {
    if let Some(other) = take_arc(&OTHER) {
        if other.device().as_raw() != dev.as_raw() {
            probe_expect(other.access(dev).err() == Some(EINVAL));
            IDENTITY_CHECKED.store(true, SeqCst);
        }
    }
    store_arc(&OTHER, Devres::new(dev, Payload::new(), GFP_KERNEL)?)
}

struct TestDriver {
    _own: Devres<Payload>,
    _nested: Option<Devres<Devres<Payload>>>,
    _many: KVec<Devres<Payload>>,
}

impl pci::Driver for TestDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        let dev: &Device<Bound> = pdev.as_ref();
        PDEV.keep_first(pdev);
        let own = Devres::new(dev, Payload::new(), GFP_KERNEL)?;
        probe_expect(own.access(dev).map(|p| p.magic.load(SeqCst)) == Ok(ALIVE));
        probe_expect(own.try_access_with(|p| p.magic.load(SeqCst)) == Some(ALIVE));

        let mut nested = None;
        let mut many = KVec::new();
        match mode() {
            Mode::Plain => identity_check(dev)?,
            Mode::Shared => store_arc(&SHARED, Devres::new(dev, Payload::new(), GFP_KERNEL)?)?,
            // The cases unbind the first device: its `Devres` is the one that races.
            Mode::Slot if PDEV.dev() == dev.as_raw() => {
                put_box(&SLOT, Devres::new(dev, Payload::new(), GFP_KERNEL)?)?
            }
            Mode::SlowSlot if PDEV.dev() == dev.as_raw() => {
                put_box(&SLOW_SLOT, Devres::new(dev, SlowPayload, GFP_KERNEL)?)?
            }
            Mode::Slot | Mode::SlowSlot => {}
            Mode::EarlyDrop => {
                let before = DROPPED.load(SeqCst);
                drop(Devres::new(dev, Payload::new(), GFP_KERNEL)?);
                probe_expect(DROPPED.load(SeqCst) == before + 1);
                devres::register(dev, Payload::new(), GFP_KERNEL)?;
                probe_expect(DROPPED.load(SeqCst) == before + 1);
            }
            Mode::Nested => {
                let inner = Devres::new(dev, Payload::new(), GFP_KERNEL)?;
                nested = Some(Devres::new(dev, inner, GFP_KERNEL)?);
                let inner = Devres::new(dev, Payload::new(), GFP_KERNEL)?;
                devres::register(dev, inner, GFP_KERNEL)?;
            }
            Mode::Many => {
                for _ in 0..MANY.load(SeqCst) {
                    many.push(Devres::new(dev, Payload::new(), GFP_KERNEL)?, GFP_KERNEL)?;
                }
            }
        }
        Ok(KBox::pin(
            TestDriver {
                _own: own,
                _nested: nested,
                _many: many,
            },
            GFP_KERNEL,
        )?)
    }
}

fn reset(mode: Mode) {
    MODE.store(mode as u32, SeqCst);
    PROBES.store(0, SeqCst);
    PROBE_FAILURES.store(0, SeqCst);
    CREATED.store(0, SeqCst);
    DROPPED.store(0, SeqCst);
    BAD.store(0, SeqCst);
    IDENTITY_CHECKED.store(false, SeqCst);
}

/// Registers the test driver (which binds every `edu` device) and returns the registration
/// and the first device's `struct device`.
fn setup(
    test: &mut Test,
    mode: Mode,
) -> Option<(TestRegistration<TestDriver>, *mut bindings::device)> {
    reset(mode);
    let reg = register_or_fail(test, c_str!("rust_devres_test"))?;
    let dev = PDEV.dev();
    if !crate::kunit_expect!(test, !dev.is_null()) {
        return None;
    }
    Some((reg, dev))
}

fn unbind(dev: *mut bindings::device) {
    // SAFETY: `dev` is referenced by `PDEV`; unbinding takes the device lock itself.
    unsafe { bindings::device_release_driver(dev) };
}

fn bind(dev: *mut bindings::device) -> i32 {
    // SAFETY: `dev` is referenced by `PDEV`; binding takes the device lock itself.
    unsafe { bindings::device_attach(dev) }
}

/// Checks the counters after every case: all created payloads dropped, exactly once, never read
/// dead, and every check made in probe passed.
fn finish(test: &mut Test) {
    PDEV.put();
    drop(take_arc(&SHARED));
    drop(take_arc(&OTHER));
    crate::kunit_expect_eq!(test, DROPPED.load(SeqCst), CREATED.load(SeqCst));
    crate::kunit_expect_eq!(test, BAD.load(SeqCst), 0);
    crate::kunit_expect_eq!(test, PROBE_FAILURES.load(SeqCst), 0);
}

/// Access through the bound device and under RCU works while bound; after unbind `try_access`
/// fails, the value has been dropped at unbind although the `Devres` is still held, and a
/// rebind does not revive it.
fn access_before_and_after_unbind(test: &mut Test) {
    let Some((reg, _dev)) = setup(test, Mode::Shared) else {
        return;
    };
    let Some(shared) = take_arc(&SHARED) else {
        crate::kunit_expect!(test, false);
        return;
    };
    // The first device probed first; other devices have replaced the shared `Devres` since.
    crate::kunit_expect!(test, shared.try_access().is_some());
    let dropped = DROPPED.load(SeqCst);
    // Unbind the device `shared` belongs to.
    unbind(shared.device().as_raw());
    crate::kunit_expect!(test, shared.try_access().is_none());
    crate::kunit_expect!(test, shared.try_access_with(|_| ()).is_none());
    // Its payload and the driver data's went at unbind.
    crate::kunit_expect_eq!(test, DROPPED.load(SeqCst), dropped + 2);
    let after_unbind = DROPPED.load(SeqCst);
    crate::kunit_expect_eq!(test, bind(shared.device().as_raw()), 1);
    crate::kunit_expect!(test, shared.try_access().is_none());
    drop(shared);
    // Dropping a revoked `Devres` drops nothing again.
    crate::kunit_expect_eq!(test, DROPPED.load(SeqCst), after_unbind);
    // Nor does it take another binding's node off the list (its freed node's memory may hold a
    // new node now): the `Devres` the rebind created is still released at unbind.
    let renewed = take_arc(&SHARED);
    drop(reg);
    crate::kunit_expect!(test, renewed.is_some_and(|r| r.try_access().is_none()));
    finish(test);
}

/// A `Devres` dropped in probe releases its value then; a registered value lives until unbind.
fn early_drop_and_register(test: &mut Test) {
    let Some((reg, dev)) = setup(test, Mode::EarlyDrop) else {
        return;
    };
    let live = CREATED.load(SeqCst) - DROPPED.load(SeqCst);
    // Per device: the driver data's `Devres` and the registered value.
    crate::kunit_expect_eq!(test, live, 2 * PROBES.load(SeqCst));
    let dropped = DROPPED.load(SeqCst);
    unbind(dev);
    crate::kunit_expect_eq!(test, DROPPED.load(SeqCst), dropped + 2);
    drop(reg);
    finish(test);
}

/// `access` with the bound borrow of another device is refused with `EINVAL`.
fn wrong_device_refused(test: &mut Test) {
    let Some((reg, _dev)) = setup(test, Mode::Plain) else {
        return;
    };
    // Two `edu` devices: the second probe saw the first one's `Devres`.
    crate::kunit_expect!(test, PROBES.load(SeqCst) >= 2);
    crate::kunit_expect!(test, IDENTITY_CHECKED.load(SeqCst));
    drop(reg);
    finish(test);
}

/// Race 1: the owner drops a `Devres` while the device unbinds.
fn race_owner_drop_vs_unbind(test: &mut Test) {
    let Some((reg, dev)) = setup(test, Mode::Slot) else {
        return;
    };
    static GO: AtomicBool = AtomicBool::new(false);
    for _ in 0..CYCLES {
        GO.store(false, SeqCst);
        let owner = thread::spawn(|| {
            while !GO.load(SeqCst) {
                thread::yield_now();
            }
            drop(take_box(&SLOT));
        });
        let Ok(owner) = owner else {
            crate::kunit_expect!(test, false);
            break;
        };
        GO.store(true, SeqCst);
        unbind(dev);
        owner.join();
        if bind(dev) != 1 {
            crate::kunit_expect!(test, false);
            break;
        }
    }
    drop(reg);
    drop(take_box(&SLOT));
    crate::kunit_expect!(test, PROBES.load(SeqCst) > CYCLES);
    finish(test);
}

/// Race 1b: an owner's drop that began before the unbind released the `Devres` has ended when
/// the unbind returns: the unbind waits for it, so the value is never dropped after the driver
/// is gone (nor, after a rebind, under the next binding).
fn owner_drop_ends_before_unbind(test: &mut Test) {
    let Some((reg, dev)) = setup(test, Mode::SlowSlot) else {
        return;
    };
    const ROUNDS: usize = 5;
    let mut waited = 0;
    for _ in 0..ROUNDS {
        SLOW_STARTED.store(false, SeqCst);
        SLOW_FINISHED.store(false, SeqCst);
        let Ok(owner) = thread::spawn(|| drop(take_box(&SLOW_SLOT))) else {
            crate::kunit_expect!(test, false);
            break;
        };
        // The drop is under way (it sleeps for `SLOW_DROP_MS`) before the unbind begins.
        for _ in 0..1000 {
            if SLOW_STARTED.load(SeqCst) {
                break;
            }
            crate::delay::msleep(1);
        }
        crate::kunit_expect!(test, SLOW_STARTED.load(SeqCst));
        unbind(dev);
        if SLOW_FINISHED.load(SeqCst) {
            waited += 1;
        }
        owner.join();
        if bind(dev) != 1 {
            crate::kunit_expect!(test, false);
            break;
        }
    }
    drop(reg);
    drop(take_box(&SLOW_SLOT));
    crate::kunit_expect_eq!(test, waited, ROUNDS);
    finish(test);
}

/// Race 2: a `Devres` owning a `Devres` of the same device, and a registered value owning one;
/// unbind completes (a deadlock would hang the case) and drops everything once.
fn race_nested_unbind(test: &mut Test) {
    let Some((reg, dev)) = setup(test, Mode::Nested) else {
        return;
    };
    for _ in 0..CYCLES {
        unbind(dev);
        if bind(dev) != 1 {
            crate::kunit_expect!(test, false);
            break;
        }
    }
    // Per probe: the driver data's payload and two nested ones.
    crate::kunit_expect_eq!(test, CREATED.load(SeqCst), 3 * PROBES.load(SeqCst));
    drop(reg);
    finish(test);
}

/// Race 4: readers inside `try_access` while the device unbinds never see a dropped value.
fn race_reader_vs_unbind(test: &mut Test) {
    let Some((reg, _dev)) = setup(test, Mode::Shared) else {
        return;
    };
    static READS: AtomicUsize = AtomicUsize::new(0);
    READS.store(0, SeqCst);
    for _ in 0..CYCLES {
        let Some(shared) = take_arc(&SHARED) else {
            crate::kunit_expect!(test, false);
            break;
        };
        let dev = shared.device().as_raw();
        let reader = shared.clone();
        let reader = thread::spawn(move || {
            // Read until the value is revoked.
            while let Some(payload) = reader.try_access() {
                payload.check();
                for _ in 0..64 {
                    core::hint::spin_loop();
                }
                payload.check();
                READS.fetch_add(1, SeqCst);
                drop(payload);
                // Let the unbinding task run, also on a single processor.
                thread::yield_now();
            }
        });
        let Ok(reader) = reader else {
            crate::kunit_expect!(test, false);
            break;
        };
        unbind(dev);
        reader.join();
        drop(shared);
        if bind(dev) != 1 {
            crate::kunit_expect!(test, false);
            break;
        }
    }
    crate::kunit_expect!(test, READS.load(SeqCst) > 0);
    drop(reg);
    finish(test);
}

/// An unbind waits for one grace period, whether the binding holds 1, 11 or 101 `Devres`, and
/// drops every one of them.
fn one_grace_period_per_unbind(test: &mut Test) {
    let Some((reg, dev)) = setup(test, Mode::Many) else {
        return;
    };
    for many in [0, 10, 100] {
        MANY.store(many, SeqCst);
        // Rebind, so that the binding holds `many` more.
        unbind(dev);
        if !crate::kunit_expect!(test, bind(dev) == 1) {
            break;
        }
        let (dropped, grace_periods) = (DROPPED.load(SeqCst), rcu::GRACE_PERIODS.load(SeqCst));
        unbind(dev);
        crate::kunit_expect_eq!(test, rcu::GRACE_PERIODS.load(SeqCst) - grace_periods, 1);
        // The driver data's own and the `many` others.
        crate::kunit_expect_eq!(test, DROPPED.load(SeqCst) - dropped, 1 + many);
        crate::kunit_expect_eq!(test, bind(dev), 1);
    }
    MANY.store(0, SeqCst);
    drop(reg);
    finish(test);
}

/// Race 3: two tasks revoke at once; exactly one drops the value, and both return only after
/// the drop has finished.
fn race_two_revokers(test: &mut Test) {
    static WINS: AtomicUsize = AtomicUsize::new(0);
    static EARLY: AtomicUsize = AtomicUsize::new(0);
    static GO: AtomicUsize = AtomicUsize::new(0);
    reset(Mode::Plain);
    WINS.store(0, SeqCst);
    EARLY.store(0, SeqCst);

    /// A payload whose drop takes a while, so that the loser really waits.
    struct Slow {
        _payload: Payload,
    }
    impl Drop for Slow {
        fn drop(&mut self) {
            // SAFETY: Sleeping is allowed in `revoke`, which is where this runs.
            unsafe { bindings::msleep(1) };
        }
    }

    fn revoke_and_check(r: &Revocable<Slow>) {
        GO.fetch_add(1, SeqCst);
        while GO.load(SeqCst) < 2 {
            thread::yield_now();
        }
        // SAFETY: Neither task holds a guard or is in an RCU read-side critical section.
        if unsafe { r.revoke_shared() } {
            WINS.fetch_add(1, SeqCst);
        }
        // Winner or loser, the drop must be complete by now.
        if DROPPED.load(SeqCst) != 1 || r.is_available() {
            EARLY.fetch_add(1, SeqCst);
        }
    }

    const ROUNDS: usize = 100;
    for _ in 0..ROUNDS {
        DROPPED.store(0, SeqCst);
        CREATED.store(0, SeqCst);
        GO.store(0, SeqCst);
        let r = match Arc::pin_init(
            Revocable::new(Slow {
                _payload: Payload::new(),
            }),
            GFP_KERNEL,
        ) {
            Ok(r) => r,
            Err(_) => {
                crate::kunit_expect!(test, false);
                return;
            }
        };
        let other = r.clone();
        let Ok(t) = thread::spawn(move || revoke_and_check(&other)) else {
            crate::kunit_expect!(test, false);
            return;
        };
        revoke_and_check(&r);
        t.join();
        crate::kunit_expect_eq!(test, DROPPED.load(SeqCst), 1);
    }
    crate::kunit_expect_eq!(test, WINS.load(SeqCst), ROUNDS);
    crate::kunit_expect_eq!(test, EARLY.load(SeqCst), 0);
    crate::kunit_expect_eq!(test, BAD.load(SeqCst), 0);
}

crate::kunit_suite!(
    rust_devres,
    [
        access_before_and_after_unbind,
        early_drop_and_register,
        wrong_device_refused,
        race_owner_drop_vs_unbind,
        owner_drop_ends_before_unbind,
        race_nested_unbind,
        race_reader_vs_unbind,
        race_two_revokers,
        one_grace_period_per_unbind,
    ]
);
