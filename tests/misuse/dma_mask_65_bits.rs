// SPDX-License-Identifier: GPL-2.0
//! A constant DMA mask wider than 64 bits.
// expect: E0080
// expect-message: a DMA mask has 1 to 64 bits

use kernel::dma::DmaMask;

/// The mask of a device that claims 65 address bits.
pub const WIDE: DmaMask = DmaMask::new::<65>();
