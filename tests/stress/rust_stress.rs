// SPDX-License-Identifier: GPL-2.0

//! Stress test of the Rust driver-core bindings on QEMU's `edu` devices (1234:11e8).
//!
//! The module registers a PCI driver whose probe allocates, through the bindings, one resource
//! of each kind: a [`Devres`] holding a payload whose drops are counted, the BAR
//! ([`pci::Device::iomap_region_sized`]), a [`CoherentAllocation`], a [`StreamingMapping`] and,
//! where the format is built, an ARM LPAE stage-1 [`IoPageTable`] that maps the coherent buffer
//! ([`IoPageTable::map_coherent`]). All of it lives in the driver data or in `Devres`, reachable
//! through an [`Arc`] that the driver data shares with a per-device slot.
//!
//! Two kernel threads per device read the slot in a loop and use the resources through
//! [`Devres::try_access`]: one starts small edu DMA transfers (from the coherent or the
//! streaming buffer to the device's buffer at 0x40000) and polls for their end, the other reads and writes registers, the
//! payload, the coherent buffer and the page table. They run on across every unbind and bind,
//! so that their accesses race the revocation; they count the accesses that found the resource
//! and those that found it revoked (`None`).
//!
//! Module init then runs, with the threads going:
//!
//! 1. `cycles` unbind/bind cycles, alternating over the bound devices;
//! 2. `fault_probes` probe attempts under allocation-fault injection (failslab and
//!    fail_page_alloc, configured by the caller with `task-filter` set; this module marks only
//!    its own task, and only around each attach), checking after each failed attempt that
//!    nothing the attempt allocated is still alive, and after each successful one that the
//!    unbind released the payload;
//!
//! stops and joins the threads, unbinds the devices, drops every resource and checks that no
//! payload and no resource is left. It prints one summary line and `STRESS-DONE`:
//!
//! ```text
//! STRESS: cycles=N accessors=N accesses=N revoked_seen=N dma=N irq_raised=N irq_handled=N
//!         fault_probes=N failed=N succeeded=N leaked=N errors=N misreads=N
//! ```
//!
//! (on one line) and returns 0 only if every check held. `scripts/stress.sh` builds it as an
//! external module and boots it on the debug kernel (KASAN, lockdep, kmemleak, debug objects,
//! DMA-API debug).
//!
//! Each binding also takes the device's MSI vector for a handler ([`irq::Registration`]) that
//! acknowledges and counts the interrupts the MMIO thread raises (edu's `INTR_RAISE` register,
//! written through [`Devres::try_access`]).
//!
//! # Removal mode
//!
//! With `removal=1` module init only registers the driver and starts the accessor threads, which
//! run until the module is unloaded, and the devices disappear from under the driver: the caller
//! removes them from the bus and brings them back (`remove` and `rescan` in sysfs, or a hot-unplug
//! and hot-plug of the slot), and each new `pci_dev` is probed and hands its resources to the
//! threads. Slots are matched by the device's name (its bus address, which a rescan gives the new
//! `pci_dev` again), so the probe of a device that replaced a removed one finds the removed
//! `pci_dev`, still referenced (`ARef<pci::Device>` and `ARef<device::Device>`, a zombie), and the
//! resources of its gone binding. It calls every method that these types offer in the `Normal`
//! context on the zombie, checks that the ids and sizes are those of the new device and that every
//! `Devres` of the gone binding refuses access and names the zombie as its device, prints through
//! it (`STRESS-ZOMBIE:` lines), and drops it all. The first transfer of each binding that completes
//! prints `STRESS-DMA-RUNNING` for its device. Unloading stops the threads, unbinds, drops every
//! resource and prints:
//!
//! ```text
//! STRESS-REMOVAL: probes=N zombies=N zombie_checks=N zombie_failed=N accessors=N accesses=N
//!         revoked_seen=N dma=N irq_raised=N irq_handled=N leaked=N errors=N misreads=N
//! ```
//!
//! (on one line) and `STRESS-REMOVAL-DONE ok` if every check held (`FAILED` otherwise).

use core::ffi::c_ulong;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use kernel::{
    bindings, c_str, dev_err, dev_info,
    device::{self, Bound, Core, RawDevice},
    device_id::IdArray,
    devres::Devres,
    dma::{CoherentAllocation, DataDirection, DmaAddress, DmaMask, StreamingMapping},
    driver::Registration,
    fmt,
    irq::{self, pci::IrqTypes, IrqReturn},
    kunit::thread,
    new_mutex, pci,
    prelude::*,
    str::CString,
    sync::{rcu, Arc, Mutex},
    time::Ktime,
    types::ARef,
};

#[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
use kernel::io_pgtable::{prot, ArmLpaeS1, Config, IoPageTable, NoFlush, PhysAddr};

/// The edu registers used here.
mod regs {
    pub(crate) const ID: usize = 0x00;
    pub(crate) const LIVENESS: usize = 0x04;
    pub(crate) const IRQ_STATUS: usize = 0x24;
    /// Writing a value ORs it into `IRQ_STATUS` and raises the interrupt.
    pub(crate) const IRQ_RAISE: usize = 0x60;
    /// Writing a value clears its bits in `IRQ_STATUS`.
    pub(crate) const IRQ_ACK: usize = 0x64;
    /// The `IRQ_STATUS` bit this module raises (edu itself uses 0x1 and 0x100).
    pub(crate) const RAISE_BIT: u32 = 0x1000;
    pub(crate) const DMA_SRC: usize = 0x80;
    pub(crate) const DMA_DST: usize = 0x88;
    pub(crate) const DMA_COUNT: usize = 0x90;
    pub(crate) const DMA_CMD: usize = 0x98;
    /// `DMA_CMD`: start a transfer (memory to device); cleared by the device when done.
    pub(crate) const DMA_START: u64 = 0x1;
    /// The extent of the registers above.
    pub(crate) const END: usize = 0x100;
}

type Bar = pci::Bar<{ regs::END }>;

/// The low byte of the identification register.
const ID_MAGIC: u32 = 0xed;
/// The device's buffer in its DMA address space.
const EDU_BUFFER: DmaAddress = 0x40000;
/// The size of the coherent buffer, of the streaming buffer and of each transfer.
const BUF_SIZE: usize = 4096;
/// The devices this module drives at most (QEMU runs with two).
const MAX_DEVICES: usize = 2;
/// A transfer takes 100 ms of the device's clock; polled every 10 ms, given up after 2 s.
const DMA_POLL_MS: u32 = 10;
const DMA_POLL_LIMIT: u32 = 200;
/// Pause of the DMA thread between transfers, so that an unbind often finds the engine idle.
const DMA_PAUSE_MS: u32 = 100;
/// Where the page table maps the coherent buffer.
#[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
const MMU_IOVA: usize = 0x10_0000_0000;
/// The value every payload holds.
const PAYLOAD_MAGIC: u64 = 0x5354_5245_5353_0001;

