// SPDX-License-Identifier: GPL-2.0
//! MMIO on a `Devres<Bar>` without going through `access`/`try_access` (which fail after unbind).
// expect: E0599
// expect-message: no method named `read32`

use kernel::{devres::Devres, pci};

/// Reads the id register of a BAR that may have been released.
pub fn id(bar: &Devres<pci::Bar<0x100>>) -> u32 {
    bar.read32::<0x00>()
}
