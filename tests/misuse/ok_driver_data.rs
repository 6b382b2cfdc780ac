// SPDX-License-Identifier: GPL-2.0
//! Control: driver data keeps a counted device (`ARef`), the way the misuse cases should have.
// expect: ok

use kernel::{
    device::{Bound, Core, Device},
    device_id::IdArray,
    pci,
    prelude::*,
    types::ARef,
};

/// Driver data.
pub struct Sample {
    pdev: ARef<pci::Device>,
    dev: ARef<Device>,
}

static TABLE: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);

impl pci::Driver for Sample {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        let plain: &pci::Device = pdev;
        let dev: &Device = pdev.as_ref();
        Ok(KBox::pin(
            Sample {
                pdev: plain.into(),
                dev: ARef::from(dev),
            },
            GFP_KERNEL,
        )?)
    }
}

static mut LAST: Option<ARef<Device>> = None;

/// Called from probe: a counted reference may be kept anywhere.
pub fn remember(pdev: &pci::Device<Core>) {
    let dev: &Device = pdev.as_ref();
    // SAFETY: Only called from probe, which the driver core serialises.
    unsafe { LAST = Some(dev.into()) };
}

/// Returns a counted reference, which outlives probe.
pub fn probe_and_keep(pdev: &pci::Device<Core>) -> ARef<Device> {
    let dev: &Device = pdev.as_ref();
    dev.into()
}

/// Uses the bound borrow for as long as it lasts; a copy of the reference is fine.
pub fn own(dev: &Device<Bound>) -> ARef<Device> {
    let again: &Device<Bound> = dev;
    ARef::from(&**again)
}

impl Sample {
    /// Uses both references.
    pub fn check(&self) -> bool {
        self.pdev.vendor_id() == 0x1234 && !self.dev.as_raw().is_null()
    }
}
