// SPDX-License-Identifier: GPL-2.0
//! Revoking a shared `Revocable` without `unsafe`: the caller must promise that it is not
//! inside a read-side critical section.
// expect: E0133
// expect-message: call to unsafe function `Revocable::<T>::revoke_shared` is unsafe

use kernel::{prelude::*, revocable::Revocable, sync::Arc};

/// Revokes a value other tasks may be reading.
pub fn revoke(r: &Arc<Revocable<u32>>) -> bool {
    r.revoke_shared()
}