// Module parameters. Rust modules of this kernel have no parameter support in `module!`, so the
// `struct kernel_param` entries are laid out here by hand, in the `__param` section the module
// loader reads them from (what C's `module_param()` emits). The loader writes the values with
// `param_ops_ulong` while it parses the arguments, before `init` runs; the module reads them
// only in `init`.

/// The number of unbind/bind cycles, over all devices.
static CYCLES: AtomicUsize = AtomicUsize::new(10_000);
/// The number of probe attempts under fault injection.
static FAULT_PROBES: AtomicUsize = AtomicUsize::new(1_000);
/// Non-zero for the removal mode (see the module documentation).
static REMOVAL: AtomicUsize = AtomicUsize::new(0);

/// A `struct kernel_param` that may be a `static`.
#[repr(transparent)]
struct KernelParam(bindings::kernel_param);

// SAFETY: The entry is only read, by the module loader; the value it points to is an atomic of
// the size of `unsigned long`, written by the loader before `init` and read only afterwards.
unsafe impl Sync for KernelParam {}

/// Declares a module parameter of C type `unsigned long` stored in the `AtomicUsize` `$var` (its
/// description is in [`MODINFO_PARAMS`]).
macro_rules! ulong_param {
    ($entry:ident, $name:literal, $var:ident) => {
        #[link_section = "__param"]
        #[used]
        static $entry: KernelParam = KernelParam(bindings::kernel_param {
            name: concat!($name, "\0").as_ptr().cast(),
            // NULL: the parameter has no sysfs file (`perm` 0), so no module lock is needed.
            mod_: core::ptr::null_mut(),
            ops: core::ptr::addr_of!(bindings::param_ops_ulong),
            perm: 0,
            level: -1,
            flags: 0,
            __bindgen_anon_1: bindings::kernel_param__bindgen_ty_1 {
                arg: $var.as_ptr().cast(),
            },
        });
        const _: () = assert!(core::mem::size_of::<usize>() == core::mem::size_of::<c_ulong>());
    };
}
ulong_param!(PARAM_CYCLES, "cycles", CYCLES);
ulong_param!(PARAM_FAULT_PROBES, "fault_probes", FAULT_PROBES);
ulong_param!(PARAM_REMOVAL, "removal", REMOVAL);

/// `modinfo` descriptions of the parameters, as `MODULE_PARM_DESC()` and `module_param()` emit.
#[link_section = ".modinfo"]
#[used]
static MODINFO_PARAMS: [u8; 259] = *b"parmtype=cycles:ulong\0\
parm=cycles:unbind/bind cycles over all devices\0\
parmtype=fault_probes:ulong\0\
parm=fault_probes:probe attempts under fault injection\0\
parmtype=removal:ulong\0\
parm=removal:1 to keep the threads running until unload, for removals from outside\0";

// Counters.

/// Payloads alive (created and not yet dropped), over all generations.
static LIVE_PAYLOADS: AtomicUsize = AtomicUsize::new(0);
/// Resource handles alive (see [`Counted`]), over all generations.
static LIVE_RESOURCES: AtomicUsize = AtomicUsize::new(0);
/// The generation of the current probe attempt: objects remember the generation that created
/// them, and the `GEN_*` counters count only the live objects of the current one.
static GENERATION: AtomicU64 = AtomicU64::new(1);
static GEN_PAYLOADS: GenCounter = GenCounter::new();
static GEN_RESOURCES: GenCounter = GenCounter::new();

static ACCESSES: AtomicU64 = AtomicU64::new(0);
static REVOKED_SEEN: AtomicU64 = AtomicU64::new(0);
static DMA_DONE: AtomicU64 = AtomicU64::new(0);
/// Accesses that found a wrong value, and transfers that timed out.
static ACCESS_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Register reads that gave a wrong value which the immediate re-read corrected (see
/// [`checked_read`]).
static MISREADS: AtomicU64 = AtomicU64::new(0);
/// Probes that failed outside fault injection.
static PROBE_ERRORS: AtomicU64 = AtomicU64::new(0);
/// Interrupts raised by the MMIO thread, and those the handler acknowledged.
static IRQ_RAISED: AtomicU64 = AtomicU64::new(0);
static IRQ_HANDLED: AtomicU64 = AtomicU64::new(0);
/// Probes that succeeded.
static PROBES: AtomicU64 = AtomicU64::new(0);
/// Removed devices checked through their kept references, the checks made on them and those
/// that failed.
static ZOMBIES: AtomicU64 = AtomicU64::new(0);
static ZOMBIE_CHECKS: AtomicU64 = AtomicU64::new(0);
static ZOMBIE_FAILED: AtomicU64 = AtomicU64::new(0);
/// Whether the module runs in removal mode (set by init before the driver is registered).
static REMOVAL_MODE: AtomicBool = AtomicBool::new(false);
/// Time spent in the driver's `remove` (quiescing DMA), in nanoseconds.
static REMOVE_NS: AtomicU64 = AtomicU64::new(0);
/// Whether fault injection is on for the attach in progress (probe errors are expected then).
static INJECTING: AtomicBool = AtomicBool::new(false);

/// The number of live objects of one generation: the generation in the upper 32 bits, the count
/// in the lower 32, changed together so that an object of an older generation dropped while a
/// new one starts can not touch the new count.
struct GenCounter(AtomicU64);

impl GenCounter {
    const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Starts counting generation `gen` from zero.
    fn start(&self, gen: u64) {
        self.0.store(gen << 32, Ordering::SeqCst);
    }

    /// Adds `delta` (1 or -1) to the count if `gen` is the generation being counted.
    fn add(&self, gen: u64, delta: i64) {
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                (v >> 32 == gen & 0xffff_ffff).then(|| (v as i64 + delta) as u64)
            });
    }

    /// Returns the count if `gen` is the generation being counted.
    fn count(&self, gen: u64) -> Option<u32> {
        let v = self.0.load(Ordering::SeqCst);
        (v >> 32 == gen & 0xffff_ffff).then_some(v as u32)
    }
}

/// The value of the payload `Devres`; counts its own drops.
struct Payload {
    magic: u64,
    gen: u64,
}

