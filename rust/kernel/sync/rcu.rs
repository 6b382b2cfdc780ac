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
/// Called inside a read-side critical section it can not do what it says: on preemptible RCU it
/// waits for its own caller and deadlocks, and on non-preemptible RCU its own sleep is a
/// quiescent state, so it returns while the caller's section is still open. Both are reported
/// by a debug kernel. Code that frees memory after this returns must therefore make sure that
/// it is not inside a critical section itself; see [`Revocable::revoke_shared`].
///
/// [`Revocable::revoke_shared`]: crate::revocable::Revocable::revoke_shared
///
/// # Examples
///
/// ```
/// kernel::sync::rcu::synchronize_rcu();
/// ```
pub fn synchronize_rcu() {
    crate::might_sleep!();
    #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
    GRACE_PERIODS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    // Misuse inside a read-side critical section is reported by the kernel (lockdep, and the
    // sleep check above); callers that free memory after it uphold what makes that sound.
    // SAFETY: `synchronize_rcu()` has no memory-safety precondition: it frees nothing.
    unsafe { bindings::synchronize_rcu() };
}

/// The number of calls of [`synchronize_rcu`], for the tests that count the grace periods an
/// operation waits for.
#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
pub(crate) static GRACE_PERIODS: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(0);

/// Announces that the calling function may sleep, as the C `might_sleep()` does.
///
/// A kernel built with `CONFIG_DEBUG_ATOMIC_SLEEP` reports a call from atomic context: from
/// inside an RCU read-side critical section (a [`Guard`], a `RevocableGuard`), with a spinlock
/// held, or from an interrupt handler. Every function of this crate that may sleep starts with
/// it, so that the misuse is reported where it happens, even on the paths that rarely sleep.
/// It does nothing in other kernels.
///
/// The report names the file and line of the call.
///
/// # Examples
///
/// ```
/// fn wait_for_readers() {
///     // Reported here, on every call, when called from atomic context.
///     kernel::might_sleep!();
///     kernel::sync::rcu::synchronize_rcu();
/// }
/// wait_for_readers();
/// ```
#[macro_export]
macro_rules! might_sleep {
    () => {
        $crate::sync::rcu::__might_sleep($crate::c_str!(::core::file!()), ::core::line!())
    };
}

/// The function behind [`might_sleep!`]; call the macro instead.
#[doc(hidden)]
#[inline]
pub fn __might_sleep(file: &'static crate::str::CStr, line: u32) {
    #[cfg(CONFIG_DEBUG_ATOMIC_SLEEP)]
    // SAFETY: `file` is a NUL-terminated static string, as `__might_sleep()` keeps the pointer
    // for its report.
    unsafe {
        bindings::__might_sleep(file.as_char_ptr(), line as core::ffi::c_int)
    };
    #[cfg(not(CONFIG_DEBUG_ATOMIC_SLEEP))]
    let _ = (file, line);
}
