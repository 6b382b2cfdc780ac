// SPDX-License-Identifier: GPL-2.0

//! Interrupt handlers of a bound device.
//!
//! A [`Registration`] requests an interrupt line of a device (`request_threaded_irq()`) for a
//! handler of the driver and is held in a [`Devres`]: the line is freed (`free_irq()`) when the
//! registration is dropped, and at unbind at the latest. `free_irq()` returns only once no handler
//! of the registration runs any more, so for as long as a handler runs the driver is bound, and
//! the handler receives the bound device, `&Device<Bound>`, for the length of its call: through
//! it [`Devres::access`] works without RCU or locks, as in `probe`.
//!
//! At unbind, when `remove` has returned, the bus first stops the binding's data path: it
//! disables and flushes its bound work, then stops every line of the binding: the handler is no
//! longer called, a line of its own is masked (`disable_irq()`), and running handlers and threads
//! are waited for. Only then are the managed resources released, so no handler runs while one is
//! released, also not one created after the handler's registration (a buffer the handler mapped,
//! say). The line itself is freed when its registration is released, in the reverse order of
//! creation like every managed resource.
//!
//! - [`Handler`]: a handler that runs in hard interrupt context.
//! - [`ThreadedHandler`]: a hard handler that may wake a thread, and the thread function, which
//!   runs in process context and may sleep.
//! - [`work::BoundWork`]: a work item of the binding, disabled and flushed when it is released
//!   (at unbind at the latest), which also runs with the bound device.
//!
//! An interrupt line comes from the bus, as an [`Irq`] that keeps the line valid for as long as it
//! lives (for PCI, a vector of [`pci::IrqVectors`], which are freed only after every registration
//! on them).
//!
//! C header: [`include/linux/interrupt.h`](srctree/include/linux/interrupt.h)
//!
//! [`pci::IrqVectors`]: crate::irq::pci::IrqVectors

use crate::ffi::c_ulong;
use crate::{
    bindings,
    device::{Bound, Device},
    devres::Devres,
    driver::{DataPath, PathRank},
    error::{code::*, to_result, Result},
    prelude::*,
    str::CStr,
    sync::Arc,
    types::ARef,
};
use core::{
    ffi::{c_int, c_void},
    mem::ManuallyDrop,
    sync::atomic::{AtomicBool, AtomicU32, Ordering},
};

#[cfg(CONFIG_PCI_MSI)]
pub mod pci;
pub mod work;

#[cfg(all(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST, CONFIG_PCI_MSI))]
mod context_tests;
#[cfg(all(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST, CONFIG_PCI_MSI))]
mod msix_tests;
#[cfg(all(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST, CONFIG_PCI_MSI))]
mod tests;
#[cfg(all(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST, CONFIG_PCI_MSI))]
mod unbind_tests;

/// What a handler says of an interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqReturn {
    /// The interrupt was not from this device (`IRQ_NONE`).
    None,
    /// The interrupt was handled (`IRQ_HANDLED`).
    Handled,
}

impl IrqReturn {
    fn into_raw(self) -> bindings::irqreturn_t {
        match self {
            IrqReturn::None => bindings::irqreturn_IRQ_NONE,
            IrqReturn::Handled => bindings::irqreturn_IRQ_HANDLED,
        }
    }
}

/// What the hard handler of a [`ThreadedHandler`] says of an interrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadedIrqReturn {
    /// The interrupt was not from this device (`IRQ_NONE`).
    None,
    /// The interrupt was handled; the thread is not woken (`IRQ_HANDLED`).
    Handled,
    /// Wake the thread function (`IRQ_WAKE_THREAD`).
    WakeThread,
}

impl ThreadedIrqReturn {
    fn into_raw(self) -> bindings::irqreturn_t {
        match self {
            ThreadedIrqReturn::None => bindings::irqreturn_IRQ_NONE,
            ThreadedIrqReturn::Handled => bindings::irqreturn_IRQ_HANDLED,
            ThreadedIrqReturn::WakeThread => bindings::irqreturn_IRQ_WAKE_THREAD,
        }
    }
}

