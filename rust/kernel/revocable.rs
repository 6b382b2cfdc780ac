// SPDX-License-Identifier: GPL-2.0

//! Revocable values: readers may use them until they are revoked, once.
//!
//! A [`Revocable<T>`] holds a value that readers reach through [`Revocable::try_access`] (a guard
//! that keeps an RCU read-side critical section open) or [`Revocable::try_access_with`] (a
//! closure run inside one). [`Revocable::revoke`] makes every later access fail, waits with
//! `synchronize_rcu()` until every reader that saw the value has finished, and then drops the
//! value in place.
//!
//! Revocation happens exactly once. When several tasks revoke at the same time, one of them
//! drops the value and the others wait until the drop has finished, so that every `revoke`
//! returns with the value gone.
//!
//! Readers hold an RCU read-side critical section and therefore must not sleep while they hold
//! a guard.
//!
//! Many values can be revoked with one grace period instead of one each: [`Revocable::fence`]
//! refuses new readers of each, a single `synchronize_rcu()` waits for the readers of all of
//! them, [`Revocable::set_drained`] records that for each, and their revocations then drop the
//! values without waiting again. This is how the driver core's unbind revokes every
//! [`Devres`](crate::devres::Devres) of a binding.
//!
//! # Examples
//!
//! ```
//! use kernel::revocable::Revocable;
//!
//! let mut r = KBox::pin_init(Revocable::new(42u32), GFP_KERNEL)?;
//! assert_eq!(r.try_access_with(|v| *v), Some(42));
//! assert!(r.as_mut().revoke());
//! assert_eq!(r.try_access_with(|v| *v), None);
//! // A second revocation finds nothing to drop.
//! assert!(!r.as_mut().revoke());
//! # Ok::<(), Error>(())
//! ```

use crate::{
    bindings,
    error::Error,
    init::{self, PinInit},
    sync::rcu,
    types::Opaque,
};
use core::{
    marker::PhantomData,
    ops::Deref,
    pin::Pin,
    ptr::NonNull,
    sync::atomic::{AtomicU8, Ordering},
};
use macros::{pin_data, pinned_drop};

/// The value is present and may be handed to readers.
const AVAILABLE: u8 = 0;
/// The value is present but refused to new readers ([`Revocable::fence`]); readers that saw it
/// available may still be inside.
const FENCED: u8 = 1;
/// The value is present, refused to new readers, and a grace period has ended since it was
/// fenced: no reader is inside ([`Revocable::set_drained`]).
const DRAINED: u8 = 2;
/// A revoker won the race and is waiting for readers or dropping the value.
const REVOKING: u8 = 3;
/// The value has been dropped.
const REVOKED: u8 = 4;

/// A value that can be revoked once; see the [module documentation](self).
///
/// # Invariants
///
/// - While `state` is `AVAILABLE`, `FENCED` or `DRAINED`, `data` holds a valid `T`.
/// - `state` only moves forward: `AVAILABLE` to `FENCED` ([`Revocable::fence`]), `FENCED` to
///   `DRAINED` once a grace period has ended after the fence; any of the three to `REVOKING`
///   (one revoker wins), `REVOKING` to `REVOKED` after `data` has been dropped.
/// - `done` is completed for all waiters exactly when `state` becomes `REVOKED`.
/// - A reader that saw `AVAILABLE` holds an RCU read-side critical section (or a guarantee of
///   its caller) until it stops using the reference. Only `try_access_unrevoked` hands the
///   value out in another state, to callers that guarantee that no revocation begins while
///   they read; so once a revocation of a `DRAINED` value begins, no reader is inside.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicBool, Ordering};
/// use kernel::revocable::Revocable;
///
/// static DROPPED: AtomicBool = AtomicBool::new(false);
/// struct Noisy;
/// impl Drop for Noisy {
///     fn drop(&mut self) {
///         DROPPED.store(true, Ordering::Relaxed);
///     }
/// }
///
/// let mut r = KBox::pin_init(Revocable::new(Noisy), GFP_KERNEL)?;
/// r.as_mut().revoke();
/// // The value is dropped by the revocation, not only with `r`.
/// assert!(DROPPED.load(Ordering::Relaxed));
/// # Ok::<(), Error>(())
/// ```
#[pin_data(PinnedDrop)]
pub struct Revocable<T> {
    state: AtomicU8,
    #[pin]
    done: Opaque<bindings::completion>,
    #[pin]
    data: Opaque<T>,
}

