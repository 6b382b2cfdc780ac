// SPDX-License-Identifier: GPL-2.0
//! Keeping a bound device reference in driver data.
// expect: E0277 uncoded
// expect-message: cannot be shared between threads safely
// expect-message: lifetime may not live long enough

use kernel::{
    device::{Bound, Core},
    device_id::IdArray,
    pci,
    prelude::*,
};

struct Sample {
    pdev: &'static pci::Device<Bound>,
}

static TABLE: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);

impl pci::Driver for Sample {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        Ok(KBox::pin(Sample { pdev }, GFP_KERNEL)?)
    }
}
