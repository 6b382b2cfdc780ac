// SPDX-License-Identifier: GPL-2.0
//! Changing the segment limits outside `probe`: mappings of the binding may be in flight.
// expect: E0599
// expect-message: no method named `dma_set_max_seg_size` found for reference `&kernel::device::Device<kernel::device::Bound>`

use kernel::{device::{Bound, Device}, prelude::*};

/// Called from an interrupt handler, say.
pub fn shrink(dev: &Device<Bound>) -> Result {
    dev.dma_set_max_seg_size(512)
}