// SAFETY: The value may be dropped by whichever task revokes it, so `T: Send` suffices to send
// the container.
unsafe impl<T: Send> Send for Revocable<T> {}

// SAFETY: Shared references hand out `&T` to readers on several tasks (needs `T: Sync`) and let
// any task revoke, i.e. drop, the value (needs `T: Send`).
unsafe impl<T: Sync + Send> Sync for Revocable<T> {}

impl<T> Revocable<T> {
    /// Creates a revocable value from the value or an initialiser of it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::revocable::Revocable;
    ///
    /// let buf = KVec::from_elem(0u8, 16, GFP_KERNEL)?;
    /// // A `Revocable` is pinned, so it is initialised in place, here in a box.
    /// let r = KBox::pin_init(Revocable::new(buf), GFP_KERNEL)?;
    /// assert_eq!(r.try_access_with(|v| v.len()), Some(16));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(data: impl PinInit<T, Error>) -> impl PinInit<Self, Error> {
        // SAFETY: The closure initialises `done` (which cannot fail) and then `data`; on
        // failure of the latter nothing needs dropping (a completion has no destructor), and on
        // success every field is initialised. `slot` is pinned, as both fields need.
        unsafe {
            init::pin_init_from_closure(move |slot: *mut Self| {
                let done = Opaque::raw_get(core::ptr::addr_of!((*slot).done));
                bindings::init_completion(done);
                let value = Opaque::raw_get(core::ptr::addr_of!((*slot).data));
                data.__pinned_init(value)?;
                // INVARIANT: The value is initialised and available.
                core::ptr::addr_of_mut!((*slot).state).write(AtomicU8::new(AVAILABLE));
                Ok(())
            })
        }
    }

    /// Returns a guard to the value, or `None` if it has been revoked.
    ///
    /// The guard holds an RCU read-side critical section: do not sleep while holding it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::revocable::Revocable;
    ///
    /// let r = KBox::pin_init(Revocable::new(7u64), GFP_KERNEL)?;
    /// if let Some(v) = r.try_access() {
    ///     assert_eq!(*v, 7);
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_access(&self) -> Option<RevocableGuard<'_, T>> {
        let guard = rcu::read_lock();
        // SAFETY: The critical section lives in the returned guard as long as the reference.
        let data = unsafe { self.try_access_raw()? };
        // INVARIANT: The value was available inside the critical section that `guard` holds.
        Some(RevocableGuard {
            data: NonNull::from(data),
            _rcu: guard,
            _p: PhantomData,
        })
    }

    /// Returns the value for as long as the caller's RCU read-side critical section lasts, or
    /// `None` if it has been revoked.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{revocable::Revocable, sync::rcu};
    ///
    /// let r = KBox::pin_init(Revocable::new(1u8), GFP_KERNEL)?;
    /// let guard = rcu::read_lock();
    /// assert_eq!(r.try_access_with_guard(&guard), Some(&1));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_access_with_guard<'a>(&'a self, _guard: &'a rcu::Guard) -> Option<&'a T> {
        // SAFETY: The caller's guard keeps a critical section open for `'a`.
        unsafe { self.try_access_raw() }
    }

    /// Runs `f` on the value inside an RCU read-side critical section and returns its result,
    /// or `None` (without running `f`) if the value has been revoked.
    ///
    /// `f` must not sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::revocable::Revocable;
    ///
    /// let r = KBox::pin_init(Revocable::new(3u32), GFP_KERNEL)?;
    /// assert_eq!(r.try_access_with(|v| v * 2), Some(6));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_access_with<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        let guard = rcu::read_lock();
        let result = self.try_access_with_guard(&guard).map(f);
        drop(guard);
        result
    }

    /// Returns a guard to the value also when it is fenced or drained, or `None` once a
    /// revocation has begun.
    ///
    /// # Safety
    ///
    /// No revocation of the value may begin while the guard lives. The task that will revoke
    /// it, between the fence and its revocation, satisfies this, as does one that holds the
    /// only handle through which the value is revoked.
    pub(crate) unsafe fn try_access_unrevoked(&self) -> Option<RevocableGuard<'_, T>> {
        let guard = rcu::read_lock();
        if self.state.load(Ordering::Acquire) >= REVOKING {
            return None;
        }
        // INVARIANT: The value is present (type invariant: the state is before `REVOKING`) and
        // stays so while the guard lives (caller's guarantee), inside the guard's section.
        Some(RevocableGuard {
            // SAFETY: As above, the value is present.
            data: NonNull::from(unsafe { &*self.data.get() }),
            _rcu: guard,
            _p: PhantomData,
        })
    }

    /// # Safety
    ///
    /// The caller must hold an RCU read-side critical section for as long as it uses the
    /// returned reference.
    unsafe fn try_access_raw<'a>(&'a self) -> Option<&'a T> {
        if self.state.load(Ordering::Acquire) != AVAILABLE {
            return None;
        }
        // SAFETY: The value was available after the caller entered its critical section, so a
        // revoker that flips the state now waits in `synchronize_rcu()` for that section to end
        // before it drops the value (type invariants).
        Some(unsafe { &*self.data.get() })
    }

    /// Returns the value without checking whether it has been revoked.
    ///
    /// # Safety
    ///
    /// The caller must guarantee that the value has not been revoked and that no revocation
    /// starts for as long as the returned reference is used.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::revocable::Revocable;
    ///
    /// let r = KBox::pin_init(Revocable::new(5u32), GFP_KERNEL)?;
    /// // SAFETY: Nothing revokes `r` in this scope.
    /// assert_eq!(unsafe { *r.access() }, 5);
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn access(&self) -> &T {
        // SAFETY: The caller guarantees that the value is present and stays so.
        unsafe { &*self.data.get() }
    }

    /// Returns whether the value is still present: not revoked and no revocation in progress.
    ///
    /// This is a single load, with no RCU and no atomic read-modify-write; a `true` answer is
    /// only stable where the caller otherwise knows that no revocation can start.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::revocable::Revocable;
    ///
    /// let mut r = KBox::pin_init(Revocable::new(()), GFP_KERNEL)?;
    /// assert!(r.is_available());
    /// r.as_mut().revoke();
    /// assert!(!r.is_available());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn is_available(&self) -> bool {
        self.state.load(Ordering::Relaxed) == AVAILABLE
    }

    /// Refuses the value to new readers, without waiting for the readers inside and without
    /// dropping it; returns `true` if this call fenced it, `false` if it was fenced or revoked
    /// already.
    ///
    /// Never sleeps and takes no lock, so it may be called with a spinlock held. A later
    /// [`Revocable::revoke_shared`] still waits for a grace period, unless
    /// [`Revocable::set_drained`] has recorded that one ended since the fence.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::revocable::Revocable;
    ///
    /// let r = KBox::pin_init(Revocable::new(4u32), GFP_KERNEL)?;
    /// assert!(r.fence());
    /// assert!(r.try_access().is_none());
    /// assert!(!r.is_available());
    /// // Fenced once only.
    /// assert!(!r.fence());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn fence(&self) -> bool {
        // INVARIANT: Only `AVAILABLE` moves to `FENCED`; the value stays.
        self.state
            .compare_exchange(AVAILABLE, FENCED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Records that no reader is inside a fenced value any more, so that its revocation drops
    /// it without a grace period of its own; returns `true` if the value was fenced and is now
    /// drained, `false` in any other state (available, drained already, or being revoked).
    ///
    /// Never sleeps and takes no lock.
    ///
    /// # Safety
    ///
    /// An RCU grace period must have ended after the value was fenced: the caller fenced it
    /// with [`Revocable::fence`] and then waited with `synchronize_rcu()` (or learnt that a
    /// grace period ended since, with `poll_state_synchronize_rcu()` of a cookie taken after
    /// the fence).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{revocable::Revocable, sync::rcu};
    ///
    /// let a = KBox::pin_init(Revocable::new(1u32), GFP_KERNEL)?;
    /// let b = KBox::pin_init(Revocable::new(2u32), GFP_KERNEL)?;
    /// a.fence();
    /// b.fence();
    /// // One grace period for both.
    /// rcu::synchronize_rcu();
    /// // SAFETY: Both were fenced before the grace period that just ended.
    /// assert!(unsafe { a.set_drained() && b.set_drained() });
    /// // SAFETY: This task holds no guard and is not in a read-side critical section.
    /// // Neither revocation waits for another grace period.
    /// assert!(unsafe { a.revoke_shared() && b.revoke_shared() });
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn set_drained(&self) -> bool {
        // INVARIANT: The caller guarantees that a grace period ended after the fence, so no
        // reader that saw the value available is still inside.
        self.state
            .compare_exchange(FENCED, DRAINED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Revokes the value: later accesses fail and the value is dropped now.
    ///
    /// The value is taken exclusively, so no guard of it can be alive and no reader can start:
    /// no grace period is needed. Returns `true` if this call dropped the value, `false` if it
    /// had been revoked already.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::revocable::Revocable;
    ///
    /// let mut r = KBox::pin_init(Revocable::new(1u32), GFP_KERNEL)?;
    /// assert!(r.as_mut().revoke());
    /// assert!(!r.is_available());
    /// // Only the first call drops the value.
    /// assert!(!r.as_mut().revoke());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn revoke(self: Pin<&mut Self>) -> bool {
        // SAFETY: `self` is borrowed exclusively: no guard or reference from
        // `try_access_with_guard` is alive, and no access can start while this runs.
        unsafe { self.revoke_nosync() }
    }

    /// Revokes a value that other tasks may be reading: later accesses fail, readers that saw
    /// the value are waited for (`synchronize_rcu()`, unless [`Revocable::set_drained`] has
    /// recorded that none is inside), and then it is dropped.
    ///
    /// Returns `true` if this call dropped the value, `false` if another call did (in which case
    /// this one waits until that drop has finished). Sleeps.
    ///
    /// # Safety
    ///
    /// The caller must not be inside an RCU read-side critical section: in particular no
    /// [`RevocableGuard`] of this task may be alive, leaked or not. (On non-preemptible RCU the
    /// wait would otherwise end at the caller's own sleep and drop the value under its reader.)
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{revocable::Revocable, sync::Arc};
    ///
    /// let r = Arc::pin_init(Revocable::new(1u32), GFP_KERNEL)?;
    /// let reader = r.clone();
    /// assert_eq!(reader.try_access_with(|v| *v), Some(1));
    /// // SAFETY: This task holds no guard and is not in a read-side critical section.
    /// assert!(unsafe { r.revoke_shared() });
    /// assert!(reader.try_access().is_none());
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn revoke_shared(&self) -> bool {
        crate::might_sleep!();
        self.revoke_internal(true)
    }

    /// Revokes access and drops the value like [`Revocable::revoke_shared`], but without waiting
    /// for an RCU grace period: for an owner that knows no reader can be inside.
    ///
    /// Returns `true` if this call dropped the value. If another call is revoking, this one
    /// waits until that drop has finished, and so may sleep.
    ///
    /// # Safety
    ///
    /// No reader may hold access to the value: no [`RevocableGuard`] and no reference returned
    /// by [`Revocable::try_access_with_guard`] may be alive, and no such access may start
    /// concurrently. An owner of the only handle through which readers reach `self` (for example
    /// one dropping it, or holding `&mut` to it) satisfies this.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::revocable::Revocable;
    ///
    /// let r = KBox::pin_init(Revocable::new(3u8), GFP_KERNEL)?;
    /// // SAFETY: No reader exists: `r` was never shared.
    /// assert!(unsafe { r.revoke_nosync() });
    /// assert!(r.try_access().is_none());
    /// # Ok::<(), Error>(())
    /// ```
    pub unsafe fn revoke_nosync(&self) -> bool {
        self.revoke_internal(false)
    }

    /// Waits until a revocation that has started has dropped the value; returns at once if
    /// none has started. May sleep, when a revocation is in progress, and announces so on every
    /// call (`might_sleep!()`), so that a call from atomic context is reported also when it
    /// would not have slept.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::revocable::Revocable;
    ///
    /// let mut r = KBox::pin_init(Revocable::new(3u8), GFP_KERNEL)?;
    /// r.wait_revoked(); // Nothing to wait for.
    /// r.as_mut().revoke();
    /// r.wait_revoked(); // Done already.
    /// # Ok::<(), Error>(())
    /// ```
    pub fn wait_revoked(&self) {
        crate::might_sleep!();
        if self.state.load(Ordering::Acquire) == REVOKING {
            // SAFETY: `done` was initialised in `new`; the revoker that moved the state to
            // `REVOKING` completes it.
            unsafe { bindings::wait_for_completion(self.done.get()) };
        }
    }

    fn revoke_internal(&self, sync: bool) -> bool {
        let mut from = self.state.load(Ordering::Acquire);
        loop {
            if from >= REVOKING {
                // SAFETY: `done` was initialised in `new`; it is completed by the winning
                // revoker, which exists since the state has reached `REVOKING`.
                unsafe { bindings::wait_for_completion(self.done.get()) };
                return false;
            }
            match self
                .state
                .compare_exchange(from, REVOKING, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => from = now,
            }
        }
        // Every reader that saw `AVAILABLE` is inside an RCU read-side critical section that
        // began before the state left it; wait for all of them, unless a grace period has
        // ended since the fence (`DRAINED`). Without `sync` the caller guarantees there are
        // none.
        if sync && from != DRAINED {
            rcu::synchronize_rcu();
        }
        // This task won the only transition to `REVOKING`, so the value is still there and no
        // new reader can reach it. Old readers are gone: waited for above, drained (the readers
        // of `try_access_unrevoked` end before a revocation begins, by its contract), or none
        // by the contract of `revoke_nosync`.
        // SAFETY: So nothing else uses the value, which is dropped once.
        unsafe { core::ptr::drop_in_place(self.data.get()) };
        // INVARIANT: The value has been dropped; waiters are released only now.
        self.state.store(REVOKED, Ordering::Release);
        // SAFETY: `done` was initialised in `new`.
        unsafe { bindings::complete_all(self.done.get()) };
        true
    }
}

#[pinned_drop]
impl<T> PinnedDrop for Revocable<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The fields are not moved out of; only the state is read and the value dropped
        // in place.
        let this = unsafe { Pin::get_unchecked_mut(self) };
        // No reader or revoker can exist: they would borrow `self`. A revocation either
        // completed (`REVOKED`) or never started (the value may be fenced or drained).
        if *this.state.get_mut() < REVOKING {
            // SAFETY: The value is present (type invariant) and nobody else can reach it.
            unsafe { core::ptr::drop_in_place(this.data.get()) };
        }
    }
}

/// A reader's access to a [`Revocable`] value; holds an RCU read-side critical section.
///
/// The guard can not be sent to another task, and the value can not be dropped while it
/// exists.
///
/// # Invariants
///
/// `data` points to the value of a [`Revocable`] that was available after `_rcu` entered its
/// critical section, so it stays valid while `_rcu` keeps the section open.
///
/// It is a raw pointer, not a `&'a T`: a reference held in a value passed by value may be
/// assumed dereferenceable for the whole call of a function that receives the guard, also after
/// the function dropped the guard and so ended the critical section inside the call.
///
/// # Examples
///
/// ```
/// use kernel::revocable::Revocable;
///
/// let r = KBox::pin_init(Revocable::new(9i32), GFP_KERNEL)?;
/// let guard = r.try_access().ok_or(ENXIO)?;
/// assert_eq!(*guard, 9);
/// # Ok::<(), Error>(())
/// ```
pub struct RevocableGuard<'a, T> {
    data: NonNull<T>,
    _rcu: rcu::Guard,
    _p: PhantomData<(&'a T, *const ())>,
}

impl<T> Deref for RevocableGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The critical section is open while `self` is borrowed (type invariant).
        unsafe { self.data.as_ref() }
    }
}
