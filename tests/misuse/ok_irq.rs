// SPDX-License-Identifier: GPL-2.0
//! The control of the interrupt cases: a handler that owns what it uses, registered in probe on
//! a vector of the device, and bound work that owns what it uses, compile.
// expect: ok

use kernel::{
    c_str,
    device::{Bound, Core, Device},
    devres::Devres,
    irq::{
        self,
        pci::IrqTypes,
        work::{BoundWork, WorkHandler},
        Flags, Handler, IrqReturn,
    },
    pci,
    prelude::*,
};

/// A handler with its own BAR mapping.
pub struct Owning {
    bar: Devres<pci::Bar<0x100>>,
}

impl Handler for Owning {
    fn handle(&self, dev: &Device<Bound>) -> IrqReturn {
        match self.bar.access(dev) {
            Ok(bar) => {
                bar.write32::<0x64>(bar.read32::<0x24>());
                IrqReturn::Handled
            }
            Err(_) => IrqReturn::None,
        }
    }
}

/// Registers the handler on the device's first vector.
pub fn listen(pdev: &pci::Device<Core>) -> Result<Devres<irq::Registration<Owning>>> {
    let vectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI | IrqTypes::INTX)?;
    let bar = pdev.iomap_region_sized::<0x100>(0, c_str!("ok-irq"))?;
    let dev: &Device<Bound> = pdev.as_ref();
    irq::Registration::new(dev, vectors.vector(dev, 0)?, Flags::SHARED, c_str!("ok-irq"), Owning { bar })
}

/// Work with its own counter.
pub struct Counting(core::sync::atomic::AtomicU32);

impl WorkHandler for Counting {
    fn run(&self, _dev: &Device<Bound>) {
        self.0.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    }
}

/// Creates the work and queues it once.
pub fn work(dev: &Device<Bound>) -> Result<Devres<BoundWork<Counting>>> {
    let work = BoundWork::new(dev, Counting(core::sync::atomic::AtomicU32::new(0)), GFP_KERNEL)?;
    work.access(dev)?.queue();
    Ok(work)
}

/// The driver's data, reached by type from a handler, and delayed work.
pub struct MyDriver {
    /// Events seen.
    pub events: core::sync::atomic::AtomicU32,
}

/// Counts an event in the driver data and arms the work for later.
pub fn event(dev: &Device<Bound>, work: &Devres<BoundWork<Counting>>) -> Result {
    let data: Pin<&MyDriver> = dev.drvdata::<MyDriver>()?;
    data.events.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    work.access(dev)?.queue_after(10);
    Ok(())
}
