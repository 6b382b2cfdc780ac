// SPDX-License-Identifier: GPL-2.0

//! Completions: a task waits for events that another context signals.
//!
//! A [`Completion`] counts the events signalled with [`Completion::complete`] and not yet
//! consumed; [`Completion::wait`] and [`Completion::wait_timeout`] consume one, sleeping until
//! there is one. Signalling never sleeps, so an interrupt handler may do it; waiting sleeps.
//!
//! C header: [`include/linux/completion.h`](srctree/include/linux/completion.h)

use crate::{bindings, prelude::*, types::Opaque};

/// A count of signalled events that tasks wait for (`struct completion`).
///
/// # Invariants
///
/// `inner` is an initialised `struct completion`.
///
/// # Examples
///
/// ```
/// use kernel::sync::{completion::Completion, Arc};
///
/// let done = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
/// done.complete();
/// // The event was signalled already: this returns at once.
/// assert!(done.wait_timeout(1000));
/// // No event is left.
/// assert!(!done.wait_timeout(1));
/// # Ok::<(), Error>(())
/// ```
#[pin_data]
pub struct Completion {
    #[pin]
    inner: Opaque<bindings::completion>,
}

// SAFETY: A `struct completion` may be signalled and waited for from any thread: its wait queue
// has its own lock.
unsafe impl Send for Completion {}

// SAFETY: As above; every method takes the completion's lock.
unsafe impl Sync for Completion {}

impl Completion {
    /// Creates a completion with no event signalled.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::sync::completion::Completion;
    ///
    /// let done = KBox::pin_init(Completion::new(), GFP_KERNEL)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes; `init_completion()` initialises it fully, and
            // it stays pinned.
            inner <- Opaque::ffi_init(|slot| unsafe { bindings::init_completion(slot) }),
        })
    }

    /// Signals one event, waking one waiter (`complete()`). Does not sleep: it may be called in
    /// any context, an interrupt handler among them.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::sync::completion::Completion;
    ///
    /// let done = KBox::pin_init(Completion::new(), GFP_KERNEL)?;
    /// done.complete();
    /// done.wait();
    /// # Ok::<(), Error>(())
    /// ```
    pub fn complete(&self) {
        // SAFETY: `inner` is initialised (type invariant).
        unsafe { bindings::complete(self.inner.get()) };
    }

    /// Waits until an event is signalled and consumes it (`wait_for_completion()`). Sleeps,
    /// without a limit; see [`Completion::wait_timeout`].
    ///
    /// # Examples
    ///
    /// See [`Completion::complete`].
    pub fn wait(&self) {
        crate::might_sleep!();
        // SAFETY: `inner` is initialised (type invariant).
        unsafe { bindings::wait_for_completion(self.inner.get()) };
    }

    /// Waits up to `ms` milliseconds for an event and consumes it
    /// (`wait_for_completion_timeout()`); returns whether there was one. Sleeps.
    ///
    /// # Examples
    ///
    /// See [`Completion`].
    pub fn wait_timeout(&self, ms: u32) -> bool {
        crate::might_sleep!();
        // SAFETY: `__msecs_to_jiffies()` has no preconditions.
        let timeout = unsafe { bindings::__msecs_to_jiffies(ms) };
        // SAFETY: `inner` is initialised (type invariant).
        unsafe { bindings::wait_for_completion_timeout(self.inner.get(), timeout) != 0 }
    }
}
