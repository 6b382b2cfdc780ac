// SPDX-License-Identifier: GPL-2.0

//! Bound work: a work item of the binding that runs with the bound device.
//!
//! A [`BoundWork`] is created from a bound device and held in a [`Devres`]. It is queued at once
//! ([`BoundWork::queue`]) or after a delay ([`BoundWork::queue_after`]). When it is released
//! (dropped by its owner, or at unbind at the latest) it is first disabled and flushed
//! (`disable_delayed_work_sync()`): a pending timer or a queued run is cancelled, a running one
//! is waited for, and queueing it again does nothing. So its function only ever runs while the
//! driver is bound, and [`WorkHandler::run`] receives the bound device for the length of its
//! call: there, as in an interrupt handler, [`Devres::access`] works without RCU or locks.
//!
//! At unbind, when `remove` has returned, the bus stops the binding's bound work and then its
//! interrupt lines, before any managed resource is released: a work that waits for an interrupt
//! (a command it started) still gets it, and a handler that queues the disabled work only gets
//! `false`.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use crate::{
    alloc::Flags,
    bindings,
    device::{Bound, Device},
    devres::Devres,
    driver::{DataPath, PathRank},
    error::Error,
    prelude::*,
    str::CStr,
    sync::LockClassKey,
    types::{ARef, Opaque},
};

/// The name and the lockdep classes of every bound work item's work and timer.
///
/// Not in the generic [`BoundWork::new`]: compiled into each crate that makes bound work, it
/// would give one name literal per crate to classes that are one for all (`static`s of a generic
/// function), and lockdep, which compares a class's name by address, would WARN at the first work
/// of the second crate. Here all three are this crate's, once.
#[inline(never)]
fn work_lock_classes() -> (&'static CStr, &'static LockClassKey, &'static LockClassKey) {
    (
        crate::c_str!("BoundWork"),
        crate::static_lock_class!(),
        crate::static_lock_class!(),
    )
}

/// The function of a [`BoundWork`], run in process context (it may sleep).
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, irq::work::WorkHandler};
///
/// struct Refill;
///
/// impl WorkHandler for Refill {
///     fn run(&self, _dev: &Device<Bound>) {
///         kernel::delay::msleep(1);
///     }
/// }
/// ```
pub trait WorkHandler: Send + Sync + 'static {
    /// Runs the work for `dev`.
    fn run(&self, dev: &Device<Bound>);
}

/// A work item of the binding; see the [module documentation](self).
///
/// # Invariants
///
/// `work` was initialised as a delayed work (`INIT_DELAYED_WORK()`) with `BoundWork::<T>::run_raw`
/// as its function; it is disabled and flushed before any field is dropped, and queued only while
/// it is alive.
#[pin_data(PinnedDrop)]
pub struct BoundWork<T: WorkHandler> {
    #[pin]
    work: Opaque<bindings::delayed_work>,
    dev: ARef<Device>,
    handler: T,
    #[pin]
    path: DataPath,
}

/// Stops a work for the bus: disables and flushes it (`disable_delayed_work_sync()`).
///
/// # Safety
///
/// `path` must be the `path` of a live `BoundWork<T>`.
unsafe fn stop_work<T: WorkHandler>(path: *const DataPath) {
    // SAFETY: By the function's contract.
    let this = unsafe { &*crate::container_of!(path, BoundWork<T>, path) };
    // SAFETY: `work` is initialised (type invariant of `BoundWork`).
    unsafe { bindings::disable_delayed_work_sync(this.work.get()) };
}

impl<T: WorkHandler> BoundWork<T> {
    /// Creates the work item for `dev`, held in a [`Devres`], so that it is disabled, flushed and
    /// dropped at unbind at the latest.
    ///
    /// Every allocation it makes honours `flags`; it takes the mutex of the binding's data path,
    /// so it may sleep. Fails with [`ENOMEM`], and with [`ENODEV`] once the binding is being
    /// unbound.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, devres::Devres, irq::work::{BoundWork, WorkHandler}};
    ///
    /// struct Refill;
    ///
    /// impl WorkHandler for Refill {
    ///     fn run(&self, _dev: &Device<Bound>) {}
    /// }
    ///
    /// fn start(dev: &Device<Bound>) -> Result<Devres<BoundWork<Refill>>> {
    ///     let work = BoundWork::new(dev, Refill, GFP_KERNEL)?;
    ///     work.access(dev)?.queue();
    ///     Ok(work)
    /// }
    /// ```
    pub fn new(dev: &Device<Bound>, handler: T, flags: Flags) -> Result<Devres<Self>> {
        crate::might_sleep!();
        // Before the initialiser, whose `dev` is the field.
        let path = DataPath::new(dev, PathRank::Work, stop_work::<T>);
        let (name, work_class, timer_class) = work_lock_classes();
        let init = try_pin_init!(Self {
            work <- Opaque::ffi_init(|slot: *mut bindings::delayed_work| {
                let name = name.as_char_ptr();
                // What `INIT_DELAYED_WORK()` does, with the workqueue's interrupt-safe timer.
                // SAFETY: `slot` is valid for writes; `run_raw` is a work function for the
                // `work_struct` of a `BoundWork<T>`, as this is; the name and keys are static.
                unsafe {
                    bindings::init_work_with_key(
                        &raw mut (*slot).work,
                        Some(Self::run_raw),
                        false,
                        name,
                        work_class.as_ptr(),
                    );
                    bindings::init_timer_key(
                        &raw mut (*slot).timer,
                        Some(bindings::delayed_work_timer_fn),
                        bindings::TIMER_IRQSAFE,
                        name,
                        timer_class.as_ptr(),
                    );
                }
            }),
            dev: ARef::from(&**dev),
            handler,
            path <- path,
        }? Error);
        let work = Devres::new(dev, init, flags)?;
        // SAFETY: The work is pinned in the `Devres` and lives until its drop has called
        // `finish`; `stop_work` matches it. Nothing can queue it before it is listed.
        unsafe { work.access(dev)?.path.start(flags, || Ok(())) }?;
        Ok(work)
    }