impl Payload {
    fn new() -> Self {
        let gen = GENERATION.load(Ordering::SeqCst);
        LIVE_PAYLOADS.fetch_add(1, Ordering::SeqCst);
        GEN_PAYLOADS.add(gen, 1);
        Self {
            magic: PAYLOAD_MAGIC,
            gen,
        }
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        GEN_PAYLOADS.add(self.gen, -1);
        LIVE_PAYLOADS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A resource handle whose life is counted in [`LIVE_RESOURCES`] and [`GEN_RESOURCES`].
///
/// Dropping a handle releases its resource (a `Devres` revokes and drops its value, a streaming
/// mapping unmaps), so a handle that is gone is a resource that is gone.
struct Counted<T> {
    inner: T,
    gen: u64,
}

impl<T> Counted<T> {
    fn new(inner: T) -> Self {
        let gen = GENERATION.load(Ordering::SeqCst);
        LIVE_RESOURCES.fetch_add(1, Ordering::SeqCst);
        GEN_RESOURCES.add(gen, 1);
        Self { inner, gen }
    }
}

impl<T> core::ops::Deref for Counted<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> Drop for Counted<T> {
    fn drop(&mut self) {
        GEN_RESOURCES.add(self.gen, -1);
        LIVE_RESOURCES.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Everything one binding allocates.
struct Resources {
    payload: Counted<Devres<Payload>>,
    /// Shared with the interrupt handler.
    bar: Counted<Arc<Devres<Bar>>>,
    coherent: Counted<Arc<Devres<CoherentAllocation<u8>>>>,
    streaming: Counted<StreamingMapping<u8>>,
    #[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
    pgtable: Counted<Devres<IoPageTable<ArmLpaeS1, NoFlush>>>,
    /// The handler on the device's MSI vector.
    irq: Counted<Devres<irq::Registration<StressIrq>>>,
    /// Set by `remove`: no new transfer may start, no interrupt be raised.
    stopping: AtomicBool,
    /// Set when the first transfer of the binding completed (and, in removal mode, was reported).
    dma_reported: AtomicBool,
}

/// The interrupt handler: acknowledges the interrupts that [`mmio_round`] raises and counts them.
struct StressIrq {
    bar: Arc<Devres<Bar>>,
}

impl irq::Handler for StressIrq {
    fn handle(&self, dev: &device::Device<Bound>) -> IrqReturn {
        // The handler runs only while the driver is bound, so the mapping must be there.
        let Ok(bar) = self.bar.access(dev) else {
            error("irq handler: mapping revoked while bound");
            return IrqReturn::None;
        };
        let status = bar.read32::<{ regs::IRQ_STATUS }>();
        if status & regs::RAISE_BIT != 0 {
            bar.write32::<{ regs::IRQ_ACK }>(status);
            IRQ_HANDLED.fetch_add(1, Ordering::Relaxed);
        }
        // The MSI vector is the device's own: an interrupt whose raise an earlier call already
        // acknowledged (edu sends one message per raise) finds the status clear and is still
        // this device's.
        IrqReturn::Handled
    }
}

/// A device this module has seen, and the resources of its latest binding.
///
/// A device removed from the bus stays here (a zombie, with its generic device) until the probe
/// of the device that replaces it, at the same bus address, checks and drops it.
struct Slot {
    pdev: Option<ARef<pci::Device>>,
    dev: Option<ARef<device::Device>>,
    res: Option<Arc<Resources>>,
}

/// What a probe takes from the slot of its device.
struct Taken {
    i: usize,
    /// The previous binding's resources, of this `pci_dev` or of a removed predecessor.
    old: Option<Arc<Resources>>,
    /// The removed predecessor of this device and its generic device, if the device is new.
    zombie: Option<(ARef<pci::Device>, ARef<device::Device>)>,
}

/// Whether `a` and `b` have the same name: the bus address, which a rescan or a hot-plug into
/// the same slot gives the new `pci_dev` of a removed device.
fn same_name(a: &pci::Device, b: &pci::Device) -> bool {
    // SAFETY: PCI devices are never renamed; the names are only compared here.
    let (na, nb) = unsafe { (a.as_ref().name(), b.as_ref().name()) };
    na.as_bytes() == nb.as_bytes()
}

/// State shared by the driver, the threads and module init.
#[pin_data]
struct Shared {
    #[pin]
    slots: Mutex<[Slot; MAX_DEVICES]>,
    stop: AtomicBool,
}

impl Shared {
    /// Returns the resources of the latest binding of device `i`, if any.
    fn resources(&self, i: usize) -> Option<Arc<Resources>> {
        self.slots.lock()[i].res.clone()
    }

    /// Returns the devices seen so far.
    fn devices(&self) -> KVec<ARef<pci::Device>> {
        let mut v = KVec::new();
        for slot in self.slots.lock().iter() {
            if let Some(pdev) = &slot.pdev {
                // Allocation failure only shortens the list, which the caller checks.
                let _ = v.push(pdev.clone(), GFP_KERNEL);
            }
        }
        v
    }
}

/// The [`Shared`] state while the driver is registered (published before, cleared after).
static SHARED: AtomicPtr<Shared> = AtomicPtr::new(core::ptr::null_mut());

/// The driver data.
struct StressDriver {
    res: Arc<Resources>,
}

static ID_TABLE: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);

impl StressDriver {
    fn allocate(pdev: &pci::Device<Core>) -> Result<Resources> {
        let dev = pdev.as_ref();
        dev.dma_set_mask_and_coherent(DmaMask::new::<28>())?;
        pdev.enable_device_mem()?;
        pdev.set_master();

        let payload = Counted::new(Devres::new(dev, Payload::new(), GFP_KERNEL)?);
        let bar = pdev.iomap_region_sized::<{ regs::END }>(0, c_str!("rust_stress"))?;
        let bar = Counted::new(Arc::new(bar, GFP_KERNEL)?);
        let id = bar.access(dev)?.read32::<{ regs::ID }>();
        if id & 0xff != ID_MAGIC {
            return Err(ENODEV);
        }
        let coherent = CoherentAllocation::<u8>::alloc_coherent(dev, BUF_SIZE, GFP_KERNEL)?;
        let coherent = Counted::new(Arc::new(coherent, GFP_KERNEL)?);
        let buf = KVec::from_elem(0x5au8, BUF_SIZE, GFP_KERNEL)?;
        let streaming = Counted::new(StreamingMapping::map(dev, buf, DataDirection::ToDevice)?);
        #[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
        let pgtable = {
            let cfg = Config::new((1 << 12) | (1 << 21) | (1 << 30), 48, 48);
            // SAFETY: No hardware walks the table: nothing needs invalidating.
            let no_flush = unsafe { NoFlush::new() };
            let table = Counted::new(IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, cfg, no_flush)?);
            table
                .access(dev)?
                .map_coherent(dev, MMU_IOVA, &coherent, prot::READ | prot::WRITE)?;
            table
        };
        // The interrupt is set up without fault injection: the C core does not survive a failure
        // there. The maple-tree store of a new interrupt descriptor (`irq_insert_desc()`) only
        // warns when it fails, and `irq_domain_alloc_irqs_locked()` then dereferences the
        // missing descriptor; a `/proc/irq` entry that `request_irq()` failed to create
        // (`register_irq_proc()` ignores the failure) makes `free_irq()` warn in
        // `remove_proc_entry()`.
        let injecting = INJECTING.load(Ordering::SeqCst);
        if injecting {
            make_it_fail(false);
        }
        let irq = Self::request_irq(pdev, &bar);
        if injecting {
            make_it_fail(true);
        }
        let irq = Counted::new(irq?);
        Ok(Resources {
            payload,
            bar,
            coherent,
            streaming,
            #[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
            pgtable,
            irq,
            stopping: AtomicBool::new(false),
            dma_reported: AtomicBool::new(false),
        })
    }
}

impl StressDriver {
    /// Takes the device's MSI vector for a [`StressIrq`] handler that reaches the BAR through
    /// `bar`.
    fn request_irq(
        pdev: &pci::Device<Core>,
        bar: &Arc<Devres<Bar>>,
    ) -> Result<Devres<irq::Registration<StressIrq>>> {
        let dev: &device::Device<Bound> = pdev.as_ref();
        // Freed at unbind, after the registration on them.
        let vectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI)?;
        let handler = StressIrq {
            bar: Arc::clone(bar),
        };
        irq::Registration::new(
            dev,
            vectors.vector(dev, 0)?,
            irq::Flags::NONE,
            c_str!("rust_stress"),
            handler,
        )
    }
}

impl pci::Driver for StressDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &ID_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        let shared = SHARED.load(Ordering::Acquire);
        if shared.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: `SHARED` points to the state that module init keeps alive from before it
        // registers the driver until after the registration is dropped, which waits for every
        // probe to return.
        let shared = unsafe { &*shared };
        let this: &pci::Device = pdev;
        let raw = this.as_raw();
        // The slot of this device (by name), taken when it is first probed.
        let slot = {
            let mut slots = shared.slots.lock();
            match slots
                .iter()
                .position(|s| s.pdev.as_ref().is_some_and(|p| same_name(p, this)))
            {
                Some(i) => {
                    let slot = &mut slots[i];
                    let old = slot.res.take();
                    // A different `pci_dev` of the same name: the old one was removed.
                    let zombie = if slot.pdev.as_ref().is_some_and(|p| p.as_raw() != raw) {
                        let pdev = slot.pdev.replace(this.into());
                        let dev = slot.dev.replace(ARef::from(this.as_ref()));
                        pdev.zip(dev)
                    } else {
                        None
                    };
                    Ok(Taken { i, old, zombie })
                }
                None => match slots.iter().position(|s| s.pdev.is_none()) {
                    Some(i) => {
                        slots[i].pdev = Some(this.into());
                        slots[i].dev = Some(ARef::from(this.as_ref()));
                        Ok(Taken {
                            i,
                            old: None,
                            zombie: None,
                        })
                    }
                    None => Err(ENOSPC),
                },
            }
        };
        let result = slot.and_then(|Taken { i, old, zombie }| {
            if let Some((zpdev, zdev)) = &zombie {
                zombie_checks(zpdev, zdev, old.as_deref(), this);
            }
            // The previous binding's (revoked) resources go first, outside the lock (dropping
            // them sleeps), and before this binding adds nodes to the device's devres list:
            // `Devres::drop` looks its node up by address, and its node was freed at the unbind.
            // Those of a removed predecessor are on its own list; it goes with them.
            drop(old);
            drop(zombie);
            let res = Arc::new(Self::allocate(pdev)?, GFP_KERNEL)?;
            let this = KBox::pin(StressDriver { res: res.clone() }, GFP_KERNEL)?;
            // Published last, so that a failed probe leaves nothing behind.
            shared.slots.lock()[i].res = Some(res);
            Ok(this)
        });
        match &result {
            Ok(_) => {
                PROBES.fetch_add(1, Ordering::SeqCst);
            }
            Err(e) if !INJECTING.load(Ordering::SeqCst) => {
                dev_err!(pdev, "STRESS: probe failed: {:?}\n", e);
                PROBE_ERRORS.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => {}
        }
        result
    }

