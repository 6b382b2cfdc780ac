// SPDX-License-Identifier: GPL-2.0
//! Building DMA attributes from raw bits that are not `DMA_ATTR_*` flags, bypassing `try_from_raw`.
// expect: E0423
// expect-message: private field

use kernel::dma::Attrs;

/// Attributes with a bit that no allocation understands.
pub fn odd() -> Attrs {
    Attrs(1 << 31)
}