    /// Queues the work on the system workqueue, as `queue_work()` does; returns `false` if it
    /// was pending already (queued, or waiting for its delay) or is being released. Does not
    /// sleep: interrupt handlers may call it.
    pub fn queue(&self) -> bool {
        // SAFETY: `work` is initialised (type invariant) and alive for the call; while it is
        // queued `self` is alive, since it is disabled and flushed before it is dropped.
        unsafe {
            bindings::queue_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as _,
                bindings::system_wq,
                &raw mut (*self.work.get()).work,
            )
        }
    }

    /// Queues the work on the system workqueue once `ms` milliseconds have passed, as
    /// `queue_delayed_work()` does (at once for 0); returns `false` if it was pending already or
    /// is being released. Does not sleep: interrupt handlers may call it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, devres::Devres, irq::work::{BoundWork, WorkHandler}};
    ///
    /// struct Watchdog;
    ///
    /// impl WorkHandler for Watchdog {
    ///     fn run(&self, _dev: &Device<Bound>) {}
    /// }
    ///
    /// fn arm(dev: &Device<Bound>, work: &Devres<BoundWork<Watchdog>>) -> Result {
    ///     // Cancelled at unbind if it has not run by then.
    ///     work.access(dev)?.queue_after(1000);
    ///     Ok(())
    /// }
    /// ```
    pub fn queue_after(&self, ms: u32) -> bool {
        // SAFETY: `__msecs_to_jiffies()` has no preconditions.
        let delay = unsafe { bindings::__msecs_to_jiffies(ms) };
        // SAFETY: As for `queue`; the timer was set up for the workqueue by `new`.
        unsafe {
            bindings::queue_delayed_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as _,
                bindings::system_wq,
                self.work.get(),
                delay,
            )
        }
    }

    /// Returns the work's handler.
    pub fn handler(&self) -> &T {
        &self.handler
    }

    /// The function of the work item.
    ///
    /// # Safety
    ///
    /// `work` must be the `work_struct` of the `work` field of a live `BoundWork<T>`.
    unsafe extern "C" fn run_raw(work: *mut bindings::work_struct) {
        // SAFETY: By the function's contract `work` is in a `delayed_work`, the `work` field of a
        // `BoundWork<T>`; `Opaque<delayed_work>` has the layout of `delayed_work`.
        let this = unsafe {
            let dwork = crate::container_of!(work, bindings::delayed_work, work);
            &*crate::container_of!(dwork.cast::<Opaque<bindings::delayed_work>>(), Self, work)
        };
        // SAFETY: The work is disabled and flushed before the `BoundWork` is dropped, which its
        // `Devres` does at unbind at the latest, while the driver is still bound; so the driver
        // is bound for all of this call.
        let dev = unsafe { Device::<Bound>::from_raw(this.dev.as_raw()) };
        this.handler.run(dev);
    }
}

#[pinned_drop]
impl<T: WorkHandler> PinnedDrop for BoundWork<T> {
    fn drop(self: Pin<&mut Self>) {
        // Off the binding's list, or disabled by the bus already; disabling twice is harmless.
        self.path.finish();
        // SAFETY: `work` is initialised (type invariant). After this no timer is pending, no run
        // is in progress or queued, and queueing does nothing, so the fields may go.
        unsafe { bindings::disable_delayed_work_sync(self.work.get()) };
    }
}

// SAFETY: The work item may be queued, run and released from any thread; `T` is `Send + Sync`.
unsafe impl<T: WorkHandler> Send for BoundWork<T> {}

// SAFETY: Shared access queues the work (the C workqueue serialises that) and hands out `&T`.
unsafe impl<T: WorkHandler> Sync for BoundWork<T> {}
