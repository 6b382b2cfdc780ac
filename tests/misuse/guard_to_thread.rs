// SPDX-License-Identifier: GPL-2.0
//! Sending a revocable guard (an RCU read-side critical section) to another thread.
// expect: E0277
// expect-message: cannot be sent between threads safely

use kernel::{devres::Devres, kunit::thread, prelude::*};

/// Reads the counter on another thread under this thread's guard.
pub fn read(counter: &'static Devres<u64>) -> Result {
    let guard = counter.try_access().ok_or(ENXIO)?;
    thread::spawn(move || assert_eq!(*guard, 0))?.join();
    Ok(())
}
