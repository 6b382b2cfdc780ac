// SPDX-License-Identifier: GPL-2.0

//! RCU, read-copy-update.
//!
//! A reader marks its read-side critical section with a [`Guard`] from [`read_lock`]; a writer
//! that has unpublished a value waits with [`synchronize_rcu`] until every reader that might
//! still see it has left its critical section, after which the value can be freed.
//!
//! Code inside a read-side critical section must not sleep.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use crate::bindings;
use core::marker::PhantomData;

/// An RCU read-side critical section; it ends when the guard is dropped.
///
/// The guard can not be sent to another thread: the section belongs to the task that entered
/// it.
///
/// # Invariants
///
/// The current task entered an RCU read-side critical section when the guard was created and
/// has not left it.
///
/// # Examples
///
/// ```
/// use kernel::sync::rcu;
///
/// let guard = rcu::read_lock();
/// // ... read RCU-protected data, without sleeping ...
/// drop(guard);
/// ```
#[must_use = "the critical section ends when the guard is dropped"]
pub struct Guard(PhantomData<*mut ()>);

impl Guard {
    /// Enters an RCU read-side critical section.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{revocable::Revocable, sync::rcu::Guard};
    ///
    /// let r = KBox::pin_init(Revocable::new(10u32), GFP_KERNEL)?;
    /// let guard = Guard::new();
    /// assert_eq!(r.try_access_with_guard(&guard), Some(&10));
    /// drop(guard);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn new() -> Self {
        // SAFETY: `rcu_read_lock()` may be called from any context; it is balanced by `drop`.
        unsafe { bindings::rcu_read_lock() };
        // INVARIANT: The critical section was just entered.
        Self(PhantomData)
    }

    /// Leaves the critical section explicitly; the same as dropping the guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::sync::rcu;
    ///
    /// let guard = rcu::read_lock();
    /// guard.unlock();
    /// // Outside the critical section, sleeping is allowed again.
    /// rcu::synchronize_rcu();
    /// ```
    #[inline]
    pub fn unlock(self) {}
}

impl Default for Guard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariant the current task is in the critical section that this
        // guard entered.
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// Enters an RCU read-side critical section, as `rcu_read_lock()` does.
///
/// # Examples
///
/// ```
/// let _guard = kernel::sync::rcu::read_lock();
/// ```
#[inline]
pub fn read_lock() -> Guard {
    Guard::new()
}

/// Waits until every RCU read-side critical section that had been entered when it was called
/// has ended, as `synchronize_rcu()` does. It sleeps.
///
/// # Examples
///
/// ```
/// kernel::sync::rcu::synchronize_rcu();
/// ```
pub fn synchronize_rcu() {
    // SAFETY: `synchronize_rcu()` may be called from any sleepable context; a Rust function
    // without a guard argument is not inside a read-side critical section of its own making.
    unsafe { bindings::synchronize_rcu() };
}
