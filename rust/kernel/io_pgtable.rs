// SPDX-License-Identifier: GPL-2.0

//! IOMMU-format page tables for devices with their own MMU.
//!
//! Drivers for devices that translate their own memory accesses (GPUs, display engines, Apple
//! DARTs) build page tables in an IOMMU format with the C io-pgtable library and hand the
//! table's base address and format registers to the hardware. [`IoPageTable<F, T>`] wraps one
//! table of format `F` (one of the [`Format`] types) whose TLB maintenance callbacks go to the
//! driver's [`FlushOps`] implementation `T`.
//!
//! A table is created from a bound device and held in a [`Devres`], so that it is freed when the
//! driver is unbound at the latest. Every argument of [`IoPageTable::map_pages`],
//! [`IoPageTable::unmap_pages`] and [`IoPageTable::iova_to_phys`] is validated before it reaches
//! C: the page size must be one of the table's sizes, addresses aligned to it, the range within
//! the input and output address sizes and not wrapping, the count non-zero and the protection
//! flags known; anything else is [`EINVAL`] (or [`ERANGE`] for a range outside the address
//! sizes).
//!
//! The table also keeps the set of input ranges that are mapped, so that a map over a mapped
//! range is [`EEXIST`] and an unmap of a range that is not all mapped is [`ENOENT`] before C
//! sees either: the C code would warn, or silently replace the smaller pages under a block it
//! is asked to map.
//!
//! # Concurrency
//!
//! Map, unmap and translate may be called concurrently from any tasks, on any ranges. The C
//! code frees a table page when an unmap covers the whole range that page translates, and a
//! concurrent walk through it (a map filling it, a translation reading it) would use freed
//! memory. The table therefore keeps each operation's range busy until C returns:
//!
//! - a map holds its range as pending from its check until C has mapped it; a map or unmap
//!   overlapping a pending range is refused ([`EEXIST`], [`ENOENT`]), and nothing else walks
//!   into the table pages that only the pending range reaches, since no other operation can
//!   translate its addresses yet;
//! - an unmap and a translation run their C call under the table's spinlock, so a table page
//!   freed by an unmap is not being walked by a translation, and an unmap never frees a page
//!   that a pending map walks (its range would overlap the pending one).
//!
//! Maps of disjoint ranges still run their C calls concurrently (the C code installs new table
//! pages with a compare-and-exchange). No call sleeps, except where its `gfp` allows the C map
//! to allocate with sleeping. The TLB callbacks that the C code makes run under the spinlock;
//! [`FlushOps::tlb_sync`] runs after it is released, at the end of the call.
//!
//! Mapping a physical address is `unsafe`: the device may then read and write that memory.
//! Memory the driver owns is mapped safely with [`IoPageTable::map_coherent`]: the table keeps a
//! reference to the [`CoherentAllocation`] until the range is unmapped with
//! [`IoPageTable::unmap_coherent`] or the table is freed, so the memory outlives every
//! translation to it.
//!
//! C header: [`include/linux/io-pgtable.h`](srctree/include/linux/io-pgtable.h)

use crate::{
    alloc::KVec,
    alloc::{
        flags::{GFP_KERNEL, GFP_NOWAIT, __GFP_NOWARN},
        Flags, KBox,
    },
    bindings,
    device::{Bound, Device},
    devres::Devres,
    dma::{coherent::CoherentMemory, CoherentAllocation, DmaAddress},
    error::{code::*, Result},
    init::InPlaceInit,
    new_mutex, new_spinlock,
    sync::{Arc, Mutex, SpinLock},
    types::{ARef, AsBytes, FromBytes},
};
use core::{ffi::c_void, marker::PhantomData, mem::ManuallyDrop, pin::Pin, ptr::NonNull};

#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
pub(crate) mod tests;

/// An address a page table translates to: a physical address, the C `phys_addr_t`.
///
/// It is a type of its own rather than an integer, so that it is not compared with, or used as,
/// a [`DmaAddress`] by accident: the two are the same numbers only without an IOMMU. The table of
/// a device's own MMU outputs that device's bus addresses, the DMA addresses of its memory;
/// [`PhysAddr::from_dma`] says so where a driver means it (as [`IoPageTable::map_coherent`] does).
///
/// # Examples
///
/// ```
/// use kernel::io_pgtable::PhysAddr;
///
/// let page = PhysAddr::new(0x4000_0000);
/// assert_eq!((page + 0x10).as_u64(), 0x4000_0010);
/// assert!(PhysAddr::default().is_zero());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
#[repr(transparent)]
pub struct PhysAddr(bindings::phys_addr_t);

impl PhysAddr {
    /// The physical address `addr`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::io_pgtable::PhysAddr;
    ///
    /// assert_eq!(PhysAddr::new(0x1000).as_u64(), 0x1000);
    /// ```
    pub const fn new(addr: u64) -> Self {
        Self(addr as bindings::phys_addr_t)
    }

    /// The output address that stands for the DMA address `addr`, in a table whose output space
    /// is a device's bus (the MMU of the device itself, whose output the system's IOMMU, if any,
    /// translates further).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{dma::CoherentAllocation, io_pgtable::PhysAddr};
    ///
    /// fn output(buf: &CoherentAllocation<u8>) -> PhysAddr {
    ///     PhysAddr::from_dma(buf.dma_handle())
    /// }
    /// ```
    pub const fn from_dma(addr: DmaAddress) -> Self {
        Self(addr as bindings::phys_addr_t)
    }

    /// Returns the address as an integer.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::io_pgtable::PhysAddr;
    ///
    /// assert_eq!(PhysAddr::new(7).as_u64(), 7);
    /// ```
    // `phys_addr_t` has 32 bits on some 32-bit configurations.
    #[allow(clippy::unnecessary_cast)]
    pub const fn as_u64(self) -> u64 {
        self.0 as u64
    }

    /// Returns whether the address is 0, which [`IoPageTable::iova_to_phys`] returns for "not
    /// mapped".
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::io_pgtable::PhysAddr;
    ///
    /// assert!(PhysAddr::new(0).is_zero());
    /// ```
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::Add<u64> for PhysAddr {
    type Output = PhysAddr;

    /// The address `rhs` bytes further on.
    fn add(self, rhs: u64) -> PhysAddr {
        Self(self.0 + rhs as bindings::phys_addr_t)
    }
}

/// Protection flags of a mapping: the C `IOMMU_*` flags.
///
/// # Examples
///
/// ```
/// use kernel::io_pgtable::prot;
///
/// let rw = prot::READ | prot::WRITE;
/// assert!(rw.contains(prot::READ));
/// assert!(!rw.contains(prot::NOEXEC));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Prot(u32);

impl Prot {
    /// Returns the raw flags.
    pub const fn as_raw(self) -> u32 {
        self.0
    }

    /// Returns whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Prot) -> bool {
        self.0 & other.0 == other.0
    }

    /// Turns raw flags into protection flags; [`EINVAL`] if a bit is not a known flag.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::io_pgtable::Prot;
    ///
    /// assert!(Prot::try_from_raw(0x3).is_ok());
    /// assert_eq!(Prot::try_from_raw(1 << 12), Err(EINVAL));
    /// ```
    pub const fn try_from_raw(raw: u32) -> Result<Self> {
        if raw & !prot::ALL.0 != 0 {
            return Err(EINVAL);
        }
        Ok(Self(raw))
    }
}

impl core::ops::BitOr for Prot {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// The `IOMMU_*` protection flags.
///
/// # Examples
///
/// ```
/// use kernel::io_pgtable::prot::*;
///
/// assert_eq!((READ | WRITE).as_raw(), 0x3);
/// ```
pub mod prot {
    use super::Prot;
    use crate::bindings;