/// Flags of a registration, the C `IRQF_*` flags that a driver may pass.
///
/// # Examples
///
/// ```
/// use kernel::irq::Flags;
///
/// let flags = Flags::SHARED | Flags::ONESHOT;
/// assert_ne!(flags, Flags::NONE);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(c_ulong);

impl Flags {
    /// No flag.
    pub const NONE: Flags = Flags(0);
    /// The line may be shared with other devices (`IRQF_SHARED`).
    pub const SHARED: Flags = Flags(bindings::IRQF_SHARED as c_ulong);
    /// The line stays masked until the thread function has run (`IRQF_ONESHOT`).
    pub const ONESHOT: Flags = Flags(bindings::IRQF_ONESHOT as c_ulong);
    /// Edge or level trigger of the line (`IRQF_TRIGGER_*`).
    pub const TRIGGER_RISING: Flags = Flags(bindings::IRQF_TRIGGER_RISING as c_ulong);
    /// See [`Flags::TRIGGER_RISING`].
    pub const TRIGGER_FALLING: Flags = Flags(bindings::IRQF_TRIGGER_FALLING as c_ulong);
    /// See [`Flags::TRIGGER_RISING`].
    pub const TRIGGER_HIGH: Flags = Flags(bindings::IRQF_TRIGGER_HIGH as c_ulong);
    /// See [`Flags::TRIGGER_RISING`].
    pub const TRIGGER_LOW: Flags = Flags(bindings::IRQF_TRIGGER_LOW as c_ulong);

    fn as_raw(self) -> c_ulong {
        self.0
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;

    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// A handler that runs in hard interrupt context: it must not sleep.
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, irq::{Handler, IrqReturn}};
/// use core::sync::atomic::{AtomicU32, Ordering};
///
/// struct Counter(AtomicU32);
///
/// impl Handler for Counter {
///     fn handle(&self, _dev: &Device<Bound>) -> IrqReturn {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         IrqReturn::Handled
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Handles an interrupt of `dev`'s line.
    fn handle(&self, dev: &Device<Bound>) -> IrqReturn;
}

/// A threaded handler: [`ThreadedHandler::handle`] runs in hard interrupt context and may wake
/// [`ThreadedHandler::handle_threaded`], which runs in the registration's kernel thread and may
/// sleep.
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, irq::{IrqReturn, ThreadedHandler}};
///
/// struct Slow;
///
/// impl ThreadedHandler for Slow {
///     fn handle_threaded(&self, _dev: &Device<Bound>) -> IrqReturn {
///         kernel::delay::msleep(1);
///         IrqReturn::Handled
///     }
/// }
/// ```
pub trait ThreadedHandler: Send + Sync + 'static {
    /// Handles an interrupt in hard interrupt context; by default it wakes the thread.
    fn handle(&self, _dev: &Device<Bound>) -> ThreadedIrqReturn {
        ThreadedIrqReturn::WakeThread
    }

    /// Runs in process context after [`ThreadedHandler::handle`] asked for it.
    fn handle_threaded(&self, dev: &Device<Bound>) -> IrqReturn;
}

/// What keeps the interrupt lines of a bus valid (for PCI, its allocated vectors).
///
/// # Safety
///
/// While [`Keep::valid_for`] returns `true` for a bound device, the lines it keeps stay
/// allocated to that device until the devres list of the binding that `dev` proves is released,
/// and they are released only after every devres action added later.
pub(crate) unsafe trait Keep: Send + Sync {
    /// Whether the lines are still allocated, to `dev`'s current binding.
    fn valid_for(&self, dev: &Device<Bound>) -> bool;
}

/// An interrupt line of a device, and what keeps it valid.
///
/// A line can outlive the binding it came from (it is a plain value, which may be kept
/// anywhere), but a [`Registration`] is made only while the line is still allocated to the
/// binding of the device it is made for.
///
/// # Invariants
///
/// - `irq` is an interrupt line of `dev` while `keep` says so (`Keep::valid_for`).
/// - `dev` and `keep` are dropped exactly once, in this order, by `Irq`'s `Drop`.
pub struct Irq {
    irq: u32,
    dev: ManuallyDrop<ARef<Device>>,
    keep: ManuallyDrop<Arc<dyn Keep>>,
}

