// SPDX-License-Identifier: GPL-2.0
//! Keeping what `Devres::access` returned beyond the borrow of the bound device.
// expect: E0621
// expect-message: explicit lifetime required in the type of `dev`

use kernel::{
    device::{Bound, Device},
    devres::Devres,
    pci,
    prelude::*,
};

struct Sample {
    bar: Devres<pci::Bar<0x100>>,
}

impl Sample {
    /// Returns the registers for as long as the driver data lives, not the binding.
    fn regs<'a>(&'a self, dev: &Device<Bound>) -> Result<&'a pci::Bar<0x100>> {
        self.bar.access(dev)
    }
}

/// Uses the registers.
pub fn id(dev: &Device<Bound>, bar: Devres<pci::Bar<0x100>>) -> Result<u32> {
    let s = Sample { bar };
    Ok(s.regs(dev)?.read32::<0x00>())
}