    /// The device may read.
    pub const READ: Prot = Prot(bindings::IOMMU_READ);
    /// The device may write.
    pub const WRITE: Prot = Prot(bindings::IOMMU_WRITE);
    /// Accesses are cache-coherent.
    pub const CACHE: Prot = Prot(bindings::IOMMU_CACHE);
    /// The device may not execute from the mapping.
    pub const NOEXEC: Prot = Prot(bindings::IOMMU_NOEXEC);
    /// The mapping is device memory (MMIO).
    pub const MMIO: Prot = Prot(bindings::IOMMU_MMIO);
    /// Only privileged accesses are allowed.
    pub const PRIV: Prot = Prot(bindings::IOMMU_PRIV);

    pub(super) const ALL: Prot = Prot(READ.0 | WRITE.0 | CACHE.0 | NOEXEC.0 | MMIO.0 | PRIV.0);
}

/// The `IO_PGTABLE_QUIRK_*` flags of [`Config::quirks`]; each format accepts its own subset.
///
/// # Examples
///
/// ```
/// use kernel::io_pgtable::{quirks, Config};
///
/// let mut cfg = Config::new(1 << 12, 48, 48);
/// cfg.quirks = quirks::ARM_TTBR1;
/// ```
pub mod quirks {
    // The C header defines them with `BIT()`, which bindgen does not evaluate; the values are
    // those of `include/linux/io-pgtable.h`.

    /// Non-secure accesses (`IO_PGTABLE_QUIRK_ARM_NS`).
    pub const ARM_NS: usize = 1 << 0;
    /// Ignore the permission bits (`IO_PGTABLE_QUIRK_NO_PERMS`).
    pub const NO_PERMS: usize = 1 << 1;
    /// MediaTek's 34-bit output addresses (`IO_PGTABLE_QUIRK_ARM_MTK_EXT`).
    pub const ARM_MTK_EXT: usize = 1 << 3;
    /// MediaTek's extended table base (`IO_PGTABLE_QUIRK_ARM_MTK_TTBR_EXT`).
    pub const ARM_MTK_TTBR_EXT: usize = 1 << 4;
    /// A table for the upper half of the input space (`IO_PGTABLE_QUIRK_ARM_TTBR1`): its input
    /// addresses have every bit above the input size set.
    pub const ARM_TTBR1: usize = 1 << 5;
    /// Outer write-back write-allocate walks (`IO_PGTABLE_QUIRK_ARM_OUTER_WBWA`).
    pub const ARM_OUTER_WBWA: usize = 1 << 6;
    /// Hardware dirty tracking (`IO_PGTABLE_QUIRK_ARM_HD`).
    pub const ARM_HD: usize = 1 << 7;

    pub(super) const ALL: usize =
        ARM_NS | NO_PERMS | ARM_MTK_EXT | ARM_MTK_TTBR_EXT | ARM_TTBR1 | ARM_OUTER_WBWA | ARM_HD;
}

/// The configuration of a new table: the C `struct io_pgtable_cfg` inputs.
///
/// # Examples
///
/// ```
/// use kernel::io_pgtable::Config;
///
/// // 4 KiB, 2 MiB and 1 GiB pages, 48-bit input and output addresses.
/// let cfg = Config::new((1 << 12) | (1 << 21) | (1 << 30), 48, 48);
/// assert_eq!(cfg.ias, 48);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// The `IO_PGTABLE_QUIRK_*` flags.
    pub quirks: usize,
    /// The page sizes the hardware supports, one bit per size.
    pub pgsize_bitmap: usize,
    /// The input (I/O virtual) address size in bits.
    pub ias: u32,
    /// The output (physical) address size in bits.
    pub oas: u32,
    /// Whether the hardware's table walker snoops the CPU caches.
    ///
    /// A walker that does not reads the table pages at their physical addresses after the C
    /// code made each visible with `dma_map_single()` on the table's device. That needs a device
    /// that reaches all memory at its physical address: [`IoPageTable::new`] refuses `false`
    /// with [`EINVAL`] for a device behind an IOMMU (its DMA addresses are I/O virtual ones), with
    /// forced bouncing, or whose DMA mask does not cover all memory (dma-direct would warn, or
    /// bounce, for a table page beyond it).
    pub coherent_walk: bool,
}

impl Config {
    /// A configuration with no quirks and a coherent walker.
    pub const fn new(pgsize_bitmap: usize, ias: u32, oas: u32) -> Self {
        Self {
            quirks: 0,
            pgsize_bitmap,
            ias,
            oas,
            coherent_walk: true,
        }
    }
}

mod private {
    pub trait Sealed {}
}

/// A page table format of the C io-pgtable library.
///
/// # Examples
///
/// ```
/// use kernel::io_pgtable::{ArmLpaeS1, Format};
///
/// fn format_id<F: Format>() -> kernel::bindings::io_pgtable_fmt {
///     F::FORMAT
/// }
/// assert_eq!(format_id::<ArmLpaeS1>(), kernel::bindings::io_pgtable_fmt_ARM_64_LPAE_S1);
/// ```
pub trait Format: private::Sealed + 'static {
    /// The C format id.
    const FORMAT: bindings::io_pgtable_fmt;

    /// What the hardware needs to walk a table of this format.
    type Regs: Copy;

    /// Reads the format's registers from a configured C table.
    fn regs(cfg: &bindings::io_pgtable_cfg) -> Self::Regs;
}

