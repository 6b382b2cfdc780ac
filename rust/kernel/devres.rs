// SPDX-License-Identifier: GPL-2.0

//! Device resources: values that live no longer than a driver's binding to a device.
//!
//! [`Devres<T>`] registers its value with the device's list of managed resources (devres). When
//! the driver is unbound, after its `remove` and its driver data, the driver core releases the
//! list, which revokes and drops the value; every later access fails. Dropping the `Devres`
//! earlier releases the value then and takes it off the list.
//!
//! Access:
//!
//! - from any context, [`Devres::try_access`] and [`Devres::try_access_with`] reach the value
//!   under RCU and fail with [`ENXIO`] once it is revoked;
//! - from code that holds the bound device (`&Device<Bound>`), [`Devres::access`] returns `&T`
//!   with no RCU and no atomic read-modify-write: the borrow proves that the driver is still
//!   bound, so the value can not be released while it is used. The device is compared with the
//!   one the `Devres` was created for at run time (one pointer comparison), and a mismatch is
//!   [`EINVAL`].
//!
//! [`register`] hands a value to devres for good: it is dropped at unbind.
//!
//! # Races
//!
//! - The owner dropping a `Devres` while the device unbinds: both sides revoke the same
//!   [`Revocable`]; one drops the value and the other waits for that drop. The owner revokes
//!   before it takes the node off the list, so an unbind that overlaps its drop is still waited
//!   for: the value is gone before the unbind completes. The release callback holds its own
//!   reference to the shared state, so neither side frees memory the other uses.
//! - A `Devres` whose value owns another `Devres` of the same device: the driver core calls
//!   release callbacks without holding the devres lock, so the inner drop's `devres_remove()`
//!   does not deadlock; it finds its node gone and revokes, which the inner release callback
//!   later finds done.
//! - A reader inside [`Devres::try_access`] while the device unbinds: the value is dropped only
//!   after an RCU grace period that began after it was refused to new readers. An owner's drop
//!   needs no such wait, since readers borrow the `Devres` it is dropping.
//!
//! # One grace period per unbind
//!
//! When the driver is unbound, the bus, once the driver's `remove` has returned and its data
//! path has stopped, calls `revoke_begin()`: it fences every `Devres` of
//! the binding (refuses it to new readers, [`Revocable::fence`]), waits for one grace period,
//! and records for each that no reader is inside ([`Revocable::set_drained`]). The release
//! callbacks that the driver core then runs, in the list's order, drop the values without
//! waiting again. An unbind therefore waits for one grace period, however many `Devres` the
//! binding holds, and for none if it holds none.
//!
//! From the fence on, other tasks find every value revoked. The unbinding task itself still
//! reaches each value through [`Devres::try_access`] until its own release: a value given to
//! [`register`] after a `Devres<Bar>` may stop the hardware through it when it is released, as
//! a C `devm` action does through registers mapped before it. Its reads and the releases are
//! sequential, in one task, so they need no grace period. The bus's `remove` runs in the task
//! that then releases the list; a probe may not (PCI probes a device on its NUMA node's CPU,
//! in a worker, and the driver core releases the list from the probing task), so after a
//! failed probe every `Devres` waits for its own grace period, as one that is not drained does.
//!
//! C header: [`include/linux/device/devres.h`](srctree/include/linux/device/devres.h)
//!
//! # Examples
//!
//! ```
//! use kernel::{device::{Bound, Device}, devres::Devres};
//!
//! fn keep_counter(dev: &Device<Bound>) -> Result<Devres<u64>> {
//!     let counter = Devres::new(dev, 0u64, GFP_KERNEL)?;
//!     // With the bound device at hand, access is direct.
//!     assert_eq!(*counter.access(dev)?, 0);
//!     // Anywhere else, access goes through RCU and fails after unbind.
//!     assert_eq!(counter.try_access_with(|c| *c), Some(0));
//!     Ok(counter)
//! }
//! ```

use crate::{
    alloc::{Flags, KBox},
    bindings, c_str,
    device::{Bound, Device},
    error::{code::*, Error, Result},
    init::{InPlaceInit, PinInit},
    revocable::{Revocable, RevocableGuard},
    str::CStr,
    sync::Arc,
    types::{ARef, ForeignOwnable},
};
use core::{
    ffi::c_void,
    sync::atomic::{AtomicPtr, Ordering},
};
use macros::pin_data;

