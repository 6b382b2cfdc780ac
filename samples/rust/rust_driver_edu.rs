// SPDX-License-Identifier: GPL-2.0

//! Rust driver for QEMU's `edu` educational PCI device.
//!
//! The device (PCI 1234:11e8, see QEMU's `docs/specs/edu.rst`) has a 1 MiB memory BAR with an
//! identification register, a liveness register that returns the complement of what was written
//! to it, a factorial unit, and a DMA engine that copies between memory and a 4 KiB buffer
//! inside the device. At probe the driver checks the first three, then copies a pattern to the
//! device and back, once through a coherent allocation and once through scatter-gather mappings
//! of separate pages, one transfer per segment, programmed from descriptors it keeps in a DMA
//! pool; it checks every byte and logs the results. The factorial unit and the DMA engine report
//! their completion by interrupt: the driver takes its MSI vector, or the INTx line where MSI is
//! not available, and waits for the handler, which acknowledges the interrupt and signals the
//! event; it polls nothing. Where the ARM LPAE io-pgtable format is built, it also describes a
//! coherent buffer in an LPAE stage-1 page table, as a driver for a device with its own MMU
//! would, and checks the translation of every page.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    c_str, dev_err, dev_info,
    device::{Bound, Core, Device},
    device_id::IdArray,
    devres::Devres,
    dma::{CoherentAllocation, DataDirection, DmaAddress, DmaMask, DmaPool, Segment, SgMapping},
    dma_read, dma_write,
    irq::{
        self,
        pci::{IrqType, IrqTypes, IrqVectors},
        IrqReturn,
    },
    page::{Page, PAGE_SIZE},
    pci,
    prelude::*,
    sync::{completion::Completion, Arc},
    types::{AsBytes, FromBytes},
};

/// The registers this driver uses.
mod regs {
    pub(crate) const ID: usize = 0x00;
    pub(crate) const LIVENESS: usize = 0x04;
    pub(crate) const FACTORIAL: usize = 0x08;
    pub(crate) const STATUS: usize = 0x20;
    /// `STATUS`: raise an interrupt when a factorial is done.
    pub(crate) const STATUS_IRQ: u32 = 0x80;
    /// The interrupts raised and not yet acknowledged, and where to acknowledge them.
    pub(crate) const IRQ_STATUS: usize = 0x24;
    pub(crate) const IRQ_ACK: usize = 0x64;
    /// `IRQ_STATUS`: a factorial is done; a DMA transfer is done.
    pub(crate) const IRQ_FACTORIAL: u32 = 0x001;
    pub(crate) const IRQ_DMA: u32 = 0x100;
    /// DMA source, destination, length and command, 64 bits each.
    pub(crate) const DMA_SRC: usize = 0x80;
    pub(crate) const DMA_DST: usize = 0x88;
    pub(crate) const DMA_COUNT: usize = 0x90;
    pub(crate) const DMA_CMD: usize = 0x98;
    /// `DMA_CMD`: start a transfer; cleared by the device when it is done.
    pub(crate) const DMA_START: u64 = 0x1;
    /// `DMA_CMD`: the transfer goes from the device's buffer to memory.
    pub(crate) const DMA_FROM_DEVICE: u64 = 0x2;
    /// `DMA_CMD`: raise an interrupt when the transfer is done.
    pub(crate) const DMA_IRQ: u64 = 0x4;
    /// The extent of the registers above: what the BAR must at least have.
    pub(crate) const END: usize = 0x100;
}

/// The device's own buffer, in its DMA address space, and its size.
const EDU_BUFFER: DmaAddress = 0x40000;
const EDU_BUFFER_SIZE: usize = 4096;
/// Where the page-table demonstration maps its buffer, and how many 4 KiB pages it has.
#[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
const MMU_IOVA: usize = 0x10_0000_0000;
#[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
const MMU_PAGES: usize = 8;
/// The device reaches 28 bits of address.
const EDU_DMA_MASK: DmaMask = DmaMask::new::<28>();
/// The pages of the scatter-gather round trip.
const SG_PAGES: usize = 3;
/// A transfer takes about 100 ms of the device's clock; give up on an interrupt after a second.
const IRQ_TIMEOUT_MS: u32 = 1000;