macro_rules! format {
    ($(#[$meta:meta])* $name:ident, $fmt:ident, $regs:ty, |$cfg:ident| $read:expr) => {
        $(#[$meta])*
        pub struct $name;

        impl private::Sealed for $name {}

        impl Format for $name {
            const FORMAT: bindings::io_pgtable_fmt = bindings::$fmt;
            type Regs = $regs;

            fn regs($cfg: &bindings::io_pgtable_cfg) -> $regs {
                $read
            }
        }
    };
}

/// The registers of an ARM LPAE stage-1 table.
#[derive(Clone, Copy, Debug)]
pub struct ArmLpaeS1Regs {
    /// The translation table base (TTBR).
    pub ttbr: u64,
    /// The translation control fields (TCR): IPS, TG, SH, ORGN, IRGN, TSZ.
    pub tcr: [u32; 6],
    /// The memory attribute indirection (MAIR).
    pub mair: u64,
}

/// The registers of an ARM LPAE stage-2 table.
#[derive(Clone, Copy, Debug)]
pub struct ArmLpaeS2Regs {
    /// The translation table base (VTTBR).
    pub vttbr: u64,
    /// The translation control fields (VTCR): PS, TG, SH, ORGN, IRGN, SL, TSZ.
    pub vtcr: [u32; 7],
}

/// The registers of an ARMv7 short-descriptor table.
#[derive(Clone, Copy, Debug)]
pub struct ArmV7sRegs {
    /// The translation table base (TTBR).
    pub ttbr: u32,
    /// The translation control register (TCR).
    pub tcr: u32,
    /// The normal memory remap register (NMRR).
    pub nmrr: u32,
    /// The primary region remap register (PRRR).
    pub prrr: u32,
}

/// The registers of a Mali LPAE table.
#[derive(Clone, Copy, Debug)]
pub struct ArmMaliLpaeRegs {
    /// The translation table base (TRANSTAB).
    pub transtab: u64,
    /// The memory attributes (MEMATTR).
    pub memattr: u64,
}

/// The registers of an Apple DART table.
#[derive(Clone, Copy, Debug)]
pub struct AppleDartRegs {
    /// The translation table bases; the first `n_ttbrs` are used.
    pub ttbr: [u64; 4],
    /// How many of `ttbr` are used.
    pub n_ttbrs: u32,
}

fn lpae_s1(cfg: &bindings::io_pgtable_cfg) -> ArmLpaeS1Regs {
    // SAFETY: Only called for stage-1 LPAE formats, whose union member the C code filled in.
    let c = unsafe { &cfg.__bindgen_anon_1.arm_lpae_s1_cfg };
    let t = &c.tcr;
    ArmLpaeS1Regs {
        ttbr: c.ttbr,
        tcr: [t.ips(), t.tg(), t.sh(), t.orgn(), t.irgn(), t.tsz()],
        mair: c.mair,
    }
}

fn lpae_s2(cfg: &bindings::io_pgtable_cfg) -> ArmLpaeS2Regs {
    // SAFETY: Only called for stage-2 LPAE formats, whose union member the C code filled in.
    let c = unsafe { &cfg.__bindgen_anon_1.arm_lpae_s2_cfg };
    let t = &c.vtcr;
    ArmLpaeS2Regs {
        vttbr: c.vttbr,
        vtcr: [t.ps(), t.tg(), t.sh(), t.orgn(), t.irgn(), t.sl(), t.tsz()],
    }
}

fn mali(cfg: &bindings::io_pgtable_cfg) -> ArmMaliLpaeRegs {
    // SAFETY: Only called for the Mali format, whose union member the C code filled in.
    let c = unsafe { &cfg.__bindgen_anon_1.arm_mali_lpae_cfg };
    ArmMaliLpaeRegs {
        transtab: c.transtab,
        memattr: c.memattr,
    }
}

fn v7s(cfg: &bindings::io_pgtable_cfg) -> ArmV7sRegs {
    // SAFETY: Only called for the ARMv7s format, whose union member the C code filled in.
    let c = unsafe { &cfg.__bindgen_anon_1.arm_v7s_cfg };
    ArmV7sRegs {
        ttbr: c.ttbr,
        tcr: c.tcr,
        nmrr: c.nmrr,
        prrr: c.prrr,
    }
}

fn dart(cfg: &bindings::io_pgtable_cfg) -> AppleDartRegs {
    // SAFETY: Only called for DART formats, whose union member the C code filled in.
    let c = unsafe { &cfg.__bindgen_anon_1.apple_dart_cfg };
    AppleDartRegs {
        ttbr: c.ttbr,
        n_ttbrs: c.n_ttbrs,
    }
}

format!(
    /// ARM LPAE, 64-bit, stage 1 (`ARM_64_LPAE_S1`).
    ArmLpaeS1, io_pgtable_fmt_ARM_64_LPAE_S1, ArmLpaeS1Regs, |cfg| lpae_s1(cfg)
);
format!(
    /// ARM LPAE, 64-bit, stage 2 (`ARM_64_LPAE_S2`).
    ArmLpaeS2, io_pgtable_fmt_ARM_64_LPAE_S2, ArmLpaeS2Regs, |cfg| lpae_s2(cfg)
);
format!(
    /// ARM LPAE, 32-bit, stage 1 (`ARM_32_LPAE_S1`).
    Arm32LpaeS1, io_pgtable_fmt_ARM_32_LPAE_S1, ArmLpaeS1Regs, |cfg| lpae_s1(cfg)
);
format!(
    /// ARM LPAE, 32-bit, stage 2 (`ARM_32_LPAE_S2`).
    Arm32LpaeS2, io_pgtable_fmt_ARM_32_LPAE_S2, ArmLpaeS2Regs, |cfg| lpae_s2(cfg)
);
format!(
    /// ARM Mali LPAE (`ARM_MALI_LPAE`).
    ArmMaliLpae,
    io_pgtable_fmt_ARM_MALI_LPAE,
    ArmMaliLpaeRegs,
    |cfg| mali(cfg)
);
format!(
    /// ARMv7 short descriptors (`ARM_V7S`).
    ArmV7s,
    io_pgtable_fmt_ARM_V7S,
    ArmV7sRegs,
    |cfg| v7s(cfg)
);
format!(
    /// Apple DART (`APPLE_DART`).
    AppleDart, io_pgtable_fmt_APPLE_DART, AppleDartRegs, |cfg| dart(cfg)
);
format!(
    /// Apple DART2 (`APPLE_DART2`).
    AppleDart2, io_pgtable_fmt_APPLE_DART2, AppleDartRegs, |cfg| dart(cfg)
);

/// The TLB maintenance a driver does when the table changes; the C `struct iommu_flush_ops`,
/// with the sync step of `iommu_iotlb_sync()`.
///
/// The table releases memory on the strength of these callbacks: after an unmap it frees table
/// pages, and [`IoPageTable::unmap_coherent`] releases the driver's memory once [`tlb_sync`]
/// returns. A wrong implementation lets the device use freed memory, so the trait is `unsafe`
/// to implement.
///
/// The callbacks run inside the table's map and unmap calls: the ones the C code makes
/// ([`tlb_flush_all`], [`tlb_flush_walk`], [`tlb_add_page`]) with the table's spinlock held,
/// [`tlb_sync`] after it is released, at the end of the call. None may sleep (a map or unmap
/// may be called from atomic context) or call back into the table.
///
/// # Safety
///
/// An implementation must uphold, for the device that walks the table:
///
/// - [`tlb_flush_walk`] and [`tlb_flush_all`] have invalidated what they name (cached
///   translations and intermediate walk state) when they return: the C code frees table pages
///   right after [`tlb_flush_walk`].
/// - After [`tlb_sync`] returns, the device no longer uses any translation whose invalidation
///   [`tlb_add_page`] queued before the call.
/// - When the table is dropped it calls [`tlb_flush_all`] and then [`tlb_sync`] before it frees
///   its pages and releases the memory it maps; after they return the device must neither walk
///   the table nor use a translation from it. (A driver whose device may still be walking the
///   table then points the device's MMU elsewhere in these callbacks, or before it drops the
///   table.)
///
/// [`tlb_flush_walk`]: FlushOps::tlb_flush_walk
/// [`tlb_flush_all`]: FlushOps::tlb_flush_all
/// [`tlb_add_page`]: FlushOps::tlb_add_page
/// [`tlb_sync`]: FlushOps::tlb_sync
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicUsize, Ordering};
/// use kernel::io_pgtable::FlushOps;
///
/// /// A device whose TLB is invalidated by writing a register and waiting for it (here a
/// /// counter stands in for the register).
/// struct Counting(AtomicUsize);
///
/// // SAFETY: Every callback invalidates the whole TLB synchronously, which is more than each
/// // needs; nothing is left queued for `tlb_sync`.
/// unsafe impl FlushOps for Counting {
///     fn tlb_flush_all(&self) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
///     fn tlb_flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {
///         self.tlb_flush_all();
///     }
///     fn tlb_add_page(&self, _iova: usize, _granule: usize) {
///         self.tlb_flush_all();
///     }
///     fn tlb_sync(&self) {}
/// }
/// ```
pub unsafe trait FlushOps: Send + Sync + 'static {
    /// Invalidates the whole TLB of the table, synchronously.
    fn tlb_flush_all(&self);

    /// Invalidates `size` bytes at `iova` after table entries (walk caches) changed,
    /// synchronously.
    fn tlb_flush_walk(&self, iova: usize, size: usize, granule: usize);

    /// Queues the invalidation of one leaf page at `iova`; [`FlushOps::tlb_sync`] completes it.
    fn tlb_add_page(&self, iova: usize, granule: usize);

    /// Waits until every invalidation queued by [`FlushOps::tlb_add_page`] has completed.
    fn tlb_sync(&self);
}

