// SPDX-License-Identifier: GPL-2.0
//! Revoking through the exclusive borrow that the safe `revoke` needs, while a guard of the
//! same value is alive.
// expect: E0502
// expect-message: cannot borrow `r` as mutable because it is also borrowed as immutable

use kernel::{prelude::*, revocable::Revocable};

/// Reads the value after revoking it under the guard.
pub fn revoke_and_read(mut r: Pin<KBox<Revocable<u32>>>) -> Option<u32> {
    let guard = r.try_access()?;
    r.as_mut().revoke();
    Some(*guard)
}
