// SPDX-License-Identifier: GPL-2.0
//! Interrupt vectors are allocated only in the `Core` context: the allocation changes the
//! device's MSI state, which must not race with another callback of the driver.
// expect: E0599

use kernel::{irq::pci::IrqTypes, pci, prelude::*};

/// Allocates vectors from a bound, but not locked, device.
pub fn vectors(pdev: &pci::Device<kernel::device::Bound>) -> Result {
    let _vectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI)?;
    Ok(())
}
