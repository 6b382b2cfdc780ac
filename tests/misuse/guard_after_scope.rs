// SPDX-License-Identifier: GPL-2.0
//! Using a value reached through a revocable guard after the guard's scope.
// expect: E0597
// expect-message: `guard` does not live long enough

use kernel::{devres::Devres, pci, prelude::*};

/// Reads the BAR through a reference kept past the guard.
pub fn id(bar: &Devres<pci::Bar<0x100>>) -> Result<u32> {
    let regs: &pci::Bar<0x100>;
    {
        let guard = bar.try_access().ok_or(ENXIO)?;
        regs = &guard;
    }
    Ok(regs.read32::<0x00>())
}
