// SPDX-License-Identifier: GPL-2.0
//! Control: guards and `Devres::access` used within their borrows, `Send` values in `Devres`.
// expect: ok

use kernel::{
    device::{Bound, Device},
    devres::Devres,
    pci,
    prelude::*,
};

/// Reads the BAR while the guard lives.
pub fn id(bar: &Devres<pci::Bar<0x100>>) -> Result<u32> {
    let id;
    {
        let guard = bar.try_access().ok_or(ENXIO)?;
        id = guard.read32::<0x00>();
    }
    Ok(id)
}

/// Releases the BAR once done reading it.
pub fn id_and_release(bar: Devres<pci::Bar<0x100>>) -> Result<u32> {
    let guard = bar.try_access().ok_or(ENXIO)?;
    let id = guard.read32::<0x00>();
    drop(guard);
    drop(bar);
    Ok(id)
}

struct Sample {
    bar: Devres<pci::Bar<0x100>>,
}

impl Sample {
    /// The registers live as long as both the driver data and the device borrow.
    fn regs<'a>(&'a self, dev: &'a Device<Bound>) -> Result<&'a pci::Bar<0x100>> {
        self.bar.access(dev)
    }
}

/// Uses the registers.
pub fn id_bound(dev: &Device<Bound>, bar: Devres<pci::Bar<0x100>>) -> Result<u32> {
    let s = Sample { bar };
    Ok(s.regs(dev)?.read32::<0x00>())
}

/// A ring whose base is kept as an address.
pub struct Ring {
    base: usize,
}

/// Keeps the ring until unbind.
pub fn keep(dev: &Device<Bound>, base: *mut u8) -> Result<Devres<Ring>> {
    Devres::new(
        dev,
        Ring {
            base: base as usize,
        },
        GFP_KERNEL,
    )
}

/// Uses the ring.
pub fn base(ring: &Ring) -> usize {
    ring.base
}