/// [`FlushOps`] that do nothing, for a table that no device caches translations of.
///
/// Creating one is `unsafe`: the table releases memory once the callbacks return, and these
/// return without having invalidated anything.
///
/// # Examples
///
/// ```
/// use kernel::io_pgtable::{FlushOps, NoFlush};
///
/// // SAFETY: No device walks the table this is for.
/// let none = unsafe { NoFlush::new() };
/// none.tlb_flush_all();
/// ```
pub struct NoFlush(());

impl NoFlush {
    /// Returns flush callbacks that do nothing.
    ///
    /// # Safety
    ///
    /// The device that walks the table these are given to must keep no translation or walk
    /// state of it between its accesses (it has no TLB), or no device walks the table at all;
    /// either way nothing ever needs invalidating. See the contract of [`FlushOps`].
    ///
    /// # Examples
    ///
    /// See [`NoFlush`].
    pub const unsafe fn new() -> Self {
        Self(())
    }
}

// SAFETY: `NoFlush` exists only where nothing needs invalidating (the contract of `new`).
unsafe impl FlushOps for NoFlush {
    fn tlb_flush_all(&self) {}
    fn tlb_flush_walk(&self, _iova: usize, _size: usize, _granule: usize) {}
    fn tlb_add_page(&self, _iova: usize, _granule: usize) {}
    fn tlb_sync(&self) {}
}

struct FlushAdapter<T>(PhantomData<T>);

impl<T: FlushOps> FlushAdapter<T> {
    const OPS: bindings::iommu_flush_ops = bindings::iommu_flush_ops {
        tlb_flush_all: Some(Self::flush_all),
        tlb_flush_walk: Some(Self::flush_walk),
        tlb_add_page: Some(Self::add_page),
    };

    /// # Safety
    ///
    /// `cookie` must be the `T` the table was created with.
    unsafe extern "C" fn flush_all(cookie: *mut c_void) {
        // SAFETY: By the function's contract; the table owns `T` for as long as it exists.
        unsafe { &*cookie.cast::<T>() }.tlb_flush_all();
    }

    /// # Safety
    ///
    /// As for `flush_all`.
    unsafe extern "C" fn flush_walk(iova: usize, size: usize, granule: usize, cookie: *mut c_void) {
        // SAFETY: As for `flush_all`.
        unsafe { &*cookie.cast::<T>() }.tlb_flush_walk(iova, size, granule);
    }

    /// # Safety
    ///
    /// As for `flush_all`.
    unsafe extern "C" fn add_page(
        _gather: *mut bindings::iommu_iotlb_gather,
        iova: usize,
        granule: usize,
        cookie: *mut c_void,
    ) {
        // SAFETY: As for `flush_all`.
        unsafe { &*cookie.cast::<T>() }.tlb_add_page(iova, granule);
    }

    /// # Safety
    ///
    /// As for `flush_all`.
    unsafe fn sync(cookie: *mut c_void) {
        // SAFETY: As for `flush_all`.
        unsafe { &*cookie.cast::<T>() }.tlb_sync();
    }
}

/// A page table of format `F` whose TLB callbacks go to `T`; see the [module
/// documentation](self).
///
/// # Invariants
///
/// `table.ops` was allocated for format `F` with the cookie `&*flush`, and is freed only in
/// `drop`.
///
/// # Examples
///
/// ```
/// use kernel::{
///     device::{Bound, Device},
///     devres::Devres,
///     io_pgtable::{prot, ArmLpaeS1, Config, IoPageTable, NoFlush},
/// };
///
/// fn gpu_vm(dev: &Device<Bound>) -> Result<Devres<IoPageTable<ArmLpaeS1, NoFlush>>> {
///     let cfg = Config::new((1 << 12) | (1 << 21), 48, 48);
///     // SAFETY: The device is not told about the table, so it never walks it.
///     let table = IoPageTable::<ArmLpaeS1, _>::new(dev, cfg, unsafe { NoFlush::new() })?;
///     let t = table.access(dev)?;
///     let _ttbr = t.regs().ttbr; // program the device's MMU with it
///     assert!(t.iova_to_phys(0x1000)?.is_zero()); // nothing mapped yet
///     Ok(table)
/// }
/// ```
pub struct IoPageTable<F: Format, T: FlushOps> {
    table: Table,
    flush: Pin<KBox<T>>,
    _format: PhantomData<F>,
}

/// Whether a table walker that reads physical addresses can be given `dev`'s table pages.
///
/// For a non-coherent walker the C code maps every table page with `dma_map_single()` on `dev`
/// and refuses the table when the DMA address is not the physical one. Behind an IOMMU or with
/// forced bouncing it never is; with neither, a page beyond the device's reach makes dma-direct
/// WARN (without a bounce pool) or bounce (and the C code refuse). So the device must reach every
/// page of memory at its physical address: its mask and bus limit cover the mask that all of
/// memory requires (`dma_get_required_mask()`).
fn walker_reaches_memory(dev: &Device<Bound>) -> bool {
    let raw = dev.as_raw();
    // SAFETY: `raw` is a valid device; these read its DMA configuration.
    let direct = unsafe {
        !bindings::get_dma_ops_is_set(raw)
            && !bindings::use_dma_iommu(raw)
            && !bindings::is_swiotlb_force_bounce(raw)
    };
    let Some(mask) = dev.dma_mask() else {
        return false;
    };
    // SAFETY: As above; `bus_dma_limit` is set up by the bus before the device is bound.
    let (required, limit) = unsafe { (bindings::dma_get_required_mask(raw), (*raw).bus_dma_limit) };
    let limit = if limit == 0 { u64::MAX } else { limit };
    direct && required <= mask.min(limit)
}

/// A range mapped by [`IoPageTable::map_coherent`] and the memory it translates to.
///
/// # Invariants
///
/// `[iova, iova + len)` was mapped with pages of `pgsize` bytes to memory that `_mem` keeps
/// allocated.
struct Region {
    iova: usize,
    len: usize,
    pgsize: usize,
    _mem: Arc<CoherentMemory>,
}

// SAFETY: The C table may be used and freed from any thread; `T` is `Send + Sync`.
unsafe impl<F: Format, T: FlushOps> Send for IoPageTable<F, T> {}

// SAFETY: The C io-pgtable code supports concurrent maps of disjoint ranges (it installs table
// pages with a compare-and-exchange); everything else that could reach a table page another call
// frees is kept apart by the table's spinlock and pending ranges (see "Concurrency" in the
// module documentation).
unsafe impl<F: Format, T: FlushOps> Sync for IoPageTable<F, T> {}

impl<F: Format, T: FlushOps + 'static> IoPageTable<F, T> {
    /// Allocates a table for `dev`, held in a [`Devres`] so that it is freed at unbind at the
    /// latest.
    ///
    /// Fails with [`EINVAL`] for an empty page-size bitmap, address sizes over 64 bits, quirks
    /// that are not `IO_PGTABLE_QUIRK_*` flags, a non-coherent walker on a device that does not
    /// reach all memory directly (see [`Config::coherent_walk`]) or a configuration the format
    /// rejects (the C code accepts per format only the quirks it implements), and [`ENOMEM`] if
    /// memory runs out. May sleep.
    pub fn new(dev: &Device<Bound>, config: Config, flush: T) -> Result<Devres<Self>> {
        crate::might_sleep!();
        if config.pgsize_bitmap == 0
            || config.ias == 0
            || config.ias > 64
            || config.oas == 0
            || config.oas > 64
            || config.quirks & !quirks::ALL != 0
            || (!config.coherent_walk && !walker_reaches_memory(dev))
        {
            return Err(EINVAL);
        }
        let flush = KBox::pin(flush, GFP_KERNEL)?;
        let cookie = core::ptr::from_ref::<T>(&flush).cast_mut().cast::<c_void>();
        // SAFETY: The ops and `sync` are `FlushAdapter::<T>`'s, which take as the cookie the
        // pinned `T` that the result owns until the table is freed, `flush`.
        let table = unsafe {
            Table::create(
                dev,
                &config,
                F::FORMAT,
                &FlushAdapter::<T>::OPS,
                cookie,
                FlushAdapter::<T>::sync,
            )
        }?;
        // INVARIANT: Allocated just now for format `F` with the cookie `flush`.
        let table = Self {
            table,
            flush,
            _format: PhantomData,
        };
        Devres::new(dev, table, GFP_KERNEL)
    }
}

