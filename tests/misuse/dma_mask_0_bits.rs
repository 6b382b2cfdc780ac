// SPDX-License-Identifier: GPL-2.0
//! A zero-bit DMA mask built in probe (a post-monomorphization error).
// expect: E0080
// expect-message: a DMA mask has 1 to 64 bits

use kernel::{device::Core, dma::DmaMask, pci, prelude::*};

/// Sets an empty mask.
pub fn setup(pdev: &pci::Device<Core>) -> Result {
    pdev.as_ref().dma_set_mask(DmaMask::new::<0>())
}