/// The low byte that every edu identification register reads as.
const ID_MAGIC: u32 = 0xed;

type Bar = pci::Bar<{ regs::END }>;

/// One transfer for the DMA engine, as the driver queues it: plain data in DMA-pool memory.
#[derive(FromBytes, AsBytes)]
#[repr(C)]
struct Desc {
    src: u64,
    dst: u64,
    len: u32,
    /// `regs::DMA_FROM_DEVICE` or 0.
    dir: u32,
}

/// What the interrupt handler has seen, shared with the code that waits for it.
#[pin_data]
struct Events {
    /// `IRQ_STATUS` bits acknowledged by the handler and not yet taken by a waiter.
    status: AtomicU32,
    /// The interrupts handled.
    handled: AtomicU32,
    /// Signalled once per interrupt handled.
    #[pin]
    signal: Completion,
}

impl Events {
    /// Waits for the interrupt that reports `bit`, and takes it; [`ETIMEDOUT`] after
    /// [`IRQ_TIMEOUT_MS`] without one.
    fn wait_for(&self, bit: u32) -> Result {
        loop {
            if self.status.fetch_and(!bit, Ordering::AcqRel) & bit != 0 {
                return Ok(());
            }
            // The handler sets the bit before it signals: a wake-up that comes between the
            // check and the wait is not lost, the completion counts it.
            if !self.signal.wait_timeout(IRQ_TIMEOUT_MS) {
                return Err(ETIMEDOUT);
            }
        }
    }
}

/// The interrupt handler: acknowledges what the device raised and tells the waiter.
struct EduIrq {
    bar: Arc<Devres<Bar>>,
    events: Arc<Events>,
}

impl irq::Handler for EduIrq {
    fn handle(&self, dev: &Device<Bound>) -> IrqReturn {
        // The handler runs only while the driver is bound: the mapping is there, no lock.
        let Ok(bar) = self.bar.access(dev) else {
            return IrqReturn::None;
        };
        let status = bar.read32::<{ regs::IRQ_STATUS }>();
        if status == 0 {
            // Another device's interrupt, on a shared INTx line.
            return IrqReturn::None;
        }
        bar.write32::<{ regs::IRQ_ACK }>(status);
        self.events.status.fetch_or(status, Ordering::AcqRel);
        self.events.handled.fetch_add(1, Ordering::Relaxed);
        self.events.signal.complete();
        IrqReturn::Handled
    }
}

struct EduDriver {
    bar: Arc<Devres<Bar>>,
    _irq: Devres<irq::Registration<EduIrq>>,
}

static ID_TABLE: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);

// The module's aliases: `modprobe` of an edu's modalias loads it.
kernel::module_device_table!(pci, ID_TABLE);

impl EduDriver {
    fn check_liveness(bar: &Bar) -> Result {
        const PATTERN: u32 = 0x5a5a_a5a5;
        bar.write32::<{ regs::LIVENESS }>(PATTERN);
        if bar.read32::<{ regs::LIVENESS }>() != !PATTERN {
            return Err(EIO);
        }
        Ok(())
    }

    /// Runs one transfer of `len` bytes (at most [`EDU_BUFFER_SIZE`]) and waits for its
    /// interrupt.
    ///
    /// If the device does not finish in time, the transfer is still programmed, and the caller
    /// frees or unmaps its memory when the error returns: bus mastering is turned off first, so
    /// the device can not write that memory later.
    fn dma(
        pdev: &pci::Device<Core>,
        bar: &Bar,
        events: &Events,
        src: DmaAddress,
        dst: DmaAddress,
        len: usize,
        from_device: bool,
    ) -> Result {
        bar.write64::<{ regs::DMA_SRC }>(src);
        bar.write64::<{ regs::DMA_DST }>(dst);
        bar.write64::<{ regs::DMA_COUNT }>(len as u64);
        let dir = if from_device {
            regs::DMA_FROM_DEVICE
        } else {
            0
        };
        bar.write64::<{ regs::DMA_CMD }>(regs::DMA_START | regs::DMA_IRQ | dir);
        events.wait_for(regs::IRQ_DMA).inspect_err(|_| {
            pdev.clear_master();
            dev_err!(pdev, "edu: DMA timed out, bus mastering off\n");
        })
    }