    fn remove(pdev: &pci::Device<Core>, this: Pin<&Self>) {
        let start = Ktime::ktime_get();
        Self::quiesce(pdev, &this.res);
        REMOVE_NS.fetch_add(elapsed_ns(start), Ordering::Relaxed);
    }
}

impl StressDriver {
    /// Stops the DMA engine of the binding whose resources are `res`.
    fn quiesce(pdev: &pci::Device<Core>, res: &Resources) {
        // Quiesce the DMA engine and the interrupt: no thread starts a transfer or raises an
        // interrupt once it sees `stopping`, and those that did before are out of their RCU
        // sections after the grace period.
        res.stopping.store(true, Ordering::SeqCst);
        rcu::synchronize_rcu();
        if let Ok(bar) = res.bar.access(pdev.as_ref()) {
            let start = Ktime::ktime_get();
            let mut idle = false;
            for _ in 0..DMA_POLL_LIMIT {
                if bar.read64::<{ regs::DMA_CMD }>() & regs::DMA_START == 0 {
                    idle = true;
                    break;
                }
                kernel::delay::msleep(DMA_POLL_MS);
            }
            if !idle {
                pr_err!(
                    "STRESS-ERROR: DMA engine busy for {} ms\n",
                    elapsed_ns(start) / 1_000_000
                );
                error("remove: DMA engine still busy");
            }
            // No status may stay raised once the vectors are freed: edu would then assert its
            // INTx line, which no driver handles.
            let status = bar.read32::<{ regs::IRQ_STATUS }>();
            bar.write32::<{ regs::IRQ_ACK }>(status);
        }
    }
}

/// The checks of one removed device.
struct ZombieCheck<'a> {
    dev: &'a device::Device,
    checks: u64,
    failed: u64,
}

impl ZombieCheck<'_> {
    /// Counts one check, `what` being printed if it failed.
    fn check(&mut self, what: &str, ok: bool) {
        self.checks += 1;
        if !ok {
            self.failed += 1;
            dev_err!(self.dev, "STRESS-ZOMBIE: check failed: {}\n", what);
        }
    }
}