#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
mod tests;

/// What the single release callback of every [`Devres`] node asks of the shared state.
#[derive(Clone, Copy)]
enum Op {
    /// Revoke and drop the value, then the node's reference: the release at unbind.
    Release,
    /// [`Revocable::fence`] the value; returns whether this fenced it.
    Fence,
    /// [`Revocable::set_drained`] the value.
    Drain,
}

/// The payload of a [`Devres`] node: the shared state, from [`Arc::into_raw`], and the function
/// that knows its type.
#[derive(Clone, Copy)]
struct NodeData {
    inner: *const c_void,
    op: unsafe fn(*const c_void, Op) -> bool,
}

#[pin_data]
struct Inner<T> {
    dev: ARef<Device>,
    /// The task that fenced the value ([`revoke_begin`]), which releases it: it may still read
    /// it until then. Null until fenced.
    releaser: AtomicPtr<bindings::task_struct>,
    #[pin]
    data: Revocable<T>,
}

impl<T> Inner<T> {
    /// Returns a guard to the value if it is available, or if it is fenced and this task is the
    /// one that will release it.
    fn try_access(&self) -> Option<RevocableGuard<'_, T>> {
        self.data.try_access().or_else(|| {
            // SAFETY: `get_current()` has no precondition; the pointer is only compared.
            let current = unsafe { bindings::get_current() };
            if self.releaser.load(Ordering::Relaxed) != current {
                return None;
            }
            // This task fenced the value in the bus's `remove`, which the driver core calls
            // from the task that then releases the list (only `remove_device` calls
            // `revoke_begin`), so it is the task that releases the value: the revocation begins
            // only in its release callback for the value, which runs in this task after the
            // guard is gone (a guard is `!Send` and lives in a callback of the driver, which
            // has returned by then; a forgotten one can not be dereferenced), or in the
            // owner's drop, which needs the `Devres` not to be borrowed, as the guard borrows
            // it. What else runs as this task (an interrupt taken on its processor) is nested
            // in it and ends before it goes on.
            // SAFETY: So no revocation of the value begins while the guard lives.
            unsafe { self.data.try_access_unrevoked() }
        })
    }
}

/// A value that is revoked and dropped when the driver is unbound from the device; see the
/// [module documentation](self).
///
/// `T` is `'static`: the value may be dropped at unbind, by the driver core, after every borrow
/// the driver had could have ended (`core::mem::forget` of the `Devres` is safe, and the
/// release still drops the value then), so it must not borrow anything.
///
/// # Invariants
///
/// - A node allocated for `release` was added to the devres list of `inner.dev`; its
///   `NodeData` holds `op::<T>` and a reference to `inner` (from [`Arc::into_raw`]), which
///   belongs to whoever takes the node off the list: the release callback, or `drop` through
///   `devres_remove()`, which finds it by that pointer.
/// - `inner.data` is revoked no later than when the device's devres list is released, which
///   happens after the driver is unbound (or its probe failed).
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, devres::Devres};
///
/// struct SampleData {
///     // Dropped at unbind at the latest, even if `SampleData` lives on.
///     buf: Devres<KVec<u8>>,
/// }
///
/// fn probe(dev: &Device<Bound>) -> Result<SampleData> {
///     let buf = KVec::from_elem(0u8, 64, GFP_KERNEL)?;
///     Ok(SampleData { buf: Devres::new(dev, buf, GFP_KERNEL)? })
/// }
/// ```
pub struct Devres<T: Send + 'static> {
    inner: Arc<Inner<T>>,
}

// SAFETY: A `Devres` is an `Arc<Inner<T>>`; dropping it on another task drops `T` there, which
// `T: Send` allows, and sharing it hands out `&T`, which `T: Sync` allows.
unsafe impl<T: Send + Sync + 'static> Send for Devres<T> {}

// SAFETY: Shared access hands out `&T` to several tasks, which `T: Sync` allows.
unsafe impl<T: Send + Sync + 'static> Sync for Devres<T> {}