    fn pattern(i: usize, seed: u8) -> u8 {
        (i as u8).wrapping_mul(31).wrapping_add(seed)
    }

    /// Copies a pattern from a coherent buffer to the device and back into its second half;
    /// returns the number of bytes that differ.
    fn coherent_round_trip(pdev: &pci::Device<Core>, bar: &Bar, events: &Events) -> Result<usize> {
        let dev: &Device<Bound> = pdev.as_ref();
        let buf = CoherentAllocation::<u8>::alloc_coherent(dev, 2 * EDU_BUFFER_SIZE, GFP_KERNEL)?;
        let buf = buf.access(dev)?;
        for i in 0..EDU_BUFFER_SIZE {
            buf.write(i, Self::pattern(i, 0x5a))?;
            buf.write(EDU_BUFFER_SIZE + i, 0)?;
        }
        Self::dma(
            pdev,
            bar,
            events,
            buf.dma_handle(),
            EDU_BUFFER,
            EDU_BUFFER_SIZE,
            false,
        )?;
        let back = buf.dma_handle_of(EDU_BUFFER_SIZE)?;
        Self::dma(pdev, bar, events, EDU_BUFFER, back, EDU_BUFFER_SIZE, true)?;
        let mut differ = 0;
        for i in 0..EDU_BUFFER_SIZE {
            if buf.read(EDU_BUFFER_SIZE + i)? != Self::pattern(i, 0x5a) {
                differ += 1;
            }
        }
        Ok(differ)
    }

    /// Queues, in DMA-pool memory, the transfers that copy `src` to `dst` through the device's
    /// buffer: for each piece that lies within one segment of each, one transfer in and one out.
    fn queue(
        dev: &Device<Bound>,
        pool: &DmaPool<Desc>,
        src: &[Segment],
        dst: &[Segment],
    ) -> Result<KVec<kernel::dma::PoolObject<Desc>>> {
        let mut descs = KVec::new();
        let (mut i, mut j, mut si, mut dj) = (0, 0, 0, 0);
        while i < src.len() && j < dst.len() {
            let len = (src[i].len - si).min(dst[j].len - dj).min(EDU_BUFFER_SIZE);
            let from = src[i].addr + si as u64;
            let to = dst[j].addr + dj as u64;
            for (s, d, dir) in [
                (from, EDU_BUFFER, 0),
                (EDU_BUFFER, to, regs::DMA_FROM_DEVICE),
            ] {
                let desc = pool.alloc(dev, GFP_KERNEL)?;
                let v = desc.access(dev)?;
                dma_write!(
                    v[0] = Desc {
                        src: s,
                        dst: d,
                        len: len as u32,
                        dir: dir as u32
                    }
                )?;
                descs.push(desc, GFP_KERNEL)?;
            }
            (si, dj) = (si + len, dj + len);
            if si == src[i].len {
                (i, si) = (i + 1, 0);
            }
            if dj == dst[j].len {
                (j, dj) = (j + 1, 0);
            }
        }
        Ok(descs)
    }

    /// Copies a pattern from [`SG_PAGES`] separate pages to the device and back into as many,
    /// through scatter-gather mappings, one transfer per segment from descriptors in a DMA pool;
    /// returns the number of bytes that differ and the number of segments.
    fn sg_round_trip(
        pdev: &pci::Device<Core>,
        bar: &Bar,
        events: &Events,
        pool: &DmaPool<Desc>,
    ) -> Result<(usize, usize)> {
        let dev: &Device<Bound> = pdev.as_ref();
        let pages = || -> Result<KVec<Page>> {
            let mut pages = KVec::new();
            for _ in 0..SG_PAGES {
                pages.push(Page::alloc_page(GFP_KERNEL | dev.dma_zone())?, GFP_KERNEL)?;
            }
            Ok(pages)
        };
        let out = SgMapping::map(dev, pages()?, DataDirection::ToDevice, GFP_KERNEL)?;
        let mut cpu = out.sync_for_cpu();
        for p in 0..SG_PAGES {
            for (i, b) in cpu.get_mut(p).into_iter().flatten().enumerate() {
                *b = Self::pattern(p * PAGE_SIZE + i, 0xa5);
            }
        }
        let out = cpu.sync_for_device();
        let back = SgMapping::map(dev, pages()?, DataDirection::FromDevice, GFP_KERNEL)?;
        let mut src = KVec::new();
        let mut dst = KVec::new();
        for s in out.segments() {
            src.push(s, GFP_KERNEL)?;
        }
        for s in back.segments() {
            dst.push(s, GFP_KERNEL)?;
        }
        for desc in Self::queue(dev, pool, &src, &dst)? {
            let d = dma_read!(desc.access(dev)?[0])?;
            let from_device = d.dir as u64 == regs::DMA_FROM_DEVICE;
            Self::dma(pdev, bar, events, d.src, d.dst, d.len as usize, from_device)?;
        }
        drop(out.unmap());
        let back = back.sync_for_cpu();
        let mut differ = 0;
        for p in 0..SG_PAGES {
            let bytes = back.get(p).ok_or(EINVAL)?;
            differ += bytes
                .iter()
                .enumerate()
                .filter(|&(i, &b)| b != Self::pattern(p * PAGE_SIZE + i, 0xa5))
                .count();
        }
        Ok((differ, src.len()))
    }