impl<F: Format, T: FlushOps> IoPageTable<F, T> {
    /// Returns the registers the hardware needs to walk the table.
    pub fn regs(&self) -> F::Regs {
        F::regs(&self.table.cfg)
    }

    /// Returns the page sizes of the table (the configured ones that the format supports).
    pub fn pgsize_bitmap(&self) -> usize {
        self.table.cfg.pgsize_bitmap
    }

    /// Returns the input and output address sizes in bits.
    pub fn address_sizes(&self) -> (u32, u32) {
        (self.table.cfg.ias, self.table.cfg.oas)
    }

    /// Returns the flush callbacks' data.
    pub fn flush_ops(&self) -> &T {
        &self.flush
    }

    /// Maps `pgcount` pages of `pgsize` bytes from `iova` to `paddr`; returns the number of bytes
    /// mapped.
    ///
    /// Arguments are validated first ([`EINVAL`], [`ERANGE`]), and a range of which any byte is
    /// mapped already, by pages of any size, or is being mapped by a concurrent call, is
    /// [`EEXIST`] (nothing is mapped then). The C code maps up to the end of a leaf table per
    /// call; this calls it until the whole range is mapped. If it fails part-way ([`ENOMEM`]),
    /// what it mapped is unmapped again and the error is returned with the number of bytes that
    /// stay mapped, 0 unless the C code refused to unmap them (those count as mapped then, and
    /// the caller's memory must stay exposed until they are unmapped).
    ///
    /// Does not sleep unless `gfp` allows the C code's allocations of table pages to sleep.
    ///
    /// # Safety
    ///
    /// The device may read and, with [`prot::WRITE`], write the memory at `paddr` until it is
    /// unmapped and the TLB flushed: the caller must own that memory (or it must be device
    /// memory the caller may expose) for at least that long.
    #[inline]
    pub unsafe fn map_pages(
        &self,
        iova: usize,
        paddr: PhysAddr,
        pgsize: usize,
        pgcount: usize,
        prot: Prot,
        gfp: Flags,
    ) -> core::result::Result<usize, (crate::error::Error, usize)> {
        // SAFETY: The caller's guarantee, passed on.
        unsafe {
            self.table
                .map_pages(iova, paddr, pgsize, pgcount, prot, gfp)
        }
    }

    /// Unmaps `pgcount` pages of `pgsize` bytes from `iova`; returns the number of bytes
    /// unmapped.
    ///
    /// The range may have been mapped with other page sizes: part of a block is unmapped by
    /// splitting the block, for which the C code allocates a table without sleeping. If that
    /// fails, fewer bytes than asked are unmapped (the rest stays mapped), or [`ENOMEM`] if none.
    /// When this returns, the driver's [`FlushOps::tlb_sync`] has run: the device no longer
    /// translates what was unmapped.
    ///
    /// [`EINVAL`] or [`ERANGE`] for bad arguments; [`ENOENT`] if any of the range is not mapped
    /// or is being mapped by a concurrent call (nothing is unmapped then); [`ENOMEM`] if the
    /// bookkeeping of the mapped ranges could not grow. Does not sleep.
    #[inline]
    pub fn unmap_pages(&self, iova: usize, pgsize: usize, pgcount: usize) -> Result<usize> {
        self.table.unmap_pages(iova, pgsize, pgcount)
    }

    /// Returns the physical address that `iova` translates to, or 0 if it is not mapped;
    /// [`ERANGE`] for an `iova` outside the input address size.
    ///
    /// Since 0 means "not mapped", [`IoPageTable::map_pages`] refuses to map physical address 0.
    /// Takes the table's spinlock (an unmap may be freeing table pages); does not sleep.
    #[inline]
    pub fn iova_to_phys(&self, iova: usize) -> Result<PhysAddr> {
        self.table.iova_to_phys(iova)
    }

    /// Maps all of the coherent allocation `mem` at `iova`, readable and, with [`prot::WRITE`],
    /// writable by the device; returns the number of bytes mapped.
    ///
    /// The device's MMU outputs bus addresses of `dev`, so the allocation's DMA address is what
    /// the table translates to. The table keeps a reference to `mem` until the range is unmapped
    /// with [`IoPageTable::unmap_coherent`] or the table is freed (at unbind at the latest): the
    /// memory outlives every translation to it, which is what makes this safe where
    /// [`IoPageTable::map_pages`] is not.
    ///
    /// The range is mapped with the table's smallest page size, and covers the allocation's
    /// pages whole (coherent memory is allocated in pages). Fails with [`EINVAL`] if `dev` is not
    /// the table's device or the allocation is not `dev`'s, if the allocation's DMA address is
    /// not aligned to the page size or its pages would not fill the last table page; with the
    /// errors of [`IoPageTable::map_pages`] for `iova` (nothing stays mapped then).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{
    ///     device::{Bound, Device},
    ///     dma::CoherentAllocation,
    ///     io_pgtable::{prot, ArmLpaeS1, Config, IoPageTable, NoFlush, PhysAddr},
    ///     sync::Arc,
    /// };
    ///
    /// fn map_ring(dev: &Device<Bound>) -> Result {
    ///     let cfg = Config::new(1 << 12, 48, 48);
    ///     // SAFETY: The device is not told about the table, so it never walks it.
    ///     let table = IoPageTable::<ArmLpaeS1, _>::new(dev, cfg, unsafe { NoFlush::new() })?;
    ///     let t = table.access(dev)?;
    ///     let ring = Arc::new(CoherentAllocation::<u64>::alloc_coherent(dev, 1024, GFP_KERNEL)?,
    ///                         GFP_KERNEL)?;
    ///     assert_eq!(t.map_coherent(dev, 0x10_0000, &ring, prot::READ | prot::WRITE)?, 8192);
    ///     let handle = ring.access(dev)?.dma_handle();
    ///     assert_eq!(t.iova_to_phys(0x10_1008)?, PhysAddr::from_dma(handle) + 0x1008);
    ///     assert_eq!(t.unmap_coherent(0x10_0000)?, 8192);
    ///     assert!(t.iova_to_phys(0x10_0000)?.is_zero());
    ///     Ok(())
    /// }
    /// ```
    pub fn map_coherent<U>(
        &self,
        dev: &Device<Bound>,
        iova: usize,
        mem: &Devres<CoherentAllocation<U>>,
        prot: Prot,
    ) -> Result<usize>
    where
        U: AsBytes + FromBytes + Send + Sync + 'static,
    {
        crate::might_sleep!();
        if dev.as_raw() != self.table.dev.as_raw() {
            return Err(EINVAL);
        }
        let alloc = mem.access(dev)?;
        let keep = alloc.mem.clone();
        if keep.dev.as_raw() != dev.as_raw() {
            return Err(EINVAL);
        }
        // SAFETY: `size` bytes of whole pages from `dma_handle` are the allocation, whose memory
        // `keep` holds.
        unsafe {
            self.table
                .map_region(iova, alloc.dma_handle(), alloc.size(), prot, keep)
        }
    }

