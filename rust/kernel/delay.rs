// SPDX-License-Identifier: GPL-2.0

//! Delays and sleeps.
//!
//! C header: [`include/linux/delay.h`](srctree/include/linux/delay.h)

use crate::bindings;

/// Sleeps for at least `ms` milliseconds, as `msleep()` does; the task may sleep longer.
///
/// Must be called from a context that may sleep.
///
/// # Examples
///
/// ```
/// kernel::delay::msleep(1);
/// ```
pub fn msleep(ms: u32) {
    crate::might_sleep!();
    // SAFETY: `msleep()` has no memory-safety requirements; sleeping in atomic context is a bug
    // the kernel reports (with `CONFIG_DEBUG_ATOMIC_SLEEP`), not undefined behaviour.
    unsafe { bindings::msleep(ms) }
}