/// The devres release callback of every [`Devres`] node, whatever its `T`: one function, so
/// that [`revoke_begin`] finds them all.
///
/// # Safety
///
/// `res` must be the [`NodeData`] of a node allocated by [`Devres::new`], taken off the device's
/// list by the driver core.
unsafe extern "C" fn release(_dev: *mut bindings::device, res: *mut c_void) {
    // SAFETY: `Devres::new` wrote a `NodeData` into the node before adding it.
    let payload = unsafe { res.cast::<NodeData>().read() };
    // SAFETY: Taken off the list by the driver core, the node's reference is this callback's
    // to release; `op` is the function `Devres::new` paired with it.
    unsafe { (payload.op)(payload.inner, Op::Release) };
}

/// The operations on the shared state of a `Devres<T>`, reached from a node's payload.
///
/// # Safety
///
/// `inner` must come from `Arc::into_raw` of an `Arc<Inner<T>>` and be alive. For
/// [`Op::Release`] the caller must own that reference (a node taken off the list), which this
/// releases, and be outside any RCU read-side critical section; for [`Op::Drain`] a grace
/// period must have ended since the value was fenced.
unsafe fn op<T: Send + 'static>(inner: *const c_void, op: Op) -> bool {
    let inner = inner.cast::<Inner<T>>();
    match op {
        Op::Release => {
            // SAFETY: The caller owns this reference (function's contract).
            let inner = unsafe { Arc::from_raw(inner) };
            // The driver core releases the list from the unbinding task after the driver's
            // `remove` returned (or its probe failed). A guard is `!Send` and lives in a
            // callback of the driver, so not here. (A forgotten guard's open section is
            // reported at the next sleep, and the guard can not be dereferenced.) A drained
            // value is dropped without a grace period.
            // SAFETY: No guard of the driver's is alive here: this is outside any read-side
            // section (function's contract).
            unsafe { inner.data.revoke_shared() }
        }
        Op::Fence => {
            // SAFETY: `inner` is alive (function's contract).
            let inner = unsafe { &*inner };
            // SAFETY: `get_current()` has no precondition.
            let current = unsafe { bindings::get_current() };
            // Before the fence, so that this task reads the value until it releases it.
            inner.releaser.store(current, Ordering::Relaxed);
            inner.data.fence()
        }
        // SAFETY: `inner` is alive, and a grace period has ended since the fence (function's
        // contract).
        Op::Drain => unsafe { (*inner).data.set_drained() },
    }
}

/// Matches the node whose payload points to the shared state `data`, for `devres_remove()`.
///
/// A node is matched by the shared state it points to, not by its address: the state is kept
/// alive by the `Devres` that looks for it, so no other node can hold the same pointer, whereas
/// a node released at an unbind may be freed and its address reused by a later binding's node.
///
/// # Safety
///
/// `res` must be the payload of a node whose release function is [`release`]
/// (`devres_remove()` calls this only for nodes with the release function it is given).
unsafe extern "C" fn match_node(
    _dev: *mut bindings::device,
    res: *mut c_void,
    data: *mut c_void,
) -> core::ffi::c_int {
    // SAFETY: The payload of such a node is a `NodeData`, written before the node was added.
    let stored = unsafe { res.cast::<NodeData>().read() }.inner;
    (stored == data.cast_const()).into()
}

/// Fences every [`Devres`] on the device's list ([`Revocable::fence`]); the callback of
/// `devres_for_each_res()`, which calls it with the list's spinlock held.
///
/// # Safety
///
/// `res` must be the payload of a node whose release function is [`release`], on the list, and
/// `count` a `usize` to add the number of values fenced to.
unsafe extern "C" fn fence_node(_dev: *mut bindings::device, res: *mut c_void, count: *mut c_void) {
    // SAFETY: The payload of such a node is a `NodeData`.
    let payload = unsafe { res.cast::<NodeData>().read() };
    // SAFETY: While the node is on the list, its reference keeps `inner` alive; the list's lock
    // is held, so no task takes it off meanwhile. `op` belongs to the payload.
    if unsafe { (payload.op)(payload.inner, Op::Fence) } {
        // SAFETY: `count` is the caller's `usize` (function's contract).
        unsafe { *count.cast::<usize>() += 1 };
    }
}

