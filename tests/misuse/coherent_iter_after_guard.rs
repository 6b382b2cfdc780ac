// SPDX-License-Identifier: GPL-2.0
//! Keeping an iterator over coherent memory past the revocable guard it was made under.
// expect: E0597
// expect-message: `guard` does not live long enough

use kernel::{
    devres::Devres,
    dma::{CoherentAllocation, CoherentIter},
    prelude::*,
};

/// Sums the ring through an iterator kept past the guard: the memory may be freed by then.
pub fn sum(ring: &Devres<CoherentAllocation<u32>>) -> Result<u32> {
    let elements: CoherentIter<'_, u32>;
    {
        let guard = ring.try_access().ok_or(ENXIO)?;
        elements = guard.iter(0, guard.count())?;
    }
    Ok(elements.fold(0, u32::wrapping_add))
}
