// SPDX-License-Identifier: GPL-2.0
//! Control: a platform driver that keeps a counted device (`ARef`), has a table of platform ids
//! (19 bytes is the longest name) and an OF table, each with its module aliases, and uses what
//! the platform bus offers: its memory resources, an interrupt line, the DMA mask from the `Core`
//! context.
// expect: ok

use kernel::{
    c_str,
    device::{Bound, Core, Device},
    device_id::IdArray,
    devres::Devres,
    dma::DmaMask,
    irq::Irq,
    of, platform,
    prelude::*,
    types::ARef,
};

/// Driver data.
pub struct Sample {
    pdev: ARef<platform::Device>,
    regs: Devres<platform::IoMem<0x100>>,
    line: Irq,
}

static TABLE: IdArray<platform::DeviceId, u32, 1> =
    IdArray::new([(platform::DeviceId::new(c_str!("nineteen-bytes-name")), 1)]);
static OF_TABLE: IdArray<of::DeviceId, u32, 1> =
    IdArray::new([(of::DeviceId::new(c_str!("vendor,sample")), 2)]);

kernel::module_device_table!(platform, TABLE);
kernel::module_device_table!(of, OF_TABLE);

impl platform::Driver for Sample {
    type IdInfo = u32;
    const ID_TABLE: platform::IdTable<u32> = &TABLE;
    const OF_ID_TABLE: Option<of::IdTable<u32>> = Some(&OF_TABLE);

    fn probe(pdev: &platform::Device<Core>, _info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
        let dev: &Device<Core> = pdev.as_ref();
        dev.dma_set_mask_and_coherent(DmaMask::new::<32>())?;
        let _len = pdev.resource(0)?.size;
        let regs = pdev.ioremap_resource_sized::<0x100>(0)?;
        let line = pdev.irq(0)?;
        let plain: &platform::Device = pdev;
        Ok(KBox::pin(
            Sample {
                pdev: plain.into(),
                regs,
                line,
            },
            GFP_KERNEL,
        )?)
    }
}

impl Sample {
    /// Uses the driver data from a callback that holds the bound device.
    pub fn check(&self, dev: &Device<Bound>) -> Result<bool> {
        let id = self.regs.access(dev)?.read32::<0x00>();
        Ok(self.pdev.name().as_bytes() == b"nineteen-bytes-name"
            && id != 0
            && self.line.number() != 0)
    }
}