/// Records for every fenced [`Devres`] on the device's list that no reader is inside
/// ([`Revocable::set_drained`]); the callback of `devres_for_each_res()`.
///
/// # Safety
///
/// `res` must be the payload of a node whose release function is [`release`], on the list, and
/// a grace period must have ended since every value on the list that is fenced was fenced.
unsafe extern "C" fn drain_node(_dev: *mut bindings::device, res: *mut c_void, _: *mut c_void) {
    // SAFETY: The payload of such a node is a `NodeData`.
    let payload = unsafe { res.cast::<NodeData>().read() };
    // SAFETY: `inner` is alive as in `fence_node`; a grace period has ended since the fence
    // (function's contract).
    unsafe { (payload.op)(payload.inner, Op::Drain) };
}

/// Begins the revocation of every [`Devres`] of the device's binding with one grace period:
/// fences them all, waits for one `synchronize_rcu()` (none if there is no `Devres`), and
/// records them drained, so that their release callbacks drop them without waiting; see
/// [one grace period per unbind](self#one-grace-period-per-unbind).
///
/// Values created after it returns are not drained and wait for a grace period of their own.
///
/// # Safety
///
/// `dev` must be a valid device whose driver is being unbound, with its device lock held, from
/// the task that then releases its devres list (the bus's `remove`), and the caller must not be
/// inside an RCU read-side critical section (the grace period would end at its own sleep, with
/// its reader still inside).
// Called by the bus adapters (`driver.rs`); at the steps of the patch series before them,
// nothing calls it.
#[allow(dead_code)]
pub(crate) unsafe fn revoke_begin(dev: *mut bindings::device) {
    crate::might_sleep!();
    let mut fenced = 0usize;
    // SAFETY: `dev` is valid; `fence_node` is given a `usize` to count in.
    unsafe { for_each_node(dev, fence_node, core::ptr::from_mut(&mut fenced).cast()) };
    if fenced == 0 {
        return;
    }
    // Every reader that saw a value available entered its read-side critical section before
    // the fence, so before this grace period began.
    crate::sync::rcu::synchronize_rcu();
    // No value on this list was fenced by another call: only this function fences the values
    // of a `Devres` node, its calls for a device are serialised by the device lock (the bus's
    // `remove` holds it), and each list is released before the next call for it.
    // SAFETY: `dev` is valid; every fenced value was fenced before the grace period that ended.
    unsafe { for_each_node(dev, drain_node, core::ptr::null_mut()) };
}

/// Calls `f` with `data` on every [`Devres`] node of the device's list, newest first, with the
/// list's spinlock held (`devres_for_each_res()`).
///
/// # Safety
///
/// `dev` must be a valid device, and `f` must accept `data` for every node whose release
/// function is [`release`], without sleeping.
unsafe fn for_each_node(
    dev: *mut bindings::device,
    f: unsafe extern "C" fn(*mut bindings::device, *mut c_void, *mut c_void),
    data: *mut c_void,
) {
    // SAFETY: `dev` is valid; `f` is called only for the nodes of `release`, which it accepts
    // (caller's guarantee).
    unsafe {
        bindings::devres_for_each_res(
            dev,
            Some(release),
            None,
            core::ptr::null_mut(),
            Some(f),
            data,
        )
    };
}

