// SPDX-License-Identifier: GPL-2.0
//! Revoking a `Revocable` while this task still holds a guard of it: the revocation would wait
//! for this task's own read-side section (a deadlock), or on non-preemptible RCU end the wait at
//! its own sleep and drop the value under the guard.
// expect: E0599
// expect-message: no method named `revoke` found for reference `&Revocable<u32>`

use kernel::{prelude::*, revocable::Revocable};

/// Reads the value after revoking it under the guard.
pub fn revoke_and_read(r: &Revocable<u32>) -> Option<u32> {
    let guard = r.try_access()?;
    r.revoke();
    Some(*guard)
}
