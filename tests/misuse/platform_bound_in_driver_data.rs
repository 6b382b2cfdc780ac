// SPDX-License-Identifier: GPL-2.0
//! Keeping a bound platform device reference in driver data, past the callback that lent it.
// expect: E0277 uncoded
// expect-message: cannot be shared between threads safely
// expect-message: lifetime may not live long enough

use kernel::{
    c_str,
    device::{Bound, Core},
    device_id::IdArray,
    platform,
    prelude::*,
};

struct Sample {
    pdev: &'static platform::Device<Bound>,
}

static TABLE: IdArray<platform::DeviceId, (), 1> =
    IdArray::new([(platform::DeviceId::new(c_str!("sample-timer")), ())]);

impl platform::Driver for Sample {
    type IdInfo = ();
    const ID_TABLE: platform::IdTable<()> = &TABLE;

    fn probe(pdev: &platform::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        Ok(KBox::pin(Sample { pdev }, GFP_KERNEL)?)
    }
}