impl<T: Send + 'static> Devres<T> {
    /// Creates `data` and registers it to be revoked and dropped when the driver is unbound from
    /// `dev`.
    ///
    /// Fails with [`ENOMEM`] if memory runs out, or with the initialiser's error; nothing is kept
    /// then.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, devres::Devres};
    ///
    /// fn counters(dev: &Device<Bound>) -> Result<Devres<[u64; 4]>> {
    ///     let counters = Devres::new(dev, [0u64; 4], GFP_KERNEL)?;
    ///     assert_eq!(counters.access(dev)?[3], 0);
    ///     Ok(counters)
    /// }
    /// ```
    pub fn new(dev: &Device<Bound>, data: impl PinInit<T, Error>, flags: Flags) -> Result<Self> {
        let inner = Arc::pin_init(
            crate::try_pin_init!(Inner {
                dev: ARef::from(&**dev),
                releaser: AtomicPtr::new(core::ptr::null_mut()),
                data <- Revocable::new(data),
            }? Error),
            flags,
        )?;
        let payload = NodeData {
            inner: Arc::into_raw(inner.clone()).cast(),
            op: op::<T>,
        };
        // INVARIANT: Once added, the node is on the list of a bound device, so the list is
        // released no earlier than the unbind, and that release revokes `inner.data`.
        let name = c_str!("rust Devres");
        // SAFETY: `release` takes a `NodeData` whose reference comes from `Arc::into_raw` of an
        // `Arc<Inner<T>>` and whose `op` is `op::<T>`.
        if let Err(e) = unsafe { add_node(dev, release, payload, flags, name) } {
            // SAFETY: The node was not added: the reference is still ours.
            drop(unsafe { Arc::from_raw(payload.inner.cast::<Inner<T>>()) });
            return Err(e);
        }
        Ok(Self { inner })
    }

    /// Returns the value, given the bound device it was created for; [`EINVAL`] for another
    /// device, [`ENXIO`] if the value belongs to an earlier binding and has been released.
    ///
    /// This takes no lock, enters no RCU section and performs no atomic read-modify-write.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, devres::Devres};
    ///
    /// fn read(dev: &Device<Bound>, res: &Devres<u32>) -> Result<u32> {
    ///     Ok(*res.access(dev)?)
    /// }
    /// ```
    pub fn access<'a>(&'a self, dev: &'a Device<Bound>) -> Result<&'a T> {
        if self.inner.dev.as_raw() != dev.as_raw() {
            return Err(EINVAL);
        }
        // A value of an earlier binding of the same device was revoked at that unbind, before
        // the current binding began; a value of the current binding is available.
        if !self.inner.data.is_available() {
            return Err(ENXIO);
        }
        // No managed resource of the binding is released while `dev` is borrowed (type invariant
        // of `Device<Bound>`; interrupt handlers and bound work too, the bus stops them first).
        // SAFETY: The value belongs to the current binding of `dev` (checked above), so the
        // release that would revoke it can not start before `'a` ends (see above); the only
        // other revocation is `drop`, which needs `self` not to be borrowed.
        Ok(unsafe { self.inner.data.access() })
    }

    /// Returns a guard to the value, or `None` once it has been revoked.
    ///
    /// The guard holds an RCU read-side critical section: do not sleep while holding it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::devres::Devres;
    ///
    /// fn peek(res: &Devres<u32>) -> Result<u32> {
    ///     let guard = res.try_access().ok_or(ENXIO)?;
    ///     Ok(*guard)
    /// }
    /// ```
    pub fn try_access(&self) -> Option<RevocableGuard<'_, T>> {
        self.inner.try_access()
    }

    /// Runs `f` on the value inside an RCU read-side critical section, or returns `None` once
    /// the value has been revoked. `f` must not sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::devres::Devres;
    ///
    /// fn double(res: &Devres<u32>) -> Option<u32> {
    ///     res.try_access_with(|v| v * 2)
    /// }
    /// ```
    pub fn try_access_with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.inner.try_access().map(|guard| f(&guard))
    }

    /// Returns the device the value was created for.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::devres::Devres;
    ///
    /// fn log_owner(res: &Devres<u32>) {
    ///     kernel::dev_info!(res.device(), "holds a counter\n");
    /// }
    /// ```
    pub fn device(&self) -> &Device {
        &self.inner.dev
    }
}

impl<T: Send + 'static> Drop for Devres<T> {
    fn drop(&mut self) {
        // Waits for a release in progress, and dropping `T` may sleep.
        crate::might_sleep!();
        // Revoke first, then take the node off the list. Once this task has moved the value out
        // of `AVAILABLE`, a release callback that runs (an unbind racing this drop) loses the
        // revocation and waits until this drop has dropped the value, so the unbind does not
        // complete before it. Taking the node off the list first would leave a window in which
        // the unbind completes without it and the value is dropped after the driver is gone.
        // If the release callback is revoking already, this waits until it has dropped the
        // value. Either way without a grace period:
        // SAFETY: Readers reach the value only through a borrow of this `Devres` (`access`,
        // `try_access`, `try_access_with`); it is being dropped, so none is alive or can start.
        // The release callback holds `inner` but never reads the value.
        unsafe { self.inner.data.revoke_nosync() };
        // The same address as `Arc::into_raw` gave the node.
        let data = core::ptr::from_ref::<Inner<T>>(&self.inner)
            .cast_mut()
            .cast::<c_void>();
        // SAFETY: The device is alive (counted by `inner.dev`); `devres_remove()` calls
        // `match_node` only for nodes released by `release`, as it requires, and `data` is
        // only compared.
        let res = unsafe {
            bindings::devres_remove(
                self.inner.dev.as_raw(),
                Some(release),
                Some(match_node),
                data,
            )
        };
        if !res.is_null() {
            // SAFETY: The node was still on the list and is now ours: the release callback will
            // not run, so its reference to `inner` (the one `match_node` found) is ours to drop,
            // and the node ours to free.
            unsafe {
                drop(Arc::from_raw(
                    res.cast::<NodeData>().read().inner.cast::<Inner<T>>(),
                ));
                bindings::devres_free(res);
            }
        }
    }
}