    /// Builds an ARM LPAE stage-1 table that maps a coherent DMA buffer at [`MMU_IOVA`], as a
    /// GPU driver would for its own MMU, checks that every page translates to the buffer, and
    /// unmaps it; returns the number of pages that translated correctly.
    #[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
    fn page_table(dev: &Device<Bound>) -> Result<usize> {
        use kernel::io_pgtable::{prot, ArmLpaeS1, Config, IoPageTable, NoFlush, PhysAddr};
        const SZ_4K: usize = 1 << 12;

        let buf = CoherentAllocation::<u8>::alloc_coherent(dev, MMU_PAGES * SZ_4K, GFP_KERNEL)?;
        let buf = Arc::new(buf, GFP_KERNEL)?;
        let cfg = Config::new(SZ_4K | (1 << 21) | (1 << 30), 48, 48);
        // SAFETY: The edu device has no MMU: nothing walks the table, nothing needs invalidating.
        let no_flush = unsafe { NoFlush::new() };
        let table = IoPageTable::<ArmLpaeS1, NoFlush>::new(dev, cfg, no_flush)?;
        let table = table.access(dev)?;
        // The table keeps the buffer alive for as long as it maps it.
        table.map_coherent(dev, MMU_IOVA, &buf, prot::READ | prot::WRITE)?;
        let buf = buf.access(dev)?;
        let mut good = 0;
        for page in 0..MMU_PAGES {
            let offset = page * SZ_4K + 0x123;
            // The table's output addresses are the device's DMA addresses, what its MMU puts on
            // the bus: physical addresses on x86_64, the SMMU's I/O virtual ones on arm64.
            if table.iova_to_phys(MMU_IOVA + offset)?
                == PhysAddr::from_dma(buf.dma_handle_of(offset)?)
            {
                good += 1;
            }
        }
        table.unmap_coherent(MMU_IOVA)?;
        Ok(good)
    }

    fn factorial(bar: &Bar, events: &Events, n: u32) -> Result<u32> {
        bar.write32::<{ regs::STATUS }>(regs::STATUS_IRQ);
        bar.write32::<{ regs::FACTORIAL }>(n);
        events.wait_for(regs::IRQ_FACTORIAL)?;
        Ok(bar.read32::<{ regs::FACTORIAL }>())
    }

    /// Takes the device's interrupt, MSI if it can be had, else the INTx line, for a handler
    /// that reports to `events`.
    fn request_irq(
        pdev: &pci::Device<Core>,
        bar: &Arc<Devres<Bar>>,
        events: &Arc<Events>,
    ) -> Result<(Devres<irq::Registration<EduIrq>>, IrqType)> {
        let dev: &Device<Bound> = pdev.as_ref();
        // Freed at unbind, after the registration on them.
        let vectors: IrqVectors = pdev.alloc_irq_vectors(1, 1, IrqTypes::MSI | IrqTypes::INTX)?;
        let kind = vectors.kind().ok_or(ENXIO)?;
        // An INTx line may be shared with other devices; an MSI vector is the device's own.
        let flags = match kind {
            IrqType::Intx => irq::Flags::SHARED,
            IrqType::Msi | IrqType::MsiX => irq::Flags::NONE,
        };
        let handler = EduIrq {
            bar: bar.clone(),
            events: events.clone(),
        };
        let reg = irq::Registration::new(
            dev,
            vectors.vector(dev, 0)?,
            flags,
            c_str!("rust_driver_edu"),
            handler,
        )?;
        Ok((reg, kind))
    }
}