    /// Unmaps the range that [`IoPageTable::map_coherent`] mapped at `iova` and lets the table's
    /// reference to its memory go; returns the number of bytes unmapped.
    ///
    /// The driver's [`FlushOps`] callbacks run during the unmap, and the memory is released only
    /// after [`FlushOps::tlb_sync`] has returned. [`ENOENT`] if no such range starts at `iova`;
    /// [`ENOMEM`] if the bookkeeping of the mapped ranges could not grow, in which case what is
    /// still mapped stays mapped, the memory stays with the table, and the call can be retried.
    /// May sleep.
    ///
    /// # Examples
    ///
    /// See [`IoPageTable::map_coherent`].
    #[inline]
    pub fn unmap_coherent(&self, iova: usize) -> Result<usize> {
        crate::might_sleep!();
        self.table.unmap_coherent(iova)
    }
}

/// What a table is apart from its format and its TLB callbacks. The code that needs only this
/// is compiled once, in this crate, instead of in every driver for every format.
///
/// # Invariants
///
/// - `ops` is a table allocated by `alloc_io_pgtable_ops()` with `cfg` (as the C code completed
///   it); it is live until the [`IoPageTable`] holding this frees it in its `drop`.
/// - `cfg.pgsize_bitmap` is non-zero, and `cfg.ias` and `cfg.oas` are at most 64.
/// - `state.mapped` holds the input ranges that `ops` maps, apart from those of maps in flight,
///   which are in `state.pending` until their C call has returned.
/// - `state.mapped` has room for `state.pending.len()` more ranges, so that a map in flight
///   can always record its range (or what stays of it) when its C call returns.
/// - `sync(cookie)` is the `tlb_sync` of the [`FlushOps`] whose callbacks `ops` calls with
///   `cookie`, valid as long as `ops`.
/// - `regions`, `state` and `dev` are dropped exactly once, in this order, by `Table`'s `Drop`.
struct Table {
    ops: NonNull<bindings::io_pgtable_ops>,
    cfg: bindings::io_pgtable_cfg,
    /// The driver-owned memory mapped by [`IoPageTable::map_coherent`], dropped after `ops` is
    /// freed (`Table` drops after [`Drop::drop`] of the [`IoPageTable`]).
    regions: ManuallyDrop<Pin<KBox<Regions>>>,
    /// The mapped and pending input ranges; unmaps and translations hold it across C.
    state: ManuallyDrop<Pin<KBox<SpinLock<State>>>>,
    dev: ManuallyDrop<ARef<Device>>,
    cookie: *mut c_void,
    sync: unsafe fn(*mut c_void),
}

// The fields' drops are compiled once, here, rather than in every module that drops a table.
impl Drop for Table {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: The fields are dropped here and nowhere else, and `self` is not used after its
        // drop: each exactly once, in their declaration order (type invariant), after the
        // `IoPageTable` holding this has freed `ops`.
        unsafe {
            ManuallyDrop::drop(&mut self.regions);
            ManuallyDrop::drop(&mut self.state);
            ManuallyDrop::drop(&mut self.dev);
        }
    }
}

/// The regions of a table, under its mutex.
type Regions = Mutex<KVec<Option<Region>>>;

/// The input ranges of a table, under its spinlock.
struct State {
    /// The ranges that are mapped.
    mapped: Ranges,
    /// The ranges of maps whose C call has not returned, each `(first, last)`.
    pending: KVec<(usize, usize)>,
}

impl State {
    fn pending_overlaps(&self, first: usize, last: usize) -> bool {
        self.pending.iter().any(|&(f, l)| f <= last && first <= l)
    }

    fn remove_pending(&mut self, first: usize) {
        if let Some(i) = self.pending.iter().position(|&(f, _)| f == first) {
            let len = self.pending.len();
            self.pending.swap(i, len - 1);
            // SAFETY: `len - 1` is below the capacity; the element let go is a pair of integers,
            // which needs no drop.
            unsafe { self.pending.set_len(len - 1) };
        }
    }
}

