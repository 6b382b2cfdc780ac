// SPDX-License-Identifier: GPL-2.0
//! Revoking a `Revocable` while this task still holds a guard of it (an RCU read-side section
//! that the revocation would wait for, or end early on non-preemptible RCU).
// expect: E0502
// expect-message: cannot borrow `r` as mutable because it is also borrowed as immutable

use kernel::{prelude::*, revocable::Revocable};

/// Reads the value after revoking it under the guard.
pub fn revoke_and_read(mut r: Pin<KBox<Revocable<u32>>>) -> Option<u32> {
    let guard = r.try_access()?;
    r.as_mut().revoke();
    Some(*guard)
}