impl pci::Driver for EduDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &ID_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        let dev: &Device<Core> = pdev.as_ref();
        dev.dma_set_mask_and_coherent(EDU_DMA_MASK)?;
        pdev.enable_device_mem()?;
        pdev.set_master();
        let bar = Arc::new(
            pdev.iomap_region_sized(0, c_str!("rust_driver_edu"))?,
            GFP_KERNEL,
        )?;
        let events = Arc::pin_init(
            pin_init!(Events {
                status: AtomicU32::new(0),
                handled: AtomicU32::new(0),
                signal <- Completion::new(),
            }),
            GFP_KERNEL,
        )?;
        let (irq, kind) = Self::request_irq(pdev, &bar, &events)?;
        let edu = KBox::pin(EduDriver { bar, _irq: irq }, GFP_KERNEL)?;
        // The bound device proves the mapping is alive: no lock, no RCU.
        let bar = edu.bar.access(pdev.as_ref())?;

        let id = bar.read32::<{ regs::ID }>();
        if id & 0xff != ID_MAGIC {
            dev_err!(pdev, "edu: unexpected identification {:#010x}\n", id);
            return Err(ENODEV);
        }
        dev_info!(
            pdev,
            "edu: identification {:#010x} (version {}.{})\n",
            id,
            id >> 24,
            (id >> 16) & 0xff
        );

        Self::check_liveness(bar)
            .inspect_err(|_| dev_err!(pdev, "edu: liveness check failed\n"))?;
        dev_info!(pdev, "edu: liveness check passed\n");

        let n = 10;
        let result = Self::factorial(bar, &events, n)
            .inspect_err(|_| dev_err!(pdev, "edu: factorial timed out\n"))?;
        dev_info!(pdev, "edu: factorial({}) = {}\n", n, result);

        let differ = Self::coherent_round_trip(pdev, bar, &events)?;
        dev_info!(
            pdev,
            "edu: coherent DMA round trip of {} bytes, {} differ\n",
            EDU_BUFFER_SIZE,
            differ
        );
        // The device moves its buffer's size at most at a time: cut transfers to that.
        dev.dma_set_max_seg_size(EDU_BUFFER_SIZE as u32)?;
        let pool = DmaPool::<Desc>::new(dev, c_str!("rust_driver_edu"), 0, 0)?;
        let (differ2, segments) = Self::sg_round_trip(pdev, bar, &events, &pool)?;
        dev_info!(
            pdev,
            "edu: scatter-gather DMA round trip of {} bytes in {} segments, {} differ\n",
            SG_PAGES * PAGE_SIZE,
            segments,
            differ2
        );
        if differ + differ2 != 0 {
            return Err(EIO);
        }

        #[cfg(CONFIG_IOMMU_IO_PGTABLE_LPAE)]
        {
            let pages = Self::page_table(dev)?;
            dev_info!(
                pdev,
                "edu: io-pgtable ARM LPAE stage 1 translates {} of {} buffer pages\n",
                pages,
                MMU_PAGES
            );
            if pages != MMU_PAGES {
                return Err(EIO);
            }
        }
        dev_info!(
            pdev,
            "edu: {} interrupts handled ({})\n",
            events.handled.load(Ordering::Relaxed),
            match kind {
                IrqType::Intx => "INTx",
                IrqType::Msi => "MSI",
                IrqType::MsiX => "MSI-X",
            }
        );
        Ok(edu)
    }

    fn remove(pdev: &pci::Device<Core>, _this: Pin<&Self>) {
        dev_info!(pdev, "edu: removed\n");
    }
}

kernel::module_pci_driver! {
    type: EduDriver,
    name: "rust_driver_edu",
    author: "Rust for Linux Contributors",
    description: "Rust driver for QEMU's edu PCI device",
    license: "GPL v2",
}
