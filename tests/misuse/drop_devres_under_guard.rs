// SPDX-License-Identifier: GPL-2.0
//! Dropping (revoking) a `Devres` while a guard to its value is still in use.
// expect: E0505
// expect-message: cannot move out of `bar` because it is borrowed

use kernel::{devres::Devres, pci, prelude::*};

/// Releases the BAR while still reading it.
pub fn id(bar: Devres<pci::Bar<0x100>>) -> Result<u32> {
    let guard = bar.try_access().ok_or(ENXIO)?;
    drop(bar);
    Ok(guard.read32::<0x00>())
}