// The fields' drops are compiled once, here, rather than in every module that drops a line.
impl Drop for Irq {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: The fields are dropped here and nowhere else, and `self` is not used after its
        // drop: each exactly once, in their declaration order (type invariant).
        unsafe {
            ManuallyDrop::drop(&mut self.dev);
            ManuallyDrop::drop(&mut self.keep);
        }
    }
}

impl Irq {
    /// Describes line `irq` of `dev`, kept by `keep`.
    ///
    /// # Safety
    ///
    /// `irq` must be an interrupt line of `dev` for as long as `keep.valid_for()` says so.
    pub(crate) unsafe fn new<K: Keep + 'static>(dev: &Device, irq: u32, keep: Arc<K>) -> Self {
        // INVARIANT: By the caller's contract; the new fields are dropped by `Irq`'s `Drop` only.
        Self {
            irq,
            dev: ManuallyDrop::new(dev.into()),
            keep: ManuallyDrop::new(keep),
        }
    }

    /// Returns the interrupt number.
    pub fn number(&self) -> u32 {
        self.irq
    }

    /// Whether [`Registration::new`] would accept this line for `dev`, for the test suites.
    #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
    #[allow(dead_code)]
    pub(crate) fn is_valid_for(&self, dev: &Device<Bound>) -> bool {
        self.dev.as_raw() == dev.as_raw() && self.keep.valid_for(dev)
    }
}

/// The state that the C code passes to the handler: the device and the driver's handler, and
/// what the bus needs to stop the line at unbind.
#[pin_data]
struct Shared<H> {
    dev: ARef<Device>,
    handler: H,
    irq: u32,
    /// Whether the line may be shared: the bus does not mask a shared line at unbind.
    shared: bool,
    /// Set when the bus stopped the line: the trampolines no longer call the handler.
    stopped: AtomicBool,
    #[pin]
    path: DataPath,
}

/// Stops a line for the bus: from now on its trampolines return without calling the handler,
/// and the running handlers and thread are waited for. A line of its own is also masked
/// (`disable_irq()`); a shared one is not, as the other devices on it keep their interrupts
/// (`synchronize_irq()`). The registration frees it later.
///
/// # Safety
///
/// `path` must be the `path` of a live `Shared<H>` whose line is requested.
unsafe fn stop_line<H>(path: *const DataPath) {
    // SAFETY: By the function's contract.
    let shared = unsafe { &*crate::container_of!(path, Shared<H>, path) };
    // Pairs with the acquire of `dispatch`: a handler that starts after this sees it.
    shared.stopped.store(true, Ordering::Release);
    if shared.shared {
        // SAFETY: The line is requested (function's contract).
        unsafe { bindings::synchronize_irq(shared.irq) };
    } else {
        // SAFETY: As above.
        unsafe { bindings::disable_irq(shared.irq) };
    }
}

/// A requested interrupt line with the driver's handler `H`; see the [module
/// documentation](self).
///
/// # Invariants
///
/// - `irq.irq` was requested with `shared` as its `dev_id`, for the trampolines of `H`, and is
///   freed in `drop`, after which no handler runs; `shared` does not move or go away before.
/// - `shared.path` is on the list of the binding's data path, or was stopped by the bus, from
///   the request until `drop`: no handler runs after the bus stopped the binding
///   (`shared.stopped`).
/// - `disabled` counts the successful [`Registration::disable`] calls not yet undone by
///   [`Registration::enable`]; the line's disable depth is at least that.
pub struct Registration<H: Send + Sync + 'static> {
    irq: Irq,
    shared: Pin<KBox<Shared<H>>>,
    disabled: AtomicU32,
}

