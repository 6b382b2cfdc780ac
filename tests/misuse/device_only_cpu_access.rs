// SPDX-License-Identifier: GPL-2.0
//! Reading memory allocated without a kernel mapping: the CPU has no address for it.
// expect: E0599
// expect-message: no method named `read` found for reference `&DeviceOnlyAllocation`

use kernel::{
    device::{Bound, Device},
    dma::DeviceOnlyAllocation,
    prelude::*,
};

/// Peeks at the device's scratch memory.
pub fn peek(dev: &Device<Bound>) -> Result<u8> {
    let area = DeviceOnlyAllocation::alloc(dev, 4096, GFP_KERNEL)?;
    area.access(dev)?.read(0)
}