/// Calls every method of the `Normal` context on the removed device `old` and its generic
/// device `dev` (the references that the slot kept past the removal), compares what they give
/// with the device `new` that replaced it at the same bus address, and checks that every
/// `Devres` of the gone binding, `res`, refuses access and names `dev` as its device.
///
/// Not callable on a removed device, by design: `drvdata`, `parent`, the configuration space,
/// BAR mapping and every other method of the `Bound` and `Core` contexts.
fn zombie_checks(
    old: &pci::Device,
    dev: &device::Device,
    res: Option<&Resources>,
    new: &pci::Device,
) {
    let mut z = ZombieCheck {
        dev,
        checks: 0,
        failed: 0,
    };
    z.check("a new pci_dev", old.as_raw() != new.as_raw());
    z.check(
        "vendor_id",
        old.vendor_id() == 0x1234 && old.vendor_id() == new.vendor_id(),
    );
    z.check(
        "device_id",
        old.device_id() == 0x11e8 && old.device_id() == new.device_id(),
    );
    z.check(
        "subsystem_vendor_id",
        old.subsystem_vendor_id() == new.subsystem_vendor_id(),
    );
    z.check(
        "subsystem_device_id",
        old.subsystem_device_id() == new.subsystem_device_id(),
    );
    z.check("class", old.class() == new.class());
    z.check("revision_id", old.revision_id() == new.revision_id());
    let len = old.resource_len(0);
    z.check(
        "resource_len(0)",
        len == new.resource_len(0) && len.is_ok_and(|n| n >= regs::END as u64),
    );
    z.check("resource_len(6)", old.resource_len(6) == Err(EINVAL));
    z.check(
        "cfg_size",
        old.cfg_size() == new.cfg_size() && old.cfg_size() >= 256,
    );
    let generic: &device::Device = old.as_ref();
    z.check("as_ref", generic.as_raw() == dev.as_raw());
    z.check(
        "raw_device and as_device",
        old.raw_device() == dev.as_raw() && old.as_device().as_raw() == dev.as_raw(),
    );
    z.check(
        "RawDevice of the generic device",
        dev.raw_device() == dev.as_raw(),
    );
    // SAFETY: PCI devices are never renamed; the names are only compared here.
    let names = unsafe { (dev.name().as_bytes(), new.as_ref().name().as_bytes()) };
    z.check("name", names.0 == names.1);
    z.check("same_name", same_name(old, new));
    let debug = CString::try_from_fmt(fmt!("{:?}", dev));
    let want = CString::try_from_fmt(fmt!("Device({:p})", dev.as_raw()));
    z.check(
        "Debug",
        matches!((&debug, &want), (Ok(a), Ok(b)) if a.as_bytes() == b.as_bytes()),
    );
    // Counted references: taken and dropped again (`pci_dev_get`/`put`, `get_device`/`put`).
    let pdev2: ARef<pci::Device> = old.into();
    z.check("ARef<pci::Device> clone", pdev2.as_raw() == old.as_raw());
    drop(pdev2);
    let dev2: ARef<device::Device> = dev.into();
    z.check("ARef<device::Device> clone", dev2.as_raw() == dev.as_raw());
    drop(dev2);
    // Printing, through `dev_printk()`: `scripts/stress.sh` counts these lines.
    dev_info!(
        old,
        "STRESS-ZOMBIE: {:04x}:{:04x} subsystem {:04x}:{:04x} class {:06x} rev {} bar0 {:?} cfg {}\n",
        old.vendor_id(),
        old.device_id(),
        old.subsystem_vendor_id(),
        old.subsystem_device_id(),
        old.class(),
        old.revision_id(),
        len,
        old.cfg_size()
    );
    dev.printk(
        bindings::KERN_INFO,
        fmt!("STRESS-ZOMBIE: {:?} still referenced\n", dev),
    );
    match res {
        Some(res) => {
            z.check("payload try_access", res.payload.try_access().is_none());
            z.check(
                "payload try_access_with",
                res.payload.try_access_with(|p| p.magic).is_none(),
            );
            z.check("bar try_access", res.bar.try_access().is_none());
            z.check(
                "bar try_access_with",
                res.bar
                    .try_access_with(|bar| bar.read32::<{ regs::ID }>())
                    .is_none(),
            );
            z.check("coherent try_access", res.coherent.try_access().is_none());
            z.check("irq try_access", res.irq.try_access().is_none());
            #[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
            z.check("pgtable try_access", res.pgtable.try_access().is_none());
            let owners = [
                res.payload.device(),
                res.bar.device(),
                res.coherent.device(),
                res.irq.device(),
                #[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
                res.pgtable.device(),
            ];
            for owner in owners {
                z.check("Devres::device", owner.as_raw() == dev.as_raw());
            }
        }
        None => z.check("the removed device had a binding", false),
    }
    ZOMBIES.fetch_add(1, Ordering::SeqCst);
    ZOMBIE_CHECKS.fetch_add(z.checks, Ordering::SeqCst);
    ZOMBIE_FAILED.fetch_add(z.failed, Ordering::SeqCst);
}

/// Counts one access that found its resource (`true`) or found it revoked.
fn seen(available: bool) -> bool {
    if available {
        ACCESSES.fetch_add(1, Ordering::Relaxed);
    } else {
        REVOKED_SEEN.fetch_add(1, Ordering::Relaxed);
    }
    available
}

/// Counts one error of an accessor, the handler or `remove`, and names it in the log.
fn error(what: &str) {
    ACCESS_ERRORS.fetch_add(1, Ordering::SeqCst);
    pr_err!("STRESS-ERROR: {}\n", what);
}

/// Accesses registers of the live binding `res` with `read` (a read, or a write and a read) and
/// checks the value it returns with `ok`; after a wrong value, `read` runs once more.
///
/// A wrong value that the immediate second attempt corrects is counted as a misread, not an
/// error: the binding maps the BAR once and the mapping does not change while the binding lives,
/// so two attempts through the same mapping that disagree are the emulator's. QEMU's
/// multi-threaded TCG gives such accesses while another vCPU sizes the BARs of the other,
/// rescanned, device: the edu ID read as 0x18, a `LIVENESS` write lost (the read gave the
/// previous round's value). A value that stays wrong is an error.
fn checked_read(res: &Resources, what: &str, read: impl Fn() -> u32, ok: impl Fn(u32) -> bool) {
    let first = read();
    if ok(first) {
        return;
    }
    let again = read();
    if ok(again) {
        MISREADS.fetch_add(1, Ordering::SeqCst);
        dev_info!(
            res.bar.device(),
            "STRESS-MISREAD: {} {:#x}, then {:#x}\n",
            what,
            first,
            again
        );
    } else {
        dev_err!(
            res.bar.device(),
            "STRESS-ERROR: {} {:#x}, then {:#x}\n",
            what,
            first,
            again
        );
        error("mmio: register value");
    }
}

