// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for MSI-X, on QEMU's `e1000e` network device (8086:10d3), which has five MSI-X
//! vectors and no driver in the test kernel.
//!
//! The test driver allocates the MSI-X vectors and registers a handler on each. The device
//! routes four interrupt causes (receive queues 0 and 1, transmit queues 0 and 1) to vectors
//! through its IVAR register (a valid bit and a vector number per cause); writing a cause to the
//! cause-set register (ICS) raises it, one message on its vector, and the handler clears it
//! (ICR, write one to clear). Every vector a cause is routed to must count its raises;
//! bad inputs return their errors.

use super::{
    pci::{IrqType, IrqTypes, IrqVectors},
    Flags, Handler, IrqReturn, Registration,
};
use crate::{
    c_str,
    delay::msleep,
    device::{Bound, Core, Device},
    device_id::IdArray,
    devres::Devres,
    error::code::*,
    kunit::Test,
    pci::{
        self,
        testing::{probe_check, register_or_fail, Checks},
    },
    prelude::*,
    sync::Arc,
};
use core::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// The registers of the e1000e that the test uses.
const ICR: usize = 0xc0;
const ICS: usize = 0xc8;
const IMS: usize = 0xd0;
const IMC: usize = 0xd8;
const EIAC: usize = 0xdc;
const IVAR: usize = 0xe4;
/// The causes of receive queues 0 and 1 and transmit queues 0 and 1, bits 20 to 23.
const CAUSE_SHIFT: u32 = 20;
/// Causes routed to a vector each.
const ROUTED: usize = 4;
/// The MSI-X vectors of QEMU's e1000e.
const VECTORS: usize = 5;
/// Raises per routed cause.
const RAISES: usize = 8;

static E1000E: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x8086, 0x10d3), ())]);

static CHECKS: Checks = Checks::new();
static PROBES: AtomicUsize = AtomicUsize::new(0);
static COUNTS: [AtomicUsize; VECTORS] = [const { AtomicUsize::new(0) }; VECTORS];
static KIND_MSIX: AtomicUsize = AtomicUsize::new(0);

/// Counts the interrupts of one vector, and clears the cause routed to it.
struct Count {
    vector: usize,
    bar: Arc<Devres<Bar>>,
}

impl Handler for Count {
    fn handle(&self, dev: &Device<Bound>) -> IrqReturn {
        if self.vector < ROUTED {
            if let Ok(bar) = self.bar.access(dev) {
                // Write one to clear.
                bar.write32::<ICR>(1 << (CAUSE_SHIFT + self.vector as u32));
            }
        }
        COUNTS[self.vector].fetch_add(1, SeqCst);
        IrqReturn::Handled
    }
}

struct MsixDriver {
    _irqs: KVec<Devres<Registration<Count>>>,
    _vectors: Option<IrqVectors>,
}

type Bar = pci::Bar<0x100>;

/// Raises `cause` [`RAISES`] times and waits for vector `vector` to count each.
fn raise(bar: &Bar, cause: usize, vector: usize) -> bool {
    let start = COUNTS[vector].load(SeqCst);
    let bit = 1 << (CAUSE_SHIFT + cause as u32);
    for i in 0..RAISES {
        // Enabled again each time: the device may mask a cause once it has signalled it.
        bar.write32::<IMS>(bit);
        bar.write32::<ICS>(bit);
        let mut waited = 0;
        while COUNTS[vector].load(SeqCst) < start + i + 1 {
            if waited == 1000 {
                return false;
            }
            msleep(1);
            waited += 1;
        }
    }
    true
}

fn setup(pdev: &pci::Device<Core>) -> Result<Pin<KBox<MsixDriver>>> {
    let dev: &Device<Bound> = pdev.as_ref();
    pdev.enable_device_mem()?;
    // A message is a write of the device's.
    pdev.set_master();
    let bar = Arc::new(
        pdev.iomap_region_sized::<0x100>(0, c_str!("rust-irq-msix"))?,
        GFP_KERNEL,
    )?;
    let vectors = pdev.alloc_irq_vectors(1, VECTORS as u32, IrqTypes::MSIX)?;
    let is_msix = vectors.kind() == Some(IrqType::MsiX);
    KIND_MSIX.store(is_msix.into(), SeqCst);
    probe_check!(CHECKS, is_msix && vectors.count() == VECTORS as u32);
    // Bad inputs: an index past the vectors, a second allocation.
    probe_check!(
        CHECKS,
        vectors.vector(dev, vectors.count()).err() == Some(EINVAL)
    );
    probe_check!(
        CHECKS,
        pdev.alloc_irq_vectors(1, 1, IrqTypes::ALL).err() == Some(EBUSY)
    );
    let mut irqs = KVec::new();
    for i in 0..vectors.count() as usize {
        let line = vectors.vector(dev, i as u32)?;
        let count = Count {
            vector: i,
            bar: bar.clone(),
        };
        let reg = Registration::new(dev, line, Flags::NONE, c_str!("rust-irq-msix"), count)?;
        irqs.push(reg, GFP_KERNEL)?;
    }
    let bar = bar.access(dev)?;
    // Cause `i` to vector `i`: a valid bit (8) and the vector number, four bits per cause.
    let ivar = (0..ROUTED as u32).fold(0, |ivar, i| ivar | ((0x8 | i) << (4 * i)));
    let causes = ((1 << ROUTED) - 1) << CAUSE_SHIFT;
    bar.write32::<IVAR>(ivar);
    bar.write32::<EIAC>(causes);
    bar.write32::<IMS>(causes);
    for cause in 0..ROUTED {
        probe_check!(CHECKS, raise(bar, cause, cause));
    }
    bar.write32::<IMC>(causes);
    Ok(KBox::pin(
        MsixDriver {
            _irqs: irqs,
            _vectors: Some(vectors),
        },
        GFP_KERNEL,
    )?)
}

impl pci::Driver for MsixDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &E1000E;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        setup(pdev).inspect_err(|e| {
            crate::pr_err!("irq MSI-X test probe: {:?}\n", e);
            probe_check!(CHECKS, false);
        })
    }
}

/// Every MSI-X vector that a cause is routed to counts the cause's raises, each on its own
/// vector; the vectors and registrations go at unbind.
fn msix_vectors(test: &mut Test) {
    CHECKS.reset();
    PROBES.store(0, SeqCst);
    KIND_MSIX.store(0, SeqCst);
    for c in &COUNTS {
        c.store(0, SeqCst);
    }
    let Some(reg) = register_or_fail::<MsixDriver>(test, c_str!("rust_irq_msix_test")) else {
        return;
    };
    drop(reg);
    crate::kunit_expect_eq!(test, PROBES.load(SeqCst), 1);
    crate::kunit_expect_eq!(test, KIND_MSIX.load(SeqCst), 1);
    for count in COUNTS.iter().take(ROUTED) {
        crate::kunit_expect!(test, count.load(SeqCst) >= RAISES);
    }
    // Three checks, and one per routed cause.
    CHECKS.report(test, 3 + ROUTED);
    crate::pr_info!(
        "rust_irq_msix: MSI-X counts per vector {} {} {} {} {}\n",
        COUNTS[0].load(SeqCst),
        COUNTS[1].load(SeqCst),
        COUNTS[2].load(SeqCst),
        COUNTS[3].load(SeqCst),
        COUNTS[4].load(SeqCst)
    );
}

crate::kunit_suite!(rust_irq_msix, [msix_vectors]);