/// Calls `f` with the handler and the bound device that the C code passes to a trampoline, and
/// returns what it returns; `IRQ_NONE` without calling it once the bus has stopped the line.
///
/// # Safety
///
/// `cookie` must be the `dev_id` of a live [`Registration<H>`], and the call must come from
/// the C code's handling of its line (a hard handler or the thread function).
unsafe fn dispatch<H>(
    cookie: *mut c_void,
    f: impl FnOnce(&H, &Device<Bound>) -> bindings::irqreturn_t,
) -> bindings::irqreturn_t {
    // SAFETY: By the function's contract `cookie` is the registration's `Shared<H>`, which lives
    // until `free_irq()` has returned, and that waits for running handlers and stops the thread
    // after its last call.
    let shared = unsafe { &*cookie.cast::<Shared<H>>() };
    // Once the bus has stopped the line, managed resources of the binding may be released:
    // the handler must not run (nor get the bound device) any more. A handler that passed this
    // check before the stop is waited for by it.
    if shared.stopped.load(Ordering::Acquire) {
        return bindings::irqreturn_IRQ_NONE;
    }
    // SAFETY: The registration is held in a `Devres` and so freed no later than at the unbind,
    // while the driver is still bound; `free_irq()` waits for this call, so the driver is bound
    // for all of it.
    let dev = unsafe { Device::<Bound>::from_raw(shared.dev.as_raw()) };
    f(&shared.handler, dev)
}

/// The hard handler of a [`Handler`].
///
/// # Safety
///
/// `cookie` must be the `dev_id` of a live [`Registration<H>`].
unsafe extern "C" fn handle_irq<H: Handler>(
    _irq: c_int,
    cookie: *mut c_void,
) -> bindings::irqreturn_t {
    // SAFETY: The C code calls this as the line's hard handler, with the registration's cookie.
    unsafe { dispatch(cookie, |h: &H, dev| h.handle(dev).into_raw()) }
}

/// The hard handler of a [`ThreadedHandler`].
///
/// # Safety
///
/// As for [`handle_irq`].
unsafe extern "C" fn handle_threaded_hard<H: ThreadedHandler>(
    _irq: c_int,
    cookie: *mut c_void,
) -> bindings::irqreturn_t {
    // SAFETY: As in `handle_irq`.
    unsafe { dispatch(cookie, |h: &H, dev| h.handle(dev).into_raw()) }
}

/// The thread function of a [`ThreadedHandler`].
///
/// # Safety
///
/// As for [`handle_irq`].
unsafe extern "C" fn handle_thread<H: ThreadedHandler>(
    _irq: c_int,
    cookie: *mut c_void,
) -> bindings::irqreturn_t {
    // SAFETY: The C code calls this as the line's thread function, with the registration's
    // cookie.
    unsafe { dispatch(cookie, |h: &H, dev| h.handle_threaded(dev).into_raw()) }
}

type RawHandler = unsafe extern "C" fn(c_int, *mut c_void) -> bindings::irqreturn_t;

impl<H: Send + Sync + 'static> Registration<H> {
    fn request(
        dev: &Device<Bound>,
        irq: Irq,
        flags: Flags,
        name: &'static CStr,
        handler: H,
        hard: RawHandler,
        thread: Option<RawHandler>,
    ) -> Result<Devres<Self>> {
        crate::might_sleep!();
        // The line must be `dev`'s and still allocated to this binding: then the registration,
        // added to the devres list after what keeps the line, is freed before the line is.
        if irq.dev.as_raw() != dev.as_raw() || !irq.keep.valid_for(dev) {
            return Err(EINVAL);
        }
        // Before the initialiser, whose `dev` is the field.
        let path = DataPath::new(dev, PathRank::Line, stop_line::<H>);
        let shared = KBox::pin_init(
            pin_init!(Shared {
                dev: ARef::from(&**dev),
                handler,
                irq: irq.irq,
                shared: flags.as_raw() & (bindings::IRQF_SHARED as c_ulong) != 0,
                stopped: AtomicBool::new(false),
                path <- path,
            }),
            GFP_KERNEL,
        )?;
        let cookie = core::ptr::from_ref::<Shared<H>>(&shared)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: `irq.irq` is `dev`'s binding's, freed after the registration (see `Keep`);
        // `cookie` is the pinned `Shared<H>` of the trampolines' `H`, kept until the line is freed
        // and alive until `drop` has called `finish`; `stop_line` matches it.
        unsafe { request_raw(irq.irq, flags, name, hard, thread, &shared.path, cookie) }?;
        // INVARIANT: Requested just now with `shared` as `dev_id`; nothing is disabled. Should
        // the `Devres` not be made, dropping the registration frees the line.
        let reg = Self {
            irq,
            shared,
            disabled: AtomicU32::new(0),
        };
        Devres::new(dev, reg, GFP_KERNEL)
    }

    /// Returns the interrupt number.
    pub fn irq(&self) -> u32 {
        self.irq.irq
    }

    /// Returns the driver's handler.
    pub fn handler(&self) -> &H {
        &self.shared.handler
    }

    /// Waits until no handler of the line runs (`synchronize_irq()`). Sleeps: calling it from
    /// the line's own handler would wait for itself.
    pub fn synchronize(&self) {
        crate::might_sleep!();
        // SAFETY: The line is requested (type invariant).
        unsafe { bindings::synchronize_irq(self.irq.irq) };
    }

    /// Disables the line and waits for running handlers (`disable_irq()`). Sleeps: calling it
    /// from the line's own handler would wait for itself; use [`Registration::disable_nosync`]
    /// there.
    pub fn disable(&self) {
        crate::might_sleep!();
        self.disable_nosync();
        self.synchronize();
    }

    /// Disables the line without waiting for running handlers (`disable_irq_nosync()`).
    pub fn disable_nosync(&self) {
        // SAFETY: The line is requested (type invariant).
        unsafe { bindings::disable_irq_nosync(self.irq.irq) };
        // INVARIANT: The line's depth was raised before the count.
        self.disabled.fetch_add(1, Ordering::AcqRel);
    }

    /// Undoes one [`Registration::disable`] (`enable_irq()`); [`EINVAL`] if there is none to
    /// undo, where the C code would warn of an unbalanced enable.
    pub fn enable(&self) -> Result {
        // SAFETY: The line is requested and `disabled` counts its disables (type invariants).
        unsafe { enable_line(self.irq.irq, &self.disabled) }
    }
}

