// SPDX-License-Identifier: GPL-2.0
//! Keeping the normal view of the bound device (`&Device`, not counted) in driver data.
// expect: E0521
// expect-message: borrowed data escapes

use kernel::{
    device::{Core, Device},
    device_id::IdArray,
    pci,
    prelude::*,
};

struct Sample {
    dev: &'static Device,
}

static TABLE: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);

impl pci::Driver for Sample {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        let dev: &Device = pdev.as_ref();
        Ok(KBox::pin(Sample { dev }, GFP_KERNEL)?)
    }
}