/// One round of the MMIO thread: registers, payload, coherent buffer, page table.
fn mmio_round(res: &Resources, round: u32) {
    match res.bar.try_access() {
        Some(bar) => {
            seen(true);
            checked_read(res, "ID", || bar.read32::<{ regs::ID }>(), |id| {
                id & 0xff == ID_MAGIC
            });
            checked_read(
                res,
                "LIVENESS",
                || {
                    bar.write32::<{ regs::LIVENESS }>(round);
                    bar.read32::<{ regs::LIVENESS }>()
                },
                |v| v == !round,
            );
            // An interrupt every other round, for the handler to acknowledge; none once `remove`
            // has begun (see `quiesce`).
            if round % 2 == 0 && !res.stopping.load(Ordering::SeqCst) {
                bar.write32::<{ regs::IRQ_RAISE }>(regs::RAISE_BIT);
                IRQ_RAISED.fetch_add(1, Ordering::Relaxed);
            }
        }
        None => {
            seen(false);
        }
    }
    match res.payload.try_access_with(|p| p.magic) {
        Some(magic) => {
            seen(true);
            if magic != PAYLOAD_MAGIC {
                error("mmio: payload magic");
            }
        }
        None => {
            seen(false);
        }
    }
    // The first half of the buffer is what the DMA thread sends; this thread uses the rest.
    let i = BUF_SIZE / 2 + (round as usize % (BUF_SIZE / 2));
    match res.coherent.try_access() {
        Some(buf) => {
            seen(true);
            let v = round as u8;
            if buf.write(i, v).is_err() || buf.read(i) != Ok(v) {
                error("mmio: coherent buffer read back");
            }
        }
        None => {
            seen(false);
        }
    }
    #[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
    match (res.pgtable.try_access(), res.coherent.try_access()) {
        (Some(table), Some(buf)) => {
            seen(true);
            let want = PhysAddr::from_dma(buf.dma_handle()) + 0x10;
            if table.iova_to_phys(MMU_IOVA + 0x10) != Ok(want) {
                error("mmio: page table iova_to_phys");
            }
        }
        _ => {
            seen(false);
        }
    }
}

/// The outcome of trying to start a transfer.
enum Start {
    Started,
    Revoked,
    Busy,
}

/// Starts a transfer to the device's buffer of the first half of the coherent buffer, or of the
/// streaming buffer if `streaming`.
///
/// The streaming buffer stays mapped until the unbind's devres release, which comes after
/// `remove` has waited for every transfer started here.
fn dma_start(res: &Resources, streaming: bool) -> Start {
    let Some(bar) = res.bar.try_access() else {
        return Start::Revoked;
    };
    let Some(buf) = res.coherent.try_access() else {
        return Start::Revoked;
    };
    // Inside the RCU section: `remove` sets `stopping` and then waits for this section.
    if res.stopping.load(Ordering::SeqCst) {
        return Start::Revoked;
    }
    if bar.read64::<{ regs::DMA_CMD }>() & regs::DMA_START != 0 {
        return Start::Busy;
    }
    let src = if streaming {
        res.streaming.dma_handle()
    } else {
        buf.dma_handle()
    };
    bar.write64::<{ regs::DMA_SRC }>(src);
    bar.write64::<{ regs::DMA_DST }>(EDU_BUFFER);
    bar.write64::<{ regs::DMA_COUNT }>((BUF_SIZE / 2) as u64);
    bar.write64::<{ regs::DMA_CMD }>(regs::DMA_START);
    Start::Started
}

/// One transfer of the DMA thread, with its polling; sleeps.
fn dma_round(shared: &Shared, res: &Resources, round: u32) {
    match dma_start(res, round % 2 == 1) {
        Start::Revoked => {
            seen(false);
            return;
        }
        Start::Busy => return,
        Start::Started => {
            seen(true);
        }
    }
    let started = Ktime::ktime_get();
    for _ in 0..DMA_POLL_LIMIT {
        kernel::delay::msleep(DMA_POLL_MS);
        match res
            .bar
            .try_access_with(|bar| bar.read64::<{ regs::DMA_CMD }>() & regs::DMA_START == 0)
        {
            Some(true) => {
                DMA_DONE.fetch_add(1, Ordering::Relaxed);
                if REMOVAL_MODE.load(Ordering::Relaxed)
                    && !res.dma_reported.swap(true, Ordering::SeqCst)
                {
                    dev_info!(res.bar.device(), "STRESS-DMA-RUNNING\n");
                }
                return;
            }
            Some(false) => {}
            // Unbound meanwhile; `remove` waited for the transfer.
            None => {
                seen(false);
                return;
            }
        }
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
    }
    pr_err!(
        "STRESS-ERROR: transfer started {} ms ago\n",
        elapsed_ns(started) / 1_000_000
    );
    error("dma: transfer not done in time");
}

/// The body of accessor thread `kind` (0: DMA, 1: MMIO) of device slot `i`.
fn accessor(shared: Arc<Shared>, i: usize, kind: usize) {
    let mut round: u32 = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        round = round.wrapping_add(1);
        match shared.resources(i) {
            Some(res) if kind == 0 => {
                dma_round(&shared, &res, round);
                drop(res);
                kernel::delay::msleep(DMA_PAUSE_MS);
            }
            Some(res) => {
                mmio_round(&res, round);
                // This thread may drop the last reference to an old binding's resources.
                drop(res);
                kernel::delay::msleep(1);
            }
            None => kernel::delay::msleep(1),
        }
    }
}

/// Returns the driver bound to `dev`, as a pointer (NULL if none).
fn driver_of(dev: &pci::Device) -> *mut bindings::device_driver {
    // SAFETY: `dev` is valid (counted); only this module's init binds and unbinds the devices
    // while it runs, and it is the caller, so nothing writes the field concurrently.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*dev.raw_device()).driver)) }
}

// Binding and unbinding from module init: `device_release_driver()` and `device_attach()` are
// what the driver core's sysfs `unbind` attribute and a bus rescan call. They take the device
// lock themselves and need only a valid, registered device, which the counted references held
// in the slots guarantee (the devices are never removed from the bus here). Calling them from
// here rather than through sysfs from the init script keeps the probe in this task, so that
// `make_it_fail` applies to its allocations, and avoids thousands of process spawns per run.

/// Unbinds `dev` from its driver, if any.
fn unbind(dev: &pci::Device) {
    // SAFETY: See above: `dev` is valid and registered; the call takes the device lock.
    unsafe { bindings::device_release_driver(dev.raw_device()) };
}