impl<H: Handler> Registration<H> {
    /// Requests `irq` for `handler`, as `request_irq()` does, held in a [`Devres`] so that it is
    /// freed at unbind at the latest.
    ///
    /// Fails with [`EINVAL`] if `irq` is not `dev`'s or was freed (it came from an earlier
    /// binding), and with the errors of
    /// `request_threaded_irq()` (for example [`EBUSY`] for a line another user holds without
    /// [`Flags::SHARED`]). May sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, devres::Devres, irq::{self, Flags, Irq}};
    ///
    /// struct Quiet;
    ///
    /// impl irq::Handler for Quiet {
    ///     fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
    ///         irq::IrqReturn::None
    ///     }
    /// }
    ///
    /// fn listen(dev: &Device<Bound>, line: Irq) -> Result<Devres<irq::Registration<Quiet>>> {
    ///     irq::Registration::new(dev, line, Flags::SHARED, kernel::c_str!("quiet"), Quiet)
    /// }
    /// ```
    pub fn new(
        dev: &Device<Bound>,
        irq: Irq,
        flags: Flags,
        name: &'static CStr,
        handler: H,
    ) -> Result<Devres<Self>> {
        Self::request(dev, irq, flags, name, handler, handle_irq::<H>, None)
    }
}

impl<H: ThreadedHandler> Registration<H> {
    /// Requests `irq` for a threaded `handler`, as `request_threaded_irq()` does, held in a
    /// [`Devres`] so that it is freed at unbind at the latest.
    ///
    /// Fails as [`Registration::new`] does. May sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, devres::Devres, irq::{self, Flags, Irq}};
    ///
    /// struct Slow;
    ///
    /// impl irq::ThreadedHandler for Slow {
    ///     fn handle_threaded(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
    ///         irq::IrqReturn::Handled
    ///     }
    /// }
    ///
    /// fn listen(dev: &Device<Bound>, line: Irq) -> Result<Devres<irq::Registration<Slow>>> {
    ///     irq::Registration::new_threaded(dev, line, Flags::ONESHOT, kernel::c_str!("slow"), Slow)
    /// }
    /// ```
    pub fn new_threaded(
        dev: &Device<Bound>,
        irq: Irq,
        flags: Flags,
        name: &'static CStr,
        handler: H,
    ) -> Result<Devres<Self>> {
        Self::request(
            dev,
            irq,
            flags,
            name,
            handler,
            handle_threaded_hard::<H>,
            Some(handle_thread::<H>),
        )
    }
}

