// SPDX-License-Identifier: GPL-2.0

//! The debug kernel reports a sleep inside an RCU read-side critical section.
//!
//! A sleeping function of the bindings announces that it may sleep (`might_sleep!()`), so that
//! on the debug kernel (non-preemptible RCU, `CONFIG_DEBUG_ATOMIC_SLEEP`) a call from inside a
//! `RevocableGuard` is reported where it happens. The type system refuses revoking a value
//! under one's own guard, but not every sleep under a guard, and not a leaked guard
//! (`core::mem::forget` is safe): this module commits both misuses on purpose, between the
//! markers `SLEEP-REPORT: begin` and `SLEEP-REPORT: end`, and `scripts/stress.sh` checks that
//! the kernel reported each of them (and that nothing else in the run reported anything).
//!
//! 1. `Revocable::wait_revoked()` (a function that may sleep) while a guard is held.
//! 2. The same after a guard was leaked: the section it opened is still open.
//! 3. `StreamingMapping::map()`, which may sleep (it allocates with `GFP_KERNEL`), in the hard
//!    interrupt handler of an `edu` device: a handler receives the bound device, and with it
//!    everything that takes one, also what may sleep; the kernel must report that call
//!    (`StreamingMapping::map_with()` with `GFP_ATOMIC` is the one to use there).
//!
//! The function announces that it may sleep on every call and sleeps only while a revocation
//! is in progress, so nothing really sleeps here: a real sleep in atomic context would make the
//! scheduler reset the preemption count, and the kernel would not go on sane.

use core::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use kernel::{
    c_str,
    delay::msleep,
    device::{Bound, Core, Device},
    device_id::IdArray,
    devres::Devres,
    dma::{DataDirection, StreamingMapping},
    driver::Registration,
    irq::{self, pci::IrqTypes, IrqReturn},
    pci,
    prelude::*,
    revocable::Revocable,
    sync::Arc,
};

type Bar = pci::Bar<0x100>;

/// Interrupts the handler took.
static HANDLED: AtomicUsize = AtomicUsize::new(0);
/// Whether a device is taken already: only the first one raises.
static TAKEN: AtomicUsize = AtomicUsize::new(0);

/// A hard handler that calls a function that may sleep.
struct SleepsInIrq {
    bar: Arc<Devres<Bar>>,
}

impl irq::Handler for SleepsInIrq {
    fn handle(&self, dev: &Device<Bound>) -> IrqReturn {
        let Ok(bar) = self.bar.access(dev) else {
            return IrqReturn::None;
        };
        let status = bar.read32::<0x24>();
        if status == 0 {
            return IrqReturn::None;
        }
        bar.write32::<0x64>(status);
        if let Ok(buf) = KVec::from_elem(0u8, 64, GFP_ATOMIC) {
            // 3. May sleep, in hard interrupt context. With memory to spare the allocation
            // takes its fast path and nothing sleeps; the mapping is dropped at once.
            drop(StreamingMapping::map(dev, buf, DataDirection::ToDevice));
        }
        HANDLED.fetch_add(1, SeqCst);
        IrqReturn::Handled
    }
}

struct SleepDriver {
    _irq: Option<Devres<irq::Registration<SleepsInIrq>>>,
}

static EDU: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);

impl pci::Driver for SleepDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        if TAKEN.fetch_add(1, SeqCst) != 0 {
            return Ok(KBox::pin(SleepDriver { _irq: None }, GFP_KERNEL)?);
        }
        let dev: &Device<Bound> = pdev.as_ref();
        pdev.enable_device_mem()?;
        pdev.set_master();
        let bar = Arc::new(
            pdev.iomap_region_sized::<0x100>(0, c_str!("rust_sleep_report"))?,
            GFP_KERNEL,
        )?;
        let vectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI)?;
        let handler = SleepsInIrq { bar: bar.clone() };
        let reg = irq::Registration::new(
            dev,
            vectors.vector(dev, 0)?,
            irq::Flags::NONE,
            c_str!("rust_sleep_report"),
            handler,
        )?;
        pr_info!("SLEEP-REPORT: may sleep in a hard interrupt handler\n");
        bar.access(dev)?.write32::<0x60>(1);
        for _ in 0..1000 {
            if HANDLED.load(SeqCst) != 0 {
                break;
            }
            msleep(1);
        }
        pr_info!(
            "SLEEP-REPORT: the handler ran {} time(s)\n",
            HANDLED.load(SeqCst)
        );
        Ok(KBox::pin(SleepDriver { _irq: Some(reg) }, GFP_KERNEL)?)
    }
}

struct SleepReport {
    _driver: Pin<KBox<Registration<pci::Adapter<SleepDriver>>>>,
}

impl kernel::Module for SleepReport {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let value = KBox::pin_init(Revocable::new(7u32), GFP_KERNEL)?;
        pr_info!("SLEEP-REPORT: begin\n");

        // 1. A function that may sleep, under a guard.
        if let Some(guard) = value.try_access() {
            pr_info!("SLEEP-REPORT: may sleep under a guard of {}\n", *guard);
            value.wait_revoked();
        }

        // The kernel reports a sleep in atomic context at most once a second.
        msleep(1100);

        // 2. The same after a leaked guard.
        core::mem::forget(value.try_access());
        pr_info!("SLEEP-REPORT: may sleep after a leaked guard\n");
        value.wait_revoked();
        // SAFETY: Closes the read-side critical section that the leaked guard opened on this
        // task (and nothing else), so that the kernel goes on sane.
        unsafe { kernel::bindings::rcu_read_unlock() };

        msleep(1100);
        // 3. Binding a driver for the edu devices runs the hard handler in its probe.
        let driver = KBox::pin_init(
            Registration::new(c_str!("rust_sleep_report"), module),
            GFP_KERNEL,
        )?;

        pr_info!("SLEEP-REPORT: end\n");
        Ok(SleepReport { _driver: driver })
    }
}

module! {
    type: SleepReport,
    name: "rust_sleep_report",
    author: "Rust for Linux Contributors",
    description: "Sleeps under an RCU guard and in an interrupt handler on purpose, for the debug kernel to report",
    license: "GPL v2",
}