/// Tries to bind `dev`; returns whether it is bound afterwards.
fn attach(dev: &pci::Device) -> bool {
    // SAFETY: As for `unbind`.
    let r = unsafe { bindings::device_attach(dev.raw_device()) };
    r == 1 && !driver_of(dev).is_null()
}

/// Sets or clears `current->make_it_fail`, which failslab and fail_page_alloc (with
/// `task-filter`) read to decide whether this task's allocations may fail.
fn make_it_fail(on: bool) {
    // SAFETY: `get_current()` is the running task, valid while it runs; the field is a plain
    // `int` that the fault-injection code reads from this same task.
    unsafe { (*bindings::get_current()).make_it_fail = on.into() };
}

/// Nanoseconds since `start`.
fn elapsed_ns(start: Ktime) -> u64 {
    (Ktime::ktime_get().to_ns() - start.to_ns()).max(0) as u64
}

/// Phase 1; returns the number of failed cycles.
fn cycles(devs: &[ARef<pci::Device>], n: usize) -> usize {
    let mut errors = 0;
    // Time spent in unbinding and in binding since the last progress line.
    let (mut unbind_ns, mut bind_ns, mut since) = (0u64, 0u64, 0u64);
    for c in 0..n {
        let dev = &devs[c % devs.len()];
        let t = Ktime::ktime_get();
        unbind(dev);
        unbind_ns += elapsed_ns(t);
        if !driver_of(dev).is_null() {
            errors += 1;
        }
        let t = Ktime::ktime_get();
        if !attach(dev) {
            errors += 1;
        }
        bind_ns += elapsed_ns(t);
        since += 1;
        if (c + 1) % 100 == 0 || c + 1 == n {
            pr_info!(
                "STRESS-PHASE: {} of {} cycles, {} errors; unbind {} us (remove {} us), bind {} us on average\n",
                c + 1,
                n,
                errors,
                unbind_ns / since / 1000,
                REMOVE_NS.swap(0, Ordering::Relaxed) / since / 1000,
                bind_ns / since / 1000
            );
            (unbind_ns, bind_ns, since) = (0, 0, 0);
        }
    }
    errors
}

/// The result of phase 2.
#[derive(Default)]
struct FaultResult {
    failed: usize,
    succeeded: usize,
    leaked: usize,
}

/// Phase 2.
fn fault_probes(devs: &[ARef<pci::Device>], n: usize) -> FaultResult {
    let mut r = FaultResult::default();
    for k in 0..n {
        let dev = &devs[k % devs.len()];
        unbind(dev);
        let gen = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
        GEN_PAYLOADS.start(gen);
        GEN_RESOURCES.start(gen);
        INJECTING.store(true, Ordering::SeqCst);
        make_it_fail(true);
        let bound = attach(dev);
        make_it_fail(false);
        INJECTING.store(false, Ordering::SeqCst);
        if bound {
            r.succeeded += 1;
            unbind(dev);
            // The unbind revoked and dropped this binding's payload.
            if GEN_PAYLOADS.count(gen) != Some(0) {
                r.leaked += 1;
            }
        } else {
            r.failed += 1;
            // Nothing the failed attempt allocated may be alive.
            if GEN_PAYLOADS.count(gen) != Some(0) || GEN_RESOURCES.count(gen) != Some(0) {
                r.leaked += 1;
            }
        }
        if (k + 1) % 100 == 0 || k + 1 == n {
            pr_info!(
                "STRESS-PHASE: {} of {} fault probes, {} failed, {} leaked\n",
                k + 1,
                n,
                r.failed,
                r.leaked
            );
        }
    }
    r
}

/// Whether the handler acknowledged at most the interrupts raised (some are lost when a binding
/// goes with one pending, none may come from elsewhere), and some at all once any was raised.
fn irq_counts_ok() -> bool {
    let (raised, handled) = (
        IRQ_RAISED.load(Ordering::SeqCst),
        IRQ_HANDLED.load(Ordering::SeqCst),
    );
    handled <= raised && (raised == 0 || handled > 0)
}

/// Starts the two accessor threads of each of the `n` device slots; returns their handles, or
/// fewer if some could not be started.
fn spawn_accessors(shared: &Arc<Shared>, n: usize) -> KVec<Accessor> {
    // Room for all first: a handle that could not be stored would be dropped, which waits for a
    // thread that runs until `stop`.
    let Ok(mut threads) = KVec::with_capacity(2 * n, GFP_KERNEL) else {
        return KVec::new();
    };
    for i in 0..n {
        for kind in 0..2 {
            let s = shared.clone();
            if let Ok(t) = thread::spawn(move || accessor(s, i, kind)) {
                // Within the capacity: does not allocate, can not fail.
                let _ = threads.push(Accessor(t), GFP_KERNEL);
            }
        }
    }
    threads
}