impl Table {
    /// The part of [`IoPageTable::new`] that depends neither on the format nor on the flush
    /// callbacks: allocates the table, after the caller's checks of `config`.
    ///
    /// # Safety
    ///
    /// `tlb` and `sync` must be the callbacks of one [`FlushOps`] that take `cookie`, which must
    /// stay valid until the table is freed. The result must go into an [`IoPageTable`], whose
    /// drop frees `ops` (a `Table`'s own drop does not: dropped alone, it leaks the C table).
    #[inline(never)]
    unsafe fn create(
        dev: &Device<Bound>,
        config: &Config,
        format: bindings::io_pgtable_fmt,
        tlb: &'static bindings::iommu_flush_ops,
        cookie: *mut c_void,
        sync: unsafe fn(*mut c_void),
    ) -> Result<Self> {
        let regions = KBox::pin_init(new_mutex!(KVec::new()), GFP_KERNEL)?;
        let state = KBox::pin_init(
            new_spinlock!(State {
                mapped: Ranges(KVec::new()),
                pending: KVec::new(),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: All-zeroes is a valid `struct io_pgtable_cfg` (no callbacks, NULL pointers).
        let mut cfg: bindings::io_pgtable_cfg = unsafe { core::mem::zeroed() };
        cfg.quirks = config.quirks;
        cfg.pgsize_bitmap = config.pgsize_bitmap;
        cfg.ias = config.ias;
        cfg.oas = config.oas;
        cfg.coherent_walk = config.coherent_walk;
        cfg.tlb = tlb;
        cfg.iommu_dev = dev.as_raw();
        // SAFETY: `cfg` is fully set up; the flush ops are `'static`; the cookie stays valid
        // until the table is freed (the caller's guarantee); `dev` is a bound device.
        let ops = unsafe { bindings::alloc_io_pgtable_ops(format, &mut cfg, cookie) };
        // The C code returns NULL both for bad configurations and for a lack of memory; a bad
        // configuration is the only failure a caller can act on.
        let ops = NonNull::new(ops).ok_or(EINVAL)?;
        // INVARIANT: Allocated just now with `cfg`, which holds what the C code completed, and
        // with `tlb` and `sync` of one `FlushOps` (the caller's guarantee); nothing is mapped,
        // and both range lists are empty; the new fields are dropped by `Table`'s `Drop` only.
        Ok(Self {
            ops,
            cfg,
            regions: ManuallyDrop::new(regions),
            state: ManuallyDrop::new(state),
            dev: ManuallyDrop::new(ARef::from(&**dev)),
            cookie,
            sync,
        })
    }

    fn check_size(&self, pgsize: usize) -> Result {
        if !pgsize.is_power_of_two() || self.cfg.pgsize_bitmap & pgsize == 0 {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Returns whether `iova` is an input address of the table, as the C code decides it: the
    /// bits above `ias` are all clear or, with the TTBR1 quirk, all set.
    #[inline]
    fn in_input(&self, iova: usize) -> bool {
        if self.cfg.ias >= usize::BITS {
            return true;
        }
        let ext = (iova as isize) >> self.cfg.ias;
        if self.cfg.quirks & quirks::ARM_TTBR1 != 0 {
            ext == -1
        } else {
            ext == 0
        }
    }

    /// Checks an input range of `pgcount` pages of `pgsize` at `iova`; returns its length.
    fn check_iova(&self, iova: usize, pgsize: usize, pgcount: usize) -> Result<usize> {
        self.check_size(pgsize)?;
        if pgcount == 0 || iova % pgsize != 0 {
            return Err(EINVAL);
        }
        let len = pgsize.checked_mul(pgcount).ok_or(EINVAL)?;
        let last = iova.checked_add(len - 1).ok_or(EINVAL)?;
        // The input addresses form one interval, so its two ends decide.
        if !self.in_input(iova) || !self.in_input(last) {
            return Err(ERANGE);
        }
        Ok(len)
    }

    /// See [`IoPageTable::map_pages`].
    ///
    /// # Safety
    ///
    /// As for [`IoPageTable::map_pages`].
    unsafe fn map_pages(
        &self,
        iova: usize,
        paddr: PhysAddr,
        pgsize: usize,
        pgcount: usize,
        prot: Prot,
        gfp: Flags,
    ) -> core::result::Result<usize, (crate::error::Error, usize)> {
        let len = self.check_iova(iova, pgsize, pgcount).map_err(|e| (e, 0))?;
        let paddr = paddr.0;
        if paddr % pgsize as bindings::phys_addr_t != 0 {
            return Err((EINVAL, 0));
        }
        let last = paddr
            .checked_add(len as bindings::phys_addr_t - 1)
            .ok_or((EINVAL, 0))?;
        if !fits(last, self.cfg.oas) {
            return Err((ERANGE, 0));
        }
        if paddr == 0 {
            // A translation to 0 can not be told from no translation (see `iova_to_phys`).
            return Err((EINVAL, 0));
        }
        let prot = Prot::try_from_raw(prot.as_raw()).map_err(|e| (e, 0))?;
        // SAFETY: `ops` is a live table (type invariant).
        let map = unsafe { (*self.ops.as_ptr()).map_pages }.ok_or((EINVAL, 0))?;
        // `check_iova` showed that this does not overflow.
        let end = iova + (len - 1);
        {
            let mut state = self.state.lock();
            // The C code warns, or replaces smaller pages, where a page is mapped: refuse first.
            // A pending map's range counts as mapped.
            if state.mapped.overlaps(iova, end) || state.pending_overlaps(iova, end) {
                return Err((EEXIST, 0));
            }
            state
                .pending
                .push((iova, end), GFP_NOWAIT | __GFP_NOWARN)
                .map_err(|_| (ENOMEM, 0))?;
            // Room for the range of every pending map, this one's included (invariant).
            let pending = state.pending.len();
            if let Err(e) = state.mapped.reserve(pending) {
                state.remove_pending(iova);
                return Err((e, 0));
            }
        }
        // The C code maps at most up to the end of a leaf table per call: go on until done.
        let mut mapped = 0usize;
        let mut ret = 0;
        while mapped < len && ret == 0 {
            let done = mapped;
            // SAFETY: `ops` is a live table (type invariant); the arguments were validated and
            // the rest of the range is whole pages; the caller guarantees the memory may be
            // exposed. The range is pending, so no other call unmaps or maps it meanwhile.
            ret = unsafe {
                map(
                    self.ops.as_ptr(),
                    iova + done,
                    paddr + done as bindings::phys_addr_t,
                    pgsize,
                    (len - done) / pgsize,
                    prot.as_raw() as i32,
                    gfp.as_raw(),
                    &mut mapped,
                )
            };
            if ret == 0 && mapped == done {
                // No progress and no error: do not loop forever.
                ret = ENOMEM.to_errno();
            }
        }
        let mut state = self.state.lock();
        state.remove_pending(iova);
        if ret == 0 {
            state.mapped.insert(iova, end);
            return Ok(len);
        }
        // Undo the part that was mapped, while the range is still ours (the lock is held, and
        // nothing else saw it as mapped). Unmapping whole pages of the size just mapped splits
        // nothing, so the C code allocates nothing here.
        let mut kept = 0;
        if mapped > 0 {
            // SAFETY: `[iova, iova + mapped)` was mapped just now with pages of `pgsize`.
            let undone = unsafe { self.unmap_locked(iova, pgsize, mapped / pgsize) };
            if undone < mapped {
                // Should the C code keep some of it, the table says so and keeps it.
                kept = mapped - undone;
                state.mapped.insert(iova + undone, iova + mapped - 1);
            }
        }
        drop(state);
        self.tlb_sync();
        Err((crate::error::Error::from_errno(ret), kept))
    }

    /// Calls the C unmap until the range is unmapped or it makes no progress; returns the bytes
    /// unmapped. (Like the C map, the C unmap stops at the end of a leaf table.)
    ///
    /// # Safety
    ///
    /// The caller holds the state's lock, and `[iova, iova + pgsize * pgcount)` is mapped (and
    /// validated).
    unsafe fn unmap_locked(&self, iova: usize, pgsize: usize, pgcount: usize) -> usize {
        // SAFETY: `ops` is a live table (type invariant).
        let Some(unmap) = (unsafe { (*self.ops.as_ptr()).unmap_pages }) else {
            return 0;
        };
        let len = pgsize * pgcount;
        let mut unmapped = 0;
        while unmapped < len {
            let mut gather = core::mem::MaybeUninit::<bindings::iommu_iotlb_gather>::zeroed();
            // SAFETY: Initialises the (zeroed) gather structure in place.
            unsafe { bindings::iommu_iotlb_gather_init(gather.as_mut_ptr()) };
            // The lock keeps translations out of the table pages this may free ("Concurrency").
            // SAFETY: `ops` is a live table; the arguments were validated and the rest of the
            // range is mapped whole pages; `gather` is initialised and lives across the call.
            let n = unsafe {
                unmap(
                    self.ops.as_ptr(),
                    iova + unmapped,
                    pgsize,
                    (len - unmapped) / pgsize,
                    gather.as_mut_ptr(),
                )
            };
            if n == 0 {
                break;
            }
            unmapped += n;
        }
        unmapped
    }

    /// Waits for the TLB invalidations the C code queued.
    fn tlb_sync(&self) {
        // SAFETY: `sync` and `cookie` belong together and live as long as `ops` (invariant).
        unsafe { (self.sync)(self.cookie) };
    }

    /// See [`IoPageTable::unmap_pages`].
    fn unmap_pages(&self, iova: usize, pgsize: usize, pgcount: usize) -> Result<usize> {
        let len = self.check_iova(iova, pgsize, pgcount)?;
        let end = iova + (len - 1);
        let unmapped = {
            let mut state = self.state.lock();
            // The C code warns where a page is not mapped: refuse first. (A pending range is
            // not in `mapped`, so it is refused here too.)
            if !state.mapped.covers(iova, end) {
                return Err(ENOENT);
            }
            // Room for splitting the range that holds this one, keeping that of pending maps.
            let pending = state.pending.len();
            state.mapped.reserve(pending + 1)?;
            // SAFETY: The lock is held and the range is mapped (checked above).
            let unmapped = unsafe { self.unmap_locked(iova, pgsize, pgcount) };
            if unmapped > 0 {
                state.mapped.remove(iova, iova + (unmapped - 1));
            }
            unmapped
        };
        self.tlb_sync();
        if unmapped == 0 {
            return Err(ENOMEM);
        }
        Ok(unmapped)
    }

    /// See [`IoPageTable::iova_to_phys`].
    #[inline]
    fn iova_to_phys(&self, iova: usize) -> Result<PhysAddr> {
        if !self.in_input(iova) {
            return Err(ERANGE);
        }
        let _state = self.state.lock();
        Ok(self.iova_to_phys_raw(iova))
    }

    /// Maps the `size` bytes of DMA memory at `handle` at `iova`, keeping `keep` until the range
    /// is unmapped or the table freed; see [`IoPageTable::map_coherent`].
    ///
    /// # Safety
    ///
    /// The memory must be whole pages from `handle` that `keep` holds.
    unsafe fn map_region(
        &self,
        iova: usize,
        handle: DmaAddress,
        size: usize,
        prot: Prot,
        keep: Arc<CoherentMemory>,
    ) -> Result<usize> {
        let pgsize = 1usize << self.cfg.pgsize_bitmap.trailing_zeros();
        let len = size.checked_next_multiple_of(pgsize).ok_or(EINVAL)?;
        let pages = size
            .checked_next_multiple_of(bindings::PAGE_SIZE)
            .ok_or(EINVAL)?;
        if len > pages {
            return Err(EINVAL);
        }
        let mut regions = self.regions.lock();
        regions.reserve(1, GFP_KERNEL)?;
        // SAFETY: The memory is `len` bytes of whole pages from `handle` (by the caller's
        // guarantee and the check above) that `keep` holds, and `keep` is kept in `regions`
        // while any of the range is mapped, until the table is freed, after the C table.
        let mapped = unsafe {
            self.map_pages(
                iova,
                PhysAddr::from_dma(handle),
                pgsize,
                len / pgsize,
                prot,
                GFP_KERNEL,
            )
        };
        let error = match mapped {
            Ok(_) => None,
            // Rolled back: nothing translates to the memory.
            Err((e, 0)) => return Err(e),
            // Some of it stays mapped: the memory stays with the table.
            Err((e, _)) => Some(e),
        };
        // INVARIANT: Mapped just now, to memory that `keep` holds.
        let region = Region {
            iova,
            len,
            pgsize,
            _mem: keep,
        };
        match regions.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(region),
            // Cannot fail: one slot was reserved above.
            None => regions.push(Some(region), GFP_KERNEL)?,
        }
        match error {
            None => Ok(len),
            Some(e) => Err(e),
        }
    }

    /// See [`IoPageTable::unmap_coherent`].
    fn unmap_coherent(&self, iova: usize) -> Result<usize> {
        let mut regions = self.regions.lock();
        let slot = regions
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|r| r.iova == iova))
            .ok_or(ENOENT)?;
        let (len, pgsize) = slot.as_ref().map_or((0, 1), |r| (r.len, r.pgsize));
        // The range may have been unmapped (in part) with `unmap_pages`: unmap what is left.
        let mut unmapped = 0;
        let mut result = Ok(());
        {
            let mut state = self.state.lock();
            for page in (iova..iova + len).step_by(pgsize) {
                let last = page + (pgsize - 1);
                if !state.mapped.covers(page, last) {
                    continue;
                }
                let pending = state.pending.len();
                if let Err(e) = state.mapped.reserve(pending + 1) {
                    result = Err(e);
                    break;
                }
                // SAFETY: The lock is held and the page is mapped (checked above).
                let n = unsafe { self.unmap_locked(page, pgsize, 1) };
                if n == 0 {
                    result = Err(ENOMEM);
                    break;
                }
                state.mapped.remove(page, page + (n - 1));
                unmapped += n;
            }
        }
        // The memory is released only once the device can no longer translate to it.
        self.tlb_sync();
        result?;
        *slot = None;
        Ok(unmapped)
    }

    /// Translates an `iova` already checked against the input address size.
    ///
    /// The caller holds the state's lock (or is the only user of the table).
    #[inline]
    fn iova_to_phys_raw(&self, iova: usize) -> PhysAddr {
        // SAFETY: `ops` is a live table (type invariant).
        match unsafe { (*self.ops.as_ptr()).iova_to_phys } {
            // SAFETY: `ops` is a live table and `iova` within its input size; no unmap frees a
            // table page meanwhile (the caller holds the lock).
            Some(f) => PhysAddr(unsafe { f(self.ops.as_ptr(), iova) }),
            None => PhysAddr(0),
        }
    }
}

/// A set of input ranges, each `(first, last)` with `last` inclusive (a range may end at the top
/// of the address space).
///
/// # Invariants
///
/// The ranges are sorted, disjoint, and not adjacent: touching ranges are merged, so that a
/// range inside the union of the set is inside one of its ranges.
struct Ranges(KVec<(usize, usize)>);

impl Ranges {
    /// Returns the index of the first range that ends at or after `first`.
    fn search(&self, first: usize) -> usize {
        self.0.partition_point(|r| r.1 < first)
    }

    /// Returns whether any of `[first, last]` is in the set.
    fn overlaps(&self, first: usize, last: usize) -> bool {
        self.0.get(self.search(first)).is_some_and(|r| r.0 <= last)
    }

    /// Returns whether all of `[first, last]` is in the set.
    fn covers(&self, first: usize, last: usize) -> bool {
        self.0
            .get(self.search(first))
            .is_some_and(|r| r.0 <= first && last <= r.1)
    }

    /// Makes room for `n` more ranges, without sleeping (the set is used under a spinlock).
    fn reserve(&mut self, n: usize) -> Result {
        Ok(self.0.reserve(n, GFP_NOWAIT | __GFP_NOWARN)?)
    }

    /// Adds `[first, last]`, which must not overlap the set; takes at most one slot of the room
    /// made by [`Ranges::reserve`].
    fn insert(&mut self, first: usize, last: usize) {
        let i = self.search(first);
        let v = self.0.as_mut_slice();
        let joins_prev = i > 0 && v[i - 1].1.checked_add(1) == Some(first);
        let joins_next = i < v.len() && last.checked_add(1) == Some(v[i].0);
        match (joins_prev, joins_next) {
            (true, true) => {
                v[i - 1].1 = v[i].1;
                self.remove_at(i);
            }
            (true, false) => v[i - 1].1 = last,
            (false, true) => v[i].0 = first,
            (false, false) => self.insert_at(i, (first, last)),
        }
    }

    /// Takes `[first, last]`, which must be covered, out of the set; takes at most one slot of
    /// the room made by [`Ranges::reserve`].
    fn remove(&mut self, first: usize, last: usize) {
        let i = self.search(first);
        let Some(&(start, stop)) = self.0.get(i) else {
            return;
        };
        if first < start || stop < last {
            return;
        }
        // `first - 1` and `last + 1` do not overflow: they lie inside `[start, stop]`.
        match (start == first, stop == last) {
            (true, true) => self.remove_at(i),
            (true, false) => self.0[i].0 = last + 1,
            (false, true) => self.0[i].1 = first - 1,
            (false, false) => {
                self.0[i].1 = first - 1;
                self.insert_at(i + 1, (last + 1, stop));
            }
        }
    }

    fn insert_at(&mut self, i: usize, range: (usize, usize)) {
        // Takes a reserved slot: no allocation, so it does not fail. Were there no room, the
        // range would be lost, never memory.
        if self.0.push(range, GFP_NOWAIT | __GFP_NOWARN).is_ok() {
            self.0[i..].rotate_right(1);
        }
    }

    fn remove_at(&mut self, i: usize) {
        let len = self.0.len();
        self.0[i..].rotate_left(1);
        // SAFETY: `len - 1` is below the capacity; the element let go is a pair of integers,
        // which needs no drop.
        unsafe { self.0.set_len(len - 1) };
    }
}

/// Returns whether `addr` fits in `bits` bits.
#[inline]
fn fits(addr: u64, bits: u32) -> bool {
    bits >= 64 || addr >> bits == 0
}

impl<F: Format, T: FlushOps> Drop for IoPageTable<F, T> {
    fn drop(&mut self) {
        // By the contract of `FlushOps`, the device neither walks the table nor uses its
        // translations once these return; only then are its pages and the memory it maps let go.
        self.flush.tlb_flush_all();
        self.flush.tlb_sync();
        // SAFETY: By the type invariants `table.ops` is live and freed only here; the cookie
        // `flush` is dropped after this returns.
        unsafe { bindings::free_io_pgtable_ops(self.table.ops.as_ptr()) };
    }
}
