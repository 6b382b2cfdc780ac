// SPDX-License-Identifier: GPL-2.0

//! A kernel spinlock that disables local interrupts while it is held.
//!
//! Data that an interrupt handler and process context both use needs a lock that the handler
//! can not interrupt the holder of: a plain [`SpinLock`] taken in process context and then in a
//! handler on the same CPU deadlocks. [`SpinLockIrq`] takes `spin_lock_irqsave()` and restores
//! the interrupt state on unlock, so it may be taken in any context, nested in another lock or
//! not.
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)
//!
//! [`SpinLock`]: super::spinlock::SpinLock

/// Creates a [`SpinLockIrq`] initialiser with the given name and a newly-created lock class.
///
/// It uses the name if one is given, otherwise it generates one based on the file name and line
/// number.
///
/// # Examples
///
/// ```
/// use kernel::{new_spinlock_irq, sync::SpinLockIrq};
///
/// let counter = KBox::pin_init(new_spinlock_irq!(0u32, "counter"), GFP_KERNEL)?;
/// *counter.lock() += 1;
/// assert_eq!(*counter.lock(), 1);
/// # Ok::<(), Error>(())
/// ```
#[macro_export]
macro_rules! new_spinlock_irq {
    ($inner:expr $(, $name:literal)? $(,)?) => {
        $crate::sync::SpinLockIrq::new(
            $inner, $crate::optional_name!($($name)?), $crate::static_lock_class!())
    };
}
pub use new_spinlock_irq;

/// A spinlock that disables local interrupts while it is held (`spin_lock_irqsave()`).
///
/// Share data with interrupt handlers through it; see the [module documentation](self). The
/// critical section must not sleep.
///
/// # Examples
///
/// ```
/// use kernel::{new_spinlock_irq, sync::SpinLockIrq};
///
/// struct Stats {
///     events: u64,
/// }
///
/// // Called from an interrupt handler and from process context alike.
/// fn event(stats: &SpinLockIrq<Stats>) {
///     stats.lock().events += 1;
/// }
///
/// let stats = KBox::pin_init(new_spinlock_irq!(Stats { events: 0 }), GFP_KERNEL)?;
/// event(&stats);
/// assert_eq!(stats.lock().events, 1);
/// # Ok::<(), Error>(())
/// ```
pub type SpinLockIrq<T> = super::Lock<T, SpinLockIrqBackend>;

/// The kernel `spinlock_t` backend of [`SpinLockIrq`], taken with interrupts disabled; its guard
/// state is the saved interrupt state.
pub struct SpinLockIrqBackend;

// SAFETY: The underlying kernel `spinlock_t` object ensures mutual exclusion; the saved flags
// are restored by the unlock of the same acquisition. `relock` uses the default implementation,
// which saves the interrupt state anew.
unsafe impl super::Backend for SpinLockIrqBackend {
    type State = bindings::spinlock_t;
    type GuardState = usize;

    unsafe fn init(
        ptr: *mut Self::State,
        name: *const crate::ffi::c_char,
        key: *mut bindings::lock_class_key,
    ) {
        // SAFETY: The safety requirements ensure that `ptr` is valid for writes, and `name` and
        // `key` are valid for read indefinitely.
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: The safety requirements of this function ensure that `ptr` points to valid
        // memory, and that it has been initialised before.
        unsafe { bindings::spin_lock_irqsave(ptr) }
    }

    unsafe fn unlock(ptr: *mut Self::State, guard_state: &Self::GuardState) {
        // SAFETY: The safety requirements of this function ensure that `ptr` is valid and that the
        // caller is the owner of the spinlock; `guard_state` holds the flags its lock saved.
        unsafe { bindings::spin_unlock_irqrestore(ptr, *guard_state) }
    }
}