/// Hands `data` to the device's managed resources: it is dropped when the driver is unbound,
/// after `remove` and before the driver data.
///
/// Every allocation it makes honours `flags` (the value's box and the devres node), so it may be
/// called from atomic context with `GFP_ATOMIC` (dropping the value at unbind happens in the
/// unbinding task). Fails with [`ENOMEM`] or the initialiser's error, in which case `data` is
/// dropped right away.
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, devres};
///
/// fn attach_buffer(dev: &Device<Bound>) -> Result {
///     devres::register(dev, [0u8; 64], GFP_KERNEL)
/// }
/// ```
pub fn register<T: Send + 'static>(
    dev: &Device<Bound>,
    data: impl PinInit<T, Error>,
    flags: Flags,
) -> Result {
    let payload = KBox::pin_init(data, flags)?.into_foreign().cast_mut();
    // SAFETY: `drop_box::<T>` takes a payload that is a pointer from `into_foreign()` of a
    // `Pin<KBox<T>>`.
    let added = unsafe { add_node(dev, drop_box::<T>, payload, flags, c_str!("rust register")) };
    if added.is_err() {
        // SAFETY: The node was not added: the box is still ours, reclaimed once here.
        drop(unsafe { core::pin::Pin::<KBox<T>>::from_foreign(payload) });
    }
    added
}

/// Adds to the devres list of `dev` a node whose payload is `payload` and whose release
/// callback is `release`, allocated with `flags`; [`ENOMEM`] if the node can not be allocated,
/// in which case the payload is not taken.
///
/// # Safety
///
/// `release` must accept a node whose payload is `payload`, and once the node is added it owns
/// what `payload` owns: the driver core calls it exactly once, at unbind at the latest, unless
/// the node is taken off the list with `devres_remove()` first. `P` must need no alignment
/// beyond a pointer's (the driver core aligns the payload for DMA, at least that).
unsafe fn add_node<P: Copy>(
    dev: &Device<Bound>,
    release: unsafe extern "C" fn(*mut bindings::device, *mut c_void),
    payload: P,
    flags: Flags,
    name: &'static CStr,
) -> Result {
    // SAFETY: `release` matches the payload, written below before the node is added; `name` is
    // a static C string.
    let node = unsafe {
        bindings::__devres_alloc_node(
            Some(release),
            core::mem::size_of::<P>(),
            flags.as_raw(),
            bindings::NUMA_NO_NODE,
            name.as_char_ptr(),
        )
    };
    if node.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `node` has room for a `P`, aligned for it (caller's guarantee).
    unsafe { node.cast::<P>().write(payload) };
    // SAFETY: `dev` is bound, so the list is released at unbind at the latest; `node` is a
    // complete devres node, and from here on `release` owns the payload (caller's guarantee).
    unsafe { bindings::devres_add(dev.as_raw(), node) };
    Ok(())
}

/// The devres release callback of a [`register`] node.
///
/// # Safety
///
/// `res` must be the payload of a node allocated by [`register`] for this `T`, taken off the
/// device's list by the driver core.
unsafe extern "C" fn drop_box<T: 'static>(_dev: *mut bindings::device, res: *mut c_void) {
    // SAFETY: The payload is the pointer `register` stored, from `into_foreign()` of a
    // `Pin<KBox<T>>`; the node is released exactly once.
    drop(unsafe { core::pin::Pin::<KBox<T>>::from_foreign(res.cast::<*mut c_void>().read()) });
}
