// SPDX-License-Identifier: GPL-2.0

//! Bound work: a work item of the binding that runs with the bound device.
//!
//! A [`BoundWork`] is created from a bound device and held in a [`Devres`]. When it is released
//! (dropped by its owner, or at unbind at the latest) it is first disabled and flushed
//! (`disable_work_sync()`): a queued run is cancelled, a running one is waited for, and queueing
//! it again does nothing. So its function only ever runs while the driver is bound, and
//! [`WorkHandler::run`] receives the bound device for the length of its call: there, as in an
//! interrupt handler, [`Devres::access`] works without RCU or locks.
//!
//! Create the work before the interrupt registrations whose handlers queue it (they need it
//! anyway): managed resources are released in reverse order, so the interrupts are freed first
//! and no handler can queue the work once it is disabled. (Were the order the other way, a
//! handler could still not reach it: a released `Devres` refuses access, and disabled work is
//! never queued.)
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use crate::{
    alloc::Flags,
    bindings,
    device::{Bound, Device},
    devres::Devres,
    error::Error,
    prelude::*,
    types::{ARef, Opaque},
};

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
/// `work` was initialised with `BoundWork::<T>::run_raw` as its function; it is disabled and
/// flushed before any field is dropped, and queued only while it is alive.
#[pin_data(PinnedDrop)]
pub struct BoundWork<T: WorkHandler> {
    #[pin]
    work: Opaque<bindings::work_struct>,
    dev: ARef<Device>,
    handler: T,
}

impl<T: WorkHandler> BoundWork<T> {
    /// Creates the work item for `dev`, held in a [`Devres`], so that it is disabled, flushed and
    /// dropped at unbind at the latest.
    ///
    /// Every allocation it makes honours `flags`. Fails with [`ENOMEM`].
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
        let init = try_pin_init!(Self {
            work <- Opaque::ffi_init(|slot| {
                // SAFETY: `run_raw` is a work function for a `work_struct` inside a
                // `BoundWork<T>`, which this one is; the name and the key are static.
                unsafe {
                    bindings::init_work_with_key(
                        slot,
                        Some(Self::run_raw),
                        false,
                        crate::c_str!("BoundWork").as_char_ptr(),
                        crate::static_lock_class!().as_ptr(),
                    )
                }
            }),
            dev: ARef::from(&**dev),
            handler,
        }? Error);
        Devres::new(dev, init, flags)
    }

    /// Queues the work on the system workqueue, as `queue_work()` does; returns `false` if it
    /// was queued already (or is being released). Does not sleep: interrupt handlers may call it.
    pub fn queue(&self) -> bool {
        // SAFETY: `work` is initialised (type invariant) and alive for the call; while it is
        // queued `self` is alive, since it is disabled and flushed before it is dropped.
        unsafe {
            bindings::queue_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as _,
                bindings::system_wq,
                self.work.get(),
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
    /// `work` must be the `work` field of a live `BoundWork<T>`.
    unsafe extern "C" fn run_raw(work: *mut bindings::work_struct) {
        // SAFETY: By the function's contract `work` is the field of a `BoundWork<T>`;
        // `Opaque<work_struct>` has the layout of `work_struct`.
        let this = unsafe { &*crate::container_of!(work, Self, work) };
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
        // SAFETY: `work` is initialised (type invariant). After this no run is in progress or
        // queued, and queueing does nothing, so the fields may go.
        unsafe { bindings::disable_work_sync(self.work.get()) };
    }
}

// SAFETY: The work item may be queued, run and released from any thread; `T` is `Send + Sync`.
unsafe impl<T: WorkHandler> Send for BoundWork<T> {}

// SAFETY: Shared access queues the work (the C workqueue serialises that) and hands out `&T`.
unsafe impl<T: WorkHandler> Sync for BoundWork<T> {}