impl<H: Send + Sync + 'static> Drop for Registration<H> {
    fn drop(&mut self) {
        let cookie = core::ptr::from_ref::<Shared<H>>(&self.shared)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: The line was requested with `cookie`, `shared.path` listed with it and
        // `disabled` counts its disables (type invariants); this drop is the one free.
        unsafe {
            drop_raw(
                self.irq.irq,
                &self.disabled,
                &self.shared.path,
                self.shared.shared,
                cookie,
            )
        };
    }
}

/// Undoes one disable counted by `disabled` (`enable_irq()`); [`EINVAL`] if there is none.
///
/// # Safety
///
/// `irq` must be requested, and `disabled` count the disables of it not yet undone (as
/// [`Registration`]'s `disabled`).
#[inline]
unsafe fn enable_line(irq: u32, disabled: &AtomicU32) -> Result {
    disabled
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
        .map_err(|_| EINVAL)?;
    // INVARIANT: The count was lowered first, so the line's depth stays at least the count.
    // SAFETY: The line is requested (the function's contract) and disabled at least once by us.
    unsafe { bindings::enable_irq(irq) };
    Ok(())
}

/// The part of [`Registration::request`] that does not depend on the handler, compiled once:
/// requests `irq` with the trampolines `hard` and `thread` and `cookie` as `dev_id`, and starts
/// `path` with it, so that the line is requested and listed at once.
///
/// # Safety
///
/// `irq` must be a line of the binding of `path`, freed only after the line is freed (see
/// [`Keep`]); `cookie` must be what the trampolines take, alive until the line is freed; `path`
/// must be as [`DataPath::start`] requires, with a `stop` that stops this line.
#[inline(never)]
unsafe fn request_raw(
    irq: u32,
    flags: Flags,
    name: &'static CStr,
    hard: RawHandler,
    thread: Option<RawHandler>,
    path: &DataPath,
    cookie: *mut c_void,
) -> Result {
    // `request_irq()` adds `IRQF_COND_ONESHOT` for a line without a thread, so that it may
    // share a line with a oneshot user; the same here.
    let extra = if thread.is_none() {
        bindings::IRQF_COND_ONESHOT as c_ulong
    } else {
        0
    };
    let request = || {
        // SAFETY: `irq` is a line of the binding, freed only after the line is; `name` is
        // `'static`; `cookie` is what the trampolines take, alive until the line is freed (the
        // function's contract).
        to_result(unsafe {
            bindings::request_threaded_irq(
                irq,
                Some(hard),
                thread,
                flags.as_raw() | extra,
                name.as_char_ptr(),
                cookie,
            )
        })
    };
    // The line is requested and listed at once, so that the bus stops it at unbind before any
    // managed resource goes.
    // SAFETY: `path` is as `start` requires, and its line is requested while it is listed (the
    // function's contract).
    unsafe { path.start(GFP_KERNEL, request) }
}

/// The drop of a [`Registration`], compiled once: takes `path` off the binding's list, balances
/// the disables of `irq` and frees it.
///
/// # Safety
///
/// `irq` must have been requested with `cookie` by [`request_raw`] with `path`, and not freed;
/// `disabled` must count the disables of it not yet undone; `shared` says whether the line was
/// requested shared. The line is freed: this is called once.
#[inline(never)]
unsafe fn drop_raw(
    irq: u32,
    disabled: &AtomicU32,
    path: &DataPath,
    shared: bool,
    cookie: *mut c_void,
) {
    // Off the binding's list, or stopped by the bus (then a line of its own is masked once
    // more). The handler no longer runs once stopped, also if the line is enabled again and a
    // pending interrupt replayed.
    let stopped = path.finish();
    // Balance what the driver left disabled, and the bus: a line freed while disabled stays
    // disabled for its next user.
    // SAFETY: The line is requested and `disabled` counts its disables (function's contract).
    while unsafe { enable_line(irq, disabled) }.is_ok() {}
    if stopped && !shared {
        // SAFETY: The line is requested, and the bus disabled it once (`stop_line`).
        unsafe { bindings::enable_irq(irq) };
    }
    // SAFETY: The line was requested with `cookie` (function's contract) and is freed only here.
    // `free_irq()` returns once no handler and no thread function of it runs any more.
    unsafe { bindings::free_irq(irq, cookie) };
}