/// The handle of an accessor thread; dropping it waits for the thread to end.
struct Accessor(#[allow(dead_code)] thread::Thread);

// SAFETY: The handle is only dropped, which waits for the thread's completion and then stops
// and puts the task (`wait_for_completion()`, `kthread_stop_put()`), calls valid from any task.
unsafe impl Send for Accessor {}

// SAFETY: A shared reference to the handle gives access to nothing: `Thread` has no method that
// takes `&self`.
unsafe impl Sync for Accessor {}

/// Runs both phases with the accessor threads going; returns whether every check held.
fn run(shared: &Arc<Shared>) -> bool {
    let n_cycles = CYCLES.load(Ordering::Relaxed);
    let n_faults = FAULT_PROBES.load(Ordering::Relaxed);
    let devs = shared.devices();
    let mut ok = !devs.is_empty();
    if devs.is_empty() {
        pr_err!("STRESS: no edu device bound to rust_stress\n");
    }

    let threads = spawn_accessors(shared, devs.len());
    let accessors = threads.len();

    let mut errors = 0;
    let mut fault = FaultResult::default();
    if !devs.is_empty() {
        errors += cycles(&devs, n_cycles);
        fault = fault_probes(&devs, n_faults);
    }

    shared.stop.store(true, Ordering::SeqCst);
    drop(threads);

    // Tear down: unbind, drop every binding's resources, and count what is left.
    for dev in devs.iter() {
        unbind(dev);
    }
    let old: [Option<Arc<Resources>>; MAX_DEVICES] = {
        let mut slots = shared.slots.lock();
        core::array::from_fn(|i| slots[i].res.take())
    };
    // Dropped outside the lock: the drops revoke, which sleeps.
    drop(old);
    let left = LIVE_PAYLOADS.load(Ordering::SeqCst) + LIVE_RESOURCES.load(Ordering::SeqCst);
    let leaked = fault.leaked + left;
    let access_errors = ACCESS_ERRORS.load(Ordering::SeqCst);
    let probe_errors = PROBE_ERRORS.load(Ordering::SeqCst);
    errors += (access_errors + probe_errors) as usize;

    // Rebind for the rest of the module's life; `rmmod` unbinds again.
    for dev in devs.iter() {
        if !attach(dev) {
            errors += 1;
        }
    }

    let accesses = ACCESSES.load(Ordering::SeqCst);
    let revoked = REVOKED_SEEN.load(Ordering::SeqCst);
    pr_info!(
        "STRESS: cycles={} accessors={} accesses={} revoked_seen={} dma={} irq_raised={} irq_handled={} fault_probes={} failed={} succeeded={} leaked={} errors={} misreads={}\n",
        n_cycles,
        accessors,
        accesses,
        revoked,
        DMA_DONE.load(Ordering::SeqCst),
        IRQ_RAISED.load(Ordering::SeqCst),
        IRQ_HANDLED.load(Ordering::SeqCst),
        n_faults,
        fault.failed,
        fault.succeeded,
        leaked,
        errors,
        MISREADS.load(Ordering::SeqCst)
    );
    ok &= accessors == 2 * devs.len() && leaked == 0 && errors == 0 && accesses > 0;
    ok &= irq_counts_ok();
    // Thousands of cycles with four threads must see revoked resources, and a thousand probes
    // under 10% allocation failure must both fail and succeed.
    if n_cycles >= 100 {
        ok &= revoked > 0;
    }
    if n_faults >= 100 {
        ok &= fault.failed > 0 && fault.succeeded > 0;
    }
    pr_info!("STRESS-DONE {}\n", if ok { "ok" } else { "FAILED" });
    ok
}

struct StressModule {
    reg: Option<Pin<KBox<Registration<pci::Adapter<StressDriver>>>>>,
    shared: Arc<Shared>,
    /// In removal mode, the accessor threads, which run until the module is unloaded.
    removal: Option<KVec<Accessor>>,
}

/// Stops the removal mode's threads, unbinds (dropping `reg`), drops every resource and prints
/// the `STRESS-REMOVAL:` summary.
fn removal_finish(
    shared: &Shared,
    threads: KVec<Accessor>,
    reg: Option<Pin<KBox<Registration<pci::Adapter<StressDriver>>>>>,
) {
    let accessors = threads.len();
    shared.stop.store(true, Ordering::SeqCst);
    drop(threads);
    drop(reg);
    let (devices, old) = {
        let mut slots = shared.slots.lock();
        let devices = slots.iter().filter(|s| s.pdev.is_some()).count();
        let old: [Option<Arc<Resources>>; MAX_DEVICES] =
            core::array::from_fn(|i| slots[i].res.take());
        (devices, old)
    };
    // Dropped outside the lock: the drops revoke, which sleeps.
    drop(old);
    let leaked = LIVE_PAYLOADS.load(Ordering::SeqCst) + LIVE_RESOURCES.load(Ordering::SeqCst);
    let errors = ACCESS_ERRORS.load(Ordering::SeqCst) + PROBE_ERRORS.load(Ordering::SeqCst);
    let accesses = ACCESSES.load(Ordering::SeqCst);
    let zombie_failed = ZOMBIE_FAILED.load(Ordering::SeqCst);
    pr_info!(
        "STRESS-REMOVAL: probes={} zombies={} zombie_checks={} zombie_failed={} accessors={} accesses={} revoked_seen={} dma={} irq_raised={} irq_handled={} leaked={} errors={} misreads={}\n",
        PROBES.load(Ordering::SeqCst),
        ZOMBIES.load(Ordering::SeqCst),
        ZOMBIE_CHECKS.load(Ordering::SeqCst),
        zombie_failed,
        accessors,
        accesses,
        REVOKED_SEEN.load(Ordering::SeqCst),
        DMA_DONE.load(Ordering::SeqCst),
        IRQ_RAISED.load(Ordering::SeqCst),
        IRQ_HANDLED.load(Ordering::SeqCst),
        leaked,
        errors,
        MISREADS.load(Ordering::SeqCst)
    );
    let ok = devices > 0
        && accessors == 2 * devices
        && leaked == 0
        && errors == 0
        && zombie_failed == 0
        && accesses > 0
        && irq_counts_ok();
    pr_info!("STRESS-REMOVAL-DONE {}\n", if ok { "ok" } else { "FAILED" });
}

impl kernel::Module for StressModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let removal = REMOVAL.load(Ordering::Relaxed) != 0;
        REMOVAL_MODE.store(removal, Ordering::SeqCst);
        let shared = Arc::pin_init(
            pin_init!(Shared {
                slots <- new_mutex!([
                    Slot { pdev: None, dev: None, res: None },
                    Slot { pdev: None, dev: None, res: None },
                ]),
                stop: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        SHARED.store(
            core::ptr::from_ref::<Shared>(&shared).cast_mut(),
            Ordering::Release,
        );
        let reg = match KBox::pin_init(Registration::new(c_str!("rust_stress"), module), GFP_KERNEL)
        {
            Ok(reg) => reg,
            Err(e) => {
                SHARED.store(core::ptr::null_mut(), Ordering::Release);
                return Err(e);
            }
        };
        if removal {
            let devices = shared.devices().len();
            if devices == 0 {
                pr_err!("STRESS-REMOVAL: no edu device bound to rust_stress\n");
                drop(reg);
                SHARED.store(core::ptr::null_mut(), Ordering::Release);
                return Err(ENODEV);
            }
            let threads = spawn_accessors(&shared, devices);
            pr_info!(
                "STRESS-REMOVAL-READY: devices={} accessors={}\n",
                devices,
                threads.len()
            );
            return Ok(Self {
                reg: Some(reg),
                shared,
                removal: Some(threads),
            });
        }
        if run(&shared) {
            Ok(Self {
                reg: Some(reg),
                shared,
                removal: None,
            })
        } else {
            drop(reg);
            SHARED.store(core::ptr::null_mut(), Ordering::Release);
            Err(EIO)
        }
    }
}

impl Drop for StressModule {
    fn drop(&mut self) {
        // Unregister (unbinding the devices) before the shared state may go.
        match self.removal.take() {
            Some(threads) => removal_finish(&self.shared, threads, self.reg.take()),
            None => drop(self.reg.take()),
        }
        SHARED.store(core::ptr::null_mut(), Ordering::Release);
    }
}

module! {
    type: StressModule,
    name: "rust_stress",
    author: "Rust for Linux Contributors",
    description: "Stress test of the Rust driver-core bindings on QEMU's edu device",
    license: "GPL v2",
}
