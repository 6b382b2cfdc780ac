// SPDX-License-Identifier: GPL-2.0

//! Direct memory access (DMA): masks, coherent allocations and streaming mappings.
//!
//! A device keeps a DMA address after the CPU side lets go of it, so every DMA resource here is
//! tied to the driver's binding: it can only be created from a bound device (`&Device<Bound>`),
//! and it is held in a [`Devres`] (or, for streaming mappings, its mapping is), so that it is
//! freed or unmapped when the driver is unbound at the latest, never later and never on a device
//! without a driver.
//!
//! - [`DmaMask`] and [`Device::dma_set_mask`] and friends: what the device can address. Setting
//!   it is only offered in the [`Core`] context, see [`Device::dma_set_mask`].
//! - [`CoherentAllocation<T>`]: memory that the CPU and the device share, with volatile,
//!   bounds-checked element access.
//! - [`StreamingMapping<T>`] and [`CpuView<T>`]: a driver-owned buffer handed to the device. While
//!   it is mapped the device owns it and the CPU has no method to read or write it;
//!   [`StreamingMapping::sync_for_cpu`] hands the CPU a view, [`CpuView::sync_for_device`] gives
//!   the buffer back to the device, and [`StreamingMapping::unmap`] returns the buffer.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)
//!
//! Reference: [`Documentation/core-api/dma-api.rst`](srctree/Documentation/core-api/dma-api.rst)

use crate::{
    alloc::{flags::GFP_KERNEL, Flags, KVec},
    bindings,
    device::{Bound, Core, Device},
    devres::Devres,
    error::{code::*, to_result, Result},
    sync::Arc,
    types::{ARef, AsBytes, FromBytes},
};
use core::{ffi::c_void, ptr::NonNull};

#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
pub(crate) mod tests;

/// A bus address that a device uses to reach memory.
///
/// # Examples
///
/// ```
/// use kernel::dma::DmaAddress;
///
/// // A bus address is an integer: the next `u64` element is 8 bytes further on.
/// let first: DmaAddress = 0x1000;
/// let second = first + core::mem::size_of::<u64>() as DmaAddress;
/// assert_eq!(second, 0x1008);
/// ```
pub type DmaAddress = bindings::dma_addr_t;

/// The addresses a device can reach: a mask of the low `n` bits, for `n` from 1 to 64.
///
/// # Invariants
///
/// The value is `2^n - 1` for some `n` in `1..=64`.
///
/// # Examples
///
/// ```
/// use kernel::dma::DmaMask;
///
/// assert_eq!(DmaMask::new::<28>().value(), 0x0fff_ffff);
/// assert_eq!(DmaMask::new::<64>().value(), u64::MAX);
/// assert_eq!(DmaMask::try_new(32)?.value(), 0xffff_ffff);
/// assert_eq!(DmaMask::try_new(0), Err(EINVAL));
/// assert_eq!(DmaMask::try_new(65), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaMask(u64);

impl DmaMask {
    /// A mask of the low `N` bits; an `N` outside `1..=64` does not build.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::DmaMask;
    ///
    /// const MASK: DmaMask = DmaMask::new::<40>();
    /// assert_eq!(MASK.value(), (1u64 << 40) - 1);
    /// ```
    pub const fn new<const N: u32>() -> Self {
        const { assert!(N >= 1 && N <= 64, "a DMA mask has 1 to 64 bits") };
        // INVARIANT: `N` is in range, checked at compile time.
        Self(Self::bits(N))
    }

    /// A mask of the low `n` bits; [`EINVAL`] for an `n` outside `1..=64`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::DmaMask;
    ///
    /// // For a width only known at run time.
    /// assert_eq!(DmaMask::try_new(40)?, DmaMask::new::<40>());
    /// assert_eq!(DmaMask::try_new(65), Err(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub const fn try_new(n: u32) -> Result<Self> {
        if n == 0 || n > 64 {
            return Err(EINVAL);
        }
        // INVARIANT: `n` is in range.
        Ok(Self(Self::bits(n)))
    }

    const fn bits(n: u32) -> u64 {
        if n == 64 {
            u64::MAX
        } else {
            (1u64 << n) - 1
        }
    }

    /// Returns the mask as the C `u64` of `DMA_BIT_MASK()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::DmaMask;
    ///
    /// assert_eq!(DmaMask::new::<1>().value(), 1);
    /// assert_eq!(DmaMask::new::<64>().value(), u64::MAX);
    /// ```
    pub const fn value(&self) -> u64 {
        self.0
    }
}

/// Setting the DMA masks.
///
/// The masks decide where later allocations and mappings may place memory, and the DMA API
/// requires that they are set before the driver allocates or maps anything and not changed
/// while it does. Offering the setters only on [`Device<Core>`], i.e. inside `probe` and `remove`
/// with the device lock held, makes them safe: no other driver callback of the device runs
/// concurrently, every DMA resource of an earlier binding has been released at its unbind, and
/// code of the current binding that runs elsewhere only starts from what `probe` set up. A
/// driver sets the mask at the start of `probe`, before it creates anything that allocates.
impl Device<Core> {
    /// Sets the streaming DMA mask, as `dma_set_mask()` does; returns the C error (`EIO`) if the
    /// platform can not support the mask.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Core, Device}, dma::DmaMask};
    ///
    /// fn setup(dev: &Device<Core>) -> Result {
    ///     dev.dma_set_mask(DmaMask::new::<28>())
    /// }
    /// ```
    pub fn dma_set_mask(&self, mask: DmaMask) -> Result {
        // SAFETY: `self.as_raw()` is valid; the device lock is held (type invariant of `Core`).
        to_result(unsafe { bindings::dma_set_mask(self.as_raw(), mask.value()) })
    }

    /// Sets the coherent DMA mask, as `dma_set_coherent_mask()` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Core, Device}, dma::DmaMask};
    ///
    /// fn setup(dev: &Device<Core>) -> Result {
    ///     dev.dma_set_coherent_mask(DmaMask::new::<32>())
    /// }
    /// ```
    pub fn dma_set_coherent_mask(&self, mask: DmaMask) -> Result {
        // SAFETY: As for `dma_set_mask`.
        to_result(unsafe { bindings::dma_set_coherent_mask(self.as_raw(), mask.value()) })
    }

    /// Sets both masks, as `dma_set_mask_and_coherent()` does: the coherent one only if the
    /// streaming one could be set.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Core, Device}, dma::DmaMask};
    ///
    /// fn setup(dev: &Device<Core>) -> Result {
    ///     dev.dma_set_mask_and_coherent(DmaMask::new::<64>())
    /// }
    /// ```
    pub fn dma_set_mask_and_coherent(&self, mask: DmaMask) -> Result {
        self.dma_set_mask(mask)?;
        self.dma_set_coherent_mask(mask)
    }
}

impl Device<Bound> {
    /// Returns the streaming DMA mask currently set, if the bus gave the device one.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::{Bound, Device};
    ///
    /// fn mask(dev: &Device<Bound>) -> u64 {
    ///     dev.dma_mask().unwrap_or(0)
    /// }
    /// ```
    pub fn dma_mask(&self) -> Option<u64> {
        // SAFETY: `self.as_raw()` is valid; `dma_mask` is set by the bus before the device is
        // added and points to storage that lives as long as the device.
        let mask = unsafe { (*self.as_raw()).dma_mask };
        // SAFETY: A non-NULL `dma_mask` points to the device's mask, only written by the mask
        // setters in the `Core` context.
        (!mask.is_null()).then(|| unsafe { *mask })
    }

    /// Returns the coherent DMA mask currently set.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::{Bound, Device};
    ///
    /// fn mask(dev: &Device<Bound>) -> u64 {
    ///     dev.dma_coherent_mask()
    /// }
    /// ```
    pub fn dma_coherent_mask(&self) -> u64 {
        // SAFETY: `self.as_raw()` is valid; the field is only written by the mask setters.
        unsafe { (*self.as_raw()).coherent_dma_mask }
    }
}

/// Attributes of a DMA allocation or mapping: the C `DMA_ATTR_*` flags.
///
/// # Examples
///
/// ```
/// use kernel::dma::attrs;
///
/// let a = attrs::DMA_ATTR_NO_WARN | attrs::DMA_ATTR_WEAK_ORDERING;
/// assert!(a.contains(attrs::DMA_ATTR_NO_WARN));
/// assert!(!a.contains(attrs::DMA_ATTR_WRITE_COMBINE));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Attrs(u32);

impl Attrs {
    /// Returns the raw flags.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::{attrs, Attrs};
    ///
    /// let a = attrs::DMA_ATTR_WRITE_COMBINE | attrs::DMA_ATTR_NO_WARN;
    /// assert_eq!(Attrs::try_from_raw(a.as_raw())?, a);
    /// assert_eq!(Attrs::default().as_raw(), 0);
    /// # Ok::<(), Error>(())
    /// ```
    pub const fn as_raw(self) -> u32 {
        self.0
    }

    /// Returns whether every flag of `flags` is set in `self`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::{attrs, Attrs};
    ///
    /// let a = attrs::DMA_ATTR_NO_WARN | attrs::DMA_ATTR_SKIP_CPU_SYNC;
    /// assert!(a.contains(attrs::DMA_ATTR_SKIP_CPU_SYNC));
    /// assert!(a.contains(Attrs::default()));
    /// assert!(!attrs::DMA_ATTR_NO_WARN.contains(a));
    /// ```
    pub const fn contains(self, flags: Attrs) -> bool {
        self.0 & flags.0 == flags.0
    }

    /// Turns raw flags into attributes; [`EINVAL`] if a bit is not a known `DMA_ATTR_*` flag.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::Attrs;
    ///
    /// assert!(Attrs::try_from_raw(1 << 8).is_ok());
    /// assert_eq!(Attrs::try_from_raw(1 << 31), Err(EINVAL));
    /// ```
    pub const fn try_from_raw(raw: u32) -> Result<Self> {
        if raw & !attrs::ALL.0 != 0 {
            return Err(EINVAL);
        }
        Ok(Self(raw))
    }
}

impl core::ops::BitOr for Attrs {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// The `DMA_ATTR_*` flags.
///
/// # Examples
///
/// ```
/// use kernel::dma::attrs::*;
///
/// assert!(!DMA_ATTR_NO_WARN.contains(DMA_ATTR_NO_WARN | DMA_ATTR_PRIVILEGED));
/// ```
pub mod attrs {
    use super::Attrs;
    use crate::bindings;

    /// Reads and writes to the buffer may be reordered by the device.
    ///
    /// # Examples
    ///
    /// ```
    /// # use kernel::dma::attrs::*;
    /// assert!((DMA_ATTR_WEAK_ORDERING | DMA_ATTR_NO_WARN).contains(DMA_ATTR_WEAK_ORDERING));
    /// ```
    pub const DMA_ATTR_WEAK_ORDERING: Attrs = Attrs(bindings::DMA_ATTR_WEAK_ORDERING);
    /// The buffer is mapped write-combined where the platform can.
    ///
    /// # Examples
    ///
    /// ```
    /// # use kernel::dma::attrs::*;
    /// assert!(!DMA_ATTR_WRITE_COMBINE.contains(DMA_ATTR_WEAK_ORDERING));
    /// ```
    pub const DMA_ATTR_WRITE_COMBINE: Attrs = Attrs(bindings::DMA_ATTR_WRITE_COMBINE);
    /// No kernel virtual mapping: the CPU can not access the memory (the accessors refuse).
    ///
    /// # Examples
    ///
    /// ```
    /// # use kernel::dma::attrs::*;
    /// assert!(!DMA_ATTR_NO_KERNEL_MAPPING.contains(DMA_ATTR_WRITE_COMBINE));
    /// ```
    pub const DMA_ATTR_NO_KERNEL_MAPPING: Attrs = Attrs(bindings::DMA_ATTR_NO_KERNEL_MAPPING);
    /// Mappings skip the CPU cache synchronisation.
    ///
    /// # Examples
    ///
    /// ```
    /// # use kernel::dma::attrs::*;
    /// assert!((DMA_ATTR_SKIP_CPU_SYNC | DMA_ATTR_NO_WARN).contains(DMA_ATTR_SKIP_CPU_SYNC));
    /// ```
    pub const DMA_ATTR_SKIP_CPU_SYNC: Attrs = Attrs(bindings::DMA_ATTR_SKIP_CPU_SYNC);
    /// The buffer is physically contiguous.
    ///
    /// # Examples
    ///
    /// ```
    /// # use kernel::dma::attrs::*;
    /// assert!(kernel::dma::Attrs::try_from_raw(DMA_ATTR_FORCE_CONTIGUOUS.as_raw()).is_ok());
    /// ```
    pub const DMA_ATTR_FORCE_CONTIGUOUS: Attrs = Attrs(bindings::DMA_ATTR_FORCE_CONTIGUOUS);
    /// The allocator may use single pages.
    ///
    /// # Examples
    ///
    /// ```
    /// # use kernel::dma::attrs::*;
    /// assert!(!DMA_ATTR_ALLOC_SINGLE_PAGES.contains(DMA_ATTR_FORCE_CONTIGUOUS));
    /// ```
    pub const DMA_ATTR_ALLOC_SINGLE_PAGES: Attrs = Attrs(bindings::DMA_ATTR_ALLOC_SINGLE_PAGES);
    /// No warning on allocation failure.
    ///
    /// # Examples
    ///
    /// ```
    /// # use kernel::dma::attrs::*;
    /// assert!((DMA_ATTR_NO_WARN | DMA_ATTR_PRIVILEGED).contains(DMA_ATTR_NO_WARN));
    /// ```
    pub const DMA_ATTR_NO_WARN: Attrs = Attrs(bindings::DMA_ATTR_NO_WARN);
    /// The buffer is only accessible at an elevated privilege level.
    ///
    /// # Examples
    ///
    /// ```
    /// # use kernel::dma::attrs::*;
    /// assert!((DMA_ATTR_NO_WARN | DMA_ATTR_PRIVILEGED).contains(DMA_ATTR_PRIVILEGED));
    /// ```
    pub const DMA_ATTR_PRIVILEGED: Attrs = Attrs(bindings::DMA_ATTR_PRIVILEGED);

    /// Every known flag.
    pub(super) const ALL: Attrs = Attrs(
        DMA_ATTR_WEAK_ORDERING.0
            | DMA_ATTR_WRITE_COMBINE.0
            | DMA_ATTR_NO_KERNEL_MAPPING.0
            | DMA_ATTR_SKIP_CPU_SYNC.0
            | DMA_ATTR_FORCE_CONTIGUOUS.0
            | DMA_ATTR_ALLOC_SINGLE_PAGES.0
            | DMA_ATTR_NO_WARN.0
            | DMA_ATTR_PRIVILEGED.0,
    );
}

/// Checks that the DMA layer can map `size` bytes at `buf` for `dev` within its masks: [`EIO`]
/// if it can not.
///
/// Without an IOMMU, the direct mapping hands the device the buffer's own bus address if the
/// device can reach it, and a bounce buffer from the swiotlb pool otherwise (always, with
/// `swiotlb=force`). Where neither can serve the mask (no pool, as on an x86 machine with up to
/// 4 GiB, or a pool beyond the mask), both `dma_direct_map_page()` and `swiotlb_map()` fail with
/// a `dev_WARN_ONCE()` that `DMA_ATTR_NO_WARN` does not silence; this makes the same decision
/// first, so that a mapping that can not be served is an error instead of a warning. An IOMMU or
/// the bus's own operations map any memory into the device's space and are not checked.
fn check_reachable(
    dev: &Device<Bound>,
    buf: *mut c_void,
    size: usize,
    dir: DataDirection,
) -> Result {
    let raw = dev.as_raw();
    // SAFETY: `raw` is a valid device; these read its DMA configuration.
    let direct = unsafe { !bindings::get_dma_ops_is_set(raw) && !bindings::use_dma_iommu(raw) };
    if !direct {
        return Ok(());
    }
    let capable = |phys: bindings::phys_addr_t, len: usize| {
        // SAFETY: As above; `dma_capable()` only compares with the device's masks.
        unsafe { bindings::dma_capable(raw, bindings::phys_to_dma(raw, phys), len, true) }
    };
    // SAFETY: `buf` is a kmalloc'ed buffer (the caller's), whose physical address this computes.
    let phys = unsafe { bindings::virt_to_phys(buf) };
    // SAFETY: As above.
    let bounce = unsafe {
        bindings::is_swiotlb_force_bounce(raw)
            || bindings::dma_kmalloc_needs_bounce(raw, size, dir.as_raw())
    };
    if !bounce && capable(phys, size) {
        return Ok(());
    }
    let (mut start, mut end) = (0, 0);
    // SAFETY: As above; the out pointers are valid.
    if !unsafe { bindings::swiotlb_defpool(raw, &mut start, &mut end) } {
        return Err(EIO);
    }
    // A slot may come from anywhere in the pool: all of it must be reachable.
    match usize::try_from(end - start) {
        Ok(len) if capable(start, len) => Ok(()),
        _ => Err(EIO),
    }
}

/// Returns the size in bytes of `count` elements of `T`: [`EINVAL`] for zero elements or a
/// zero-sized `T`, [`EOVERFLOW`] if it does not fit.
fn byte_size<T>(count: usize) -> Result<usize> {
    if count == 0 || core::mem::size_of::<T>() == 0 {
        return Err(EINVAL);
    }
    core::mem::size_of::<T>()
        .checked_mul(count)
        .filter(|&size| size <= isize::MAX as usize)
        .ok_or(EOVERFLOW)
}

/// Checks the size of a coherent allocation before it reaches `dma_alloc_attrs()`: [`ENOMEM`] for
/// a size that no platform can satisfy, whatever the caller's flags.
///
/// The IOMMU DMA path (arm64 behind an SMMU, x86 with an IOMMU in translated mode) first allocates
/// an array of one page pointer per page with `kvcalloc(..., GFP_KERNEL)`, which WARNs for an
/// array of more than `INT_MAX` bytes (mm/util.c), however `__GFP_NOWARN` and `DMA_ATTR_NO_WARN`
/// were passed, and counts the pages in an `unsigned int`. So a size is refused when it is larger
/// than the machine's memory (`totalram_pages()`, never satisfiable) or than `INT_MAX / 8` pages
/// (1 TiB with 4 KiB pages, 2 TiB on 32-bit).
fn coherent_size_check(size: usize) -> Result {
    let page_ptrs = i32::MAX as usize / core::mem::size_of::<*mut bindings::page>();
    // SAFETY: `totalram_pages()` only reads a counter.
    let ram = unsafe { bindings::totalram_pages() };
    let pages = size.div_ceil(crate::page::PAGE_SIZE);
    if pages > page_ptrs || pages > ram as usize {
        return Err(ENOMEM);
    }
    Ok(())
}

/// Memory shared by the CPU and a device: `count` elements of plain data `T`.
///
/// The CPU side accesses it with volatile, bounds-checked reads and writes, since the device may
/// change it at any time; raw slices are only offered through `unsafe` methods.
///
/// The memory itself is reference-counted (by a `CoherentMemory` of this crate), so that a
/// device page table that maps it ([`IoPageTable::map_coherent`]) keeps it allocated until the
/// table is gone, whichever of the two devres releases first at unbind. Every holder of that
/// memory is itself released at unbind at the latest, so the memory never outlives the binding.
///
/// # Invariants
///
/// - `mem` holds `size_of::<T>() * count` bytes; `count > 0` and the size does not overflow.
/// - `cpu_addr` is `mem.cpu_addr`, cast to `T`.
///
/// [`IoPageTable::map_coherent`]: crate::io_pgtable::IoPageTable::map_coherent
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, dma::CoherentAllocation, devres::Devres};
///
/// fn ring(dev: &Device<Bound>) -> Result<Devres<CoherentAllocation<u32>>> {
///     let ring = CoherentAllocation::<u32>::alloc_coherent(dev, 256, GFP_KERNEL)?;
///     let r = ring.access(dev)?;
///     r.write(0, 0xdead_beef)?;
///     assert_eq!(r.read(0)?, 0xdead_beef);
///     assert_eq!(r.read(256), Err(EINVAL));
///     Ok(ring)
/// }
/// ```
pub struct CoherentAllocation<T: AsBytes + FromBytes> {
    /// The memory; a device page table that maps it clones this to keep it allocated.
    pub(crate) mem: Arc<CoherentMemory>,
    dma_handle: DmaAddress,
    count: usize,
    cpu_addr: NonNull<T>,
    attrs: Attrs,
}

/// DMA memory allocated with `dma_alloc_attrs()`, freed when the last reference to it goes.
///
/// Only types of this crate that are released at unbind at the latest hold a reference (a
/// [`CoherentAllocation`], which lives in a [`Devres`], and a device page table, which does
/// too), so the memory is freed at unbind at the latest, while the driver is still bound.
///
/// # Invariants
///
/// `cpu_addr` and `dma_handle` are the CPU and device addresses of `size` bytes allocated with
/// `dma_alloc_attrs()` for `dev` with `attrs`, freed only in `drop`.
pub(crate) struct CoherentMemory {
    /// The device the memory was allocated for.
    pub(crate) dev: ARef<Device>,
    cpu_addr: NonNull<c_void>,
    dma_handle: DmaAddress,
    size: usize,
    attrs: Attrs,
}

// SAFETY: The memory may be freed from any task; `dev` is a counted device reference.
unsafe impl Send for CoherentMemory {}

// SAFETY: `CoherentMemory` offers no access to the memory through `&self`.
unsafe impl Sync for CoherentMemory {}

impl Drop for CoherentMemory {
    fn drop(&mut self) {
        // `dma_free_attrs()` may sleep (it may unmap the kernel's view of the memory).
        crate::might_sleep!();
        #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
        tests::COHERENT_FREED.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
        // SAFETY: By the type invariant these are the parameters of the allocation, freed once.
        unsafe {
            bindings::dma_free_attrs(
                self.dev.as_raw(),
                self.size,
                self.cpu_addr.as_ptr(),
                self.dma_handle,
                self.attrs.as_raw() as _,
            )
        };
    }
}

// SAFETY: The allocation is plain memory that any thread may access through the volatile
// accessors and free; `T` is plain data.
unsafe impl<T: AsBytes + FromBytes + Send> Send for CoherentAllocation<T> {}

// SAFETY: Shared access only performs volatile reads and writes of plain data.
unsafe impl<T: AsBytes + FromBytes + Sync> Sync for CoherentAllocation<T> {}

impl<T: AsBytes + FromBytes + Send + Sync + 'static> CoherentAllocation<T> {
    /// Allocates `count` elements with `dma_alloc_attrs()`, held in a [`Devres`] so that it is
    /// freed when the driver is unbound at the latest.
    ///
    /// Every allocation it makes honours `gfp`: with `GFP_ATOMIC` it does not sleep (as far as
    /// the platform's `dma_alloc_attrs()` honours it).
    ///
    /// Fails with [`EINVAL`] for zero elements or a zero-sized `T`, [`EOVERFLOW`] if the size
    /// overflows and [`ENOMEM`] if the allocation fails or could never succeed (larger than the
    /// machine's memory, or than the 1 TiB that the IOMMU DMA path takes without a WARN). (Unknown
    /// attribute bits can not reach it: [`Attrs`] only holds known flags, see
    /// [`Attrs::try_from_raw`].)
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::{attrs, CoherentAllocation}};
    ///
    /// fn quiet_buffer(dev: &Device<Bound>) -> Result {
    ///     let flags = attrs::DMA_ATTR_NO_WARN;
    ///     let buf = CoherentAllocation::<u8>::alloc_attrs(dev, 4096, GFP_KERNEL, flags)?;
    ///     assert_eq!(buf.access(dev)?.attrs(), flags);
    ///     Ok(())
    /// }
    /// ```
    pub fn alloc_attrs(
        dev: &Device<Bound>,
        count: usize,
        gfp: Flags,
        attrs: Attrs,
    ) -> Result<Devres<Self>> {
        let size = byte_size::<T>(count)?;
        coherent_size_check(size)?;
        let mut dma_handle: DmaAddress = 0;
        // SAFETY: `dev` is a valid, bound device; `dma_handle` is a valid out pointer.
        let cpu_addr = unsafe {
            bindings::dma_alloc_attrs(
                dev.as_raw(),
                size,
                &mut dma_handle,
                gfp.as_raw(),
                attrs.as_raw() as _,
            )
        };
        let cpu_addr = NonNull::new(cpu_addr).ok_or(ENOMEM)?;
        // INVARIANT: Allocated just now with these parameters. Should the allocation of the
        // reference count fail, dropping `mem` frees the memory.
        let mem = CoherentMemory {
            dev: ARef::from(&**dev),
            cpu_addr,
            dma_handle,
            size,
            attrs,
        };
        let mem = Arc::new(mem, gfp)?;
        // INVARIANT: `mem` holds `size` bytes, the size of `count` elements of `T`.
        let alloc = Self {
            cpu_addr: mem.cpu_addr.cast(),
            mem,
            dma_handle,
            count,
            attrs,
        };
        Devres::new(dev, alloc, gfp)
    }

    /// Allocates `count` elements with no attributes, as `dma_alloc_coherent()` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::{Attrs, CoherentAllocation}, devres::Devres};
    ///
    /// fn ring(dev: &Device<Bound>) -> Result<Devres<CoherentAllocation<u64>>> {
    ///     let ring = CoherentAllocation::<u64>::alloc_coherent(dev, 16, GFP_KERNEL)?;
    ///     assert_eq!(ring.access(dev)?.attrs(), Attrs::default());
    ///     Ok(ring)
    /// }
    /// ```
    pub fn alloc_coherent(dev: &Device<Bound>, count: usize, gfp: Flags) -> Result<Devres<Self>> {
        Self::alloc_attrs(dev, count, gfp, Attrs::default())
    }
}

impl<T: AsBytes + FromBytes> CoherentAllocation<T> {
    /// Returns the number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::CoherentAllocation;
    ///
    /// fn last(ring: &CoherentAllocation<u32>) -> Result<u32> {
    ///     ring.read(ring.count() - 1)
    /// }
    /// ```
    pub fn count(&self) -> usize {
        self.count
    }

    /// Returns the size in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::CoherentAllocation;
    ///
    /// fn check(ring: &CoherentAllocation<u32>) {
    ///     assert_eq!(ring.size(), ring.count() * core::mem::size_of::<u32>());
    /// }
    /// ```
    pub fn size(&self) -> usize {
        // The size of `count` elements of `T` (type invariant).
        self.mem.size
    }

    /// Returns the attributes it was allocated with.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::{attrs, CoherentAllocation};
    ///
    /// fn cpu_visible(buf: &CoherentAllocation<u8>) -> bool {
    ///     !buf.attrs().contains(attrs::DMA_ATTR_NO_KERNEL_MAPPING)
    /// }
    /// ```
    pub fn attrs(&self) -> Attrs {
        self.attrs
    }

    /// Returns the device address of the first element.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{dma::CoherentAllocation, io::Io};
    ///
    /// fn start(ring: &CoherentAllocation<u64>, regs: &Io<0x100>) {
    ///     // Tell the device where the ring is.
    ///     regs.write64::<0x80>(ring.dma_handle());
    /// }
    /// ```
    pub fn dma_handle(&self) -> DmaAddress {
        self.dma_handle
    }

    /// Returns the device address of element `i`; [`EINVAL`] if out of bounds.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::CoherentAllocation;
    ///
    /// fn check(ring: &CoherentAllocation<u64>) -> Result {
    ///     assert_eq!(ring.dma_handle_of(0)?, ring.dma_handle());
    ///     assert_eq!(ring.dma_handle_of(ring.count()), Err(EINVAL));
    ///     Ok(())
    /// }
    /// ```
    pub fn dma_handle_of(&self, i: usize) -> Result<DmaAddress> {
        if i >= self.count {
            return Err(EINVAL);
        }
        // No overflow: the offset is within the allocation, whose end is a valid bus address.
        Ok(self.dma_handle + (i * core::mem::size_of::<T>()) as DmaAddress)
    }

    fn element(&self, i: usize) -> Result<*mut T> {
        if i >= self.count || self.attrs.contains(attrs::DMA_ATTR_NO_KERNEL_MAPPING) {
            return Err(EINVAL);
        }
        // SAFETY: `i < count`, so the offset stays within the allocation.
        Ok(unsafe { self.cpu_addr.as_ptr().add(i) })
    }

    /// Reads element `i` with a volatile read; [`EINVAL`] if out of bounds or if the memory has
    /// no kernel mapping.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::CoherentAllocation;
    ///
    /// fn head(ring: &CoherentAllocation<u32>) -> Result<u32> {
    ///     assert_eq!(ring.read(ring.count()), Err(EINVAL));
    ///     ring.read(0)
    /// }
    /// ```
    pub fn read(&self, i: usize) -> Result<T> {
        let p = self.element(i)?;
        // SAFETY: `p` is in bounds, aligned (the allocation is page-aligned and `T`-strided) and
        // mapped; `T: FromBytes` accepts whatever the device wrote.
        Ok(unsafe { p.read_volatile() })
    }

    /// Writes element `i` with a volatile write; [`EINVAL`] if out of bounds or if the memory has
    /// no kernel mapping.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::CoherentAllocation;
    ///
    /// fn clear(ring: &CoherentAllocation<u32>) -> Result {
    ///     for i in 0..ring.count() {
    ///         ring.write(i, 0)?;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn write(&self, i: usize, value: T) -> Result {
        let p = self.element(i)?;
        // SAFETY: As for `read`; the memory is only accessed through volatile operations, so the
        // shared reference does not promise it is unchanged.
        unsafe { p.write_volatile(value) };
        Ok(())
    }

    /// Reads field `f` of element `i`, where `f` projects an element pointer to the field.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::CoherentAllocation;
    ///
    /// #[derive(Clone, Copy)]
    /// #[repr(C)]
    /// struct Desc {
    ///     addr: u64,
    ///     len: u32,
    ///     flags: u32,
    /// }
    /// // SAFETY: `Desc` is plain data without padding.
    /// unsafe impl kernel::types::FromBytes for Desc {}
    /// // SAFETY: As above.
    /// unsafe impl kernel::types::AsBytes for Desc {}
    ///
    /// fn len_of(ring: &CoherentAllocation<Desc>, i: usize) -> Result<u32> {
    ///     // SAFETY: Only computes the address of a field of the element `d` points to.
    ///     ring.read_field(i, |d| unsafe { core::ptr::addr_of_mut!((*d).len) })
    /// }
    /// ```
    pub fn read_field<F: FromBytes>(
        &self,
        i: usize,
        f: impl FnOnce(*mut T) -> *mut F,
    ) -> Result<F> {
        let field = self.field(i, f)?;
        // SAFETY: `field` lies within element `i` (checked) and is aligned for `F`.
        Ok(unsafe { field.read_volatile() })
    }

    /// Writes field `f` of element `i`, where `f` projects an element pointer to the field.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::CoherentAllocation;
    ///
    /// #[repr(C)]
    /// struct Desc {
    ///     addr: u64,
    ///     len: u32,
    ///     flags: u32,
    /// }
    /// // SAFETY: `Desc` is plain data without padding.
    /// unsafe impl kernel::types::FromBytes for Desc {}
    /// // SAFETY: As above.
    /// unsafe impl kernel::types::AsBytes for Desc {}
    ///
    /// fn set_len(ring: &CoherentAllocation<Desc>, i: usize, len: u32) -> Result {
    ///     // SAFETY: Only computes the address of a field of the element `d` points to.
    ///     ring.write_field(i, |d| unsafe { core::ptr::addr_of_mut!((*d).len) }, len)
    /// }
    /// ```
    pub fn write_field<F: AsBytes>(
        &self,
        i: usize,
        f: impl FnOnce(*mut T) -> *mut F,
        value: F,
    ) -> Result {
        let field = self.field(i, f)?;
        // SAFETY: As for `read_field`.
        unsafe { field.write_volatile(value) };
        Ok(())
    }

    fn field<F>(&self, i: usize, f: impl FnOnce(*mut T) -> *mut F) -> Result<*mut F> {
        let p = self.element(i)?;
        let field = f(p);
        let start = field as usize;
        let base = p as usize;
        // The projection must stay within the element and be aligned; anything else is refused.
        let end = start.checked_add(core::mem::size_of::<F>()).ok_or(EINVAL)?;
        if start < base
            || end > base + core::mem::size_of::<T>()
            || start % core::mem::align_of::<F>() != 0
        {
            return Err(EINVAL);
        }
        Ok(field)
    }

    /// Returns elements `offset..offset + count` as a slice; [`EINVAL`] if out of bounds.
    ///
    /// # Safety
    ///
    /// The device must not write to these elements, and the CPU must not write to them through
    /// this allocation, while the slice exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::CoherentAllocation;
    ///
    /// fn checksum(buf: &CoherentAllocation<u8>) -> Result<u8> {
    ///     // SAFETY: The device is done with the buffer and nothing writes to it meanwhile.
    ///     let bytes = unsafe { buf.as_slice(0, buf.count())? };
    ///     Ok(bytes.iter().fold(0u8, |sum, b| sum.wrapping_add(*b)))
    /// }
    /// ```
    pub unsafe fn as_slice(&self, offset: usize, count: usize) -> Result<&[T]> {
        self.check_range(offset, count)?;
        // SAFETY: In bounds (checked); the caller guarantees that nothing writes meanwhile.
        Ok(unsafe { core::slice::from_raw_parts(self.cpu_addr.as_ptr().add(offset), count) })
    }

    /// Returns elements `offset..offset + count` as a mutable slice; [`EINVAL`] if out of bounds.
    ///
    /// # Safety
    ///
    /// The device must not access these elements, and the CPU must not access them other than
    /// through the slice, while the slice exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::CoherentAllocation;
    ///
    /// fn fill(buf: &CoherentAllocation<u8>, value: u8) -> Result {
    ///     // SAFETY: The device is not using the buffer and nothing else accesses it meanwhile.
    ///     let bytes = unsafe { buf.as_slice_mut(0, buf.count())? };
    ///     bytes.fill(value);
    ///     Ok(())
    /// }
    /// ```
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_slice_mut(&self, offset: usize, count: usize) -> Result<&mut [T]> {
        self.check_range(offset, count)?;
        // SAFETY: In bounds (checked); the caller guarantees exclusive access meanwhile.
        Ok(unsafe { core::slice::from_raw_parts_mut(self.cpu_addr.as_ptr().add(offset), count) })
    }

    fn check_range(&self, offset: usize, count: usize) -> Result {
        match offset.checked_add(count) {
            Some(end)
                if end <= self.count && !self.attrs.contains(attrs::DMA_ATTR_NO_KERNEL_MAPPING) =>
            {
                Ok(())
            }
            _ => Err(EINVAL),
        }
    }
}

/// The direction of a streaming mapping: the C `enum dma_data_direction`.
///
/// # Examples
///
/// ```
/// use kernel::dma::DataDirection;
///
/// assert_ne!(DataDirection::ToDevice, DataDirection::FromDevice);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataDirection {
    /// The device reads and writes the buffer.
    Bidirectional,
    /// The device reads the buffer.
    ToDevice,
    /// The device writes the buffer.
    FromDevice,
}

impl DataDirection {
    fn as_raw(self) -> bindings::dma_data_direction {
        match self {
            Self::Bidirectional => bindings::dma_data_direction_DMA_BIDIRECTIONAL,
            Self::ToDevice => bindings::dma_data_direction_DMA_TO_DEVICE,
            Self::FromDevice => bindings::dma_data_direction_DMA_FROM_DEVICE,
        }
    }
}

/// A live streaming mapping of a buffer; unmapped on drop.
///
/// The unmap in `drop` skips the CPU synchronisation (`DMA_ATTR_SKIP_CPU_SYNC`): it writes
/// nothing into the buffer (no bounce-buffer copy, no cache invalidation). It may run at unbind,
/// from the driver core, while the CPU owns the buffer through a [`CpuView`] and a task writes
/// it; a synchronisation then would race with that task and could overwrite its writes. The
/// owner's [`StreamingMapping::unmap`], where the device owns the buffer, synchronises first.
///
/// # Invariants
///
/// `addr` is the mapping of `size` bytes for `dev` in direction `dir`, made with
/// `dma_map_single_attrs()` of a buffer that outlives it, and unmapped only in `drop`.
struct RawMapping {
    dev: ARef<Device>,
    addr: DmaAddress,
    size: usize,
    dir: DataDirection,
}

impl RawMapping {
    fn sync_for_cpu(&self) {
        // SAFETY: By the type invariant the mapping is live.
        unsafe {
            bindings::dma_sync_single_for_cpu(
                self.dev.as_raw(),
                self.addr,
                self.size,
                self.dir.as_raw(),
            )
        };
    }

    fn sync_for_device(&self) {
        // SAFETY: By the type invariant the mapping is live.
        unsafe {
            bindings::dma_sync_single_for_device(
                self.dev.as_raw(),
                self.addr,
                self.size,
                self.dir.as_raw(),
            )
        };
    }
}

impl Drop for RawMapping {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the mapping is live and unmapped only here.
        unsafe {
            bindings::dma_unmap_single_attrs(
                self.dev.as_raw(),
                self.addr,
                self.size,
                self.dir.as_raw(),
                attrs::DMA_ATTR_SKIP_CPU_SYNC.as_raw() as _,
            )
        };
    }
}

/// A driver-owned buffer mapped for a device, which owns it while it is mapped.
///
/// The CPU has no method to read or write the buffer here: [`StreamingMapping::sync_for_cpu`]
/// hands it a [`CpuView`], and [`StreamingMapping::unmap`] gives the buffer back. The mapping is
/// held in a [`Devres`], so it is undone when the driver is unbound at the latest; the buffer
/// itself stays allocated until this value is dropped, which unmaps first.
///
/// Who owns the buffer decides what an unmap may do to it. The owner's
/// [`StreamingMapping::unmap`] runs while the device owns it and synchronises it for the CPU
/// first, so the caller gets the device's data. An unmap at unbind may run while the CPU owns
/// the buffer (a [`CpuView`] is `Send`, and a work item may be writing it) and therefore writes
/// nothing into it: the device's last writes to a buffer it owned at unbind may be lost, never
/// the CPU's.
///
/// # Invariants
///
/// `map` is (or was, until its revocation at unbind) the mapping of the first `buf.len()`
/// elements of `buf`, whose heap storage does not move or get freed while `map` is live.
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, dma::{DataDirection, StreamingMapping}};
///
/// fn round_trip(dev: &Device<Bound>) -> Result {
///     let mut buf = KVec::new();
///     buf.push(0x1234u32, GFP_KERNEL)?;
///     let mapped = StreamingMapping::map(dev, buf, DataDirection::Bidirectional)?;
///     let _addr = mapped.dma_handle(); // program the device with it
///     let cpu = mapped.sync_for_cpu();
///     assert_eq!(cpu[0], 0x1234);
///     let buf = cpu.sync_for_device().unmap();
///     assert_eq!(buf.len(), 1);
///     Ok(())
/// }
/// ```
pub struct StreamingMapping<T: AsBytes + FromBytes> {
    // Fields drop in declaration order: the mapping goes before the buffer, so that the buffer
    // is never freed while the device may still access it.
    map: Devres<RawMapping>,
    buf: KVec<T>,
    addr: DmaAddress,
}

/// A streaming-mapped buffer that the CPU owns, after [`StreamingMapping::sync_for_cpu`]; derefs
/// to the buffer's elements.
///
/// # Examples
///
/// ```
/// use kernel::dma::{CpuView, StreamingMapping};
///
/// fn all_zero(mapped: StreamingMapping<u8>) -> (bool, StreamingMapping<u8>) {
///     let cpu: CpuView<u8> = mapped.sync_for_cpu();
///     let zero = cpu.iter().all(|&b| b == 0);
///     (zero, cpu.sync_for_device())
/// }
/// ```
///
/// See also [`StreamingMapping`].
pub struct CpuView<T: AsBytes + FromBytes>(StreamingMapping<T>);

impl<T: AsBytes + FromBytes + Send + Sync> StreamingMapping<T> {
    /// Maps the elements of `buf` for `dev` in direction `dir`.
    ///
    /// Fails with [`EINVAL`] for an empty buffer or a zero-sized `T`, [`EOVERFLOW`] if the size
    /// overflows, [`EIO`] if the device can not reach the buffer and no bounce buffer within its
    /// mask can stand in (checked before the mapping, see below), and [`ENOMEM`] if the mapping
    /// fails (`dma_mapping_error()`); the buffer is dropped then. May sleep: it allocates with
    /// `GFP_KERNEL`; see [`StreamingMapping::map_with`] for atomic context.
    ///
    /// Without an IOMMU, a buffer beyond the device's mask is bounced through the swiotlb pool,
    /// if the kernel has one within the mask; where it has none, the buffer must come from memory
    /// the device reaches, for a 24-bit to 32-bit device from a low zone.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::{DataDirection, StreamingMapping}};
    ///
    /// fn to_device(dev: &Device<Bound>) -> Result<StreamingMapping<u8>> {
    ///     let empty = KVec::<u8>::new();
    ///     assert!(StreamingMapping::map(dev, empty, DataDirection::ToDevice).is_err());
    ///     let buf = KVec::from_elem(0x5au8, 4096, GFP_KERNEL)?;
    ///     StreamingMapping::map(dev, buf, DataDirection::ToDevice)
    /// }
    /// ```
    pub fn map(dev: &Device<Bound>, buf: KVec<T>, dir: DataDirection) -> Result<Self> {
        crate::might_sleep!();
        Self::map_with(dev, buf, dir, GFP_KERNEL)
    }

    /// Maps the elements of `buf` for `dev` in direction `dir`, as [`StreamingMapping::map`]
    /// does, with its bookkeeping allocated with `flags`.
    ///
    /// It does not sleep unless `flags` allow it: with `GFP_ATOMIC` an interrupt handler may map
    /// a buffer (allocated with `GFP_ATOMIC` too). Unmapping, or dropping the mapping, may sleep:
    /// hand the mapping to a threaded handler or bound work for that. Fails as
    /// [`StreamingMapping::map`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::{DataDirection, StreamingMapping}};
    ///
    /// // Called from a hard interrupt handler, for instance.
    /// fn refill(dev: &Device<Bound>) -> Result<StreamingMapping<u8>> {
    ///     let buf = KVec::from_elem(0u8, 2048, GFP_ATOMIC)?;
    ///     StreamingMapping::map_with(dev, buf, DataDirection::FromDevice, GFP_ATOMIC)
    /// }
    /// ```
    pub fn map_with(
        dev: &Device<Bound>,
        mut buf: KVec<T>,
        dir: DataDirection,
        flags: Flags,
    ) -> Result<Self> {
        let size = byte_size::<T>(buf.len())?;
        check_reachable(dev, buf.as_mut_ptr().cast(), size, dir)?;
        // SAFETY: `buf` is a kmalloc'ed buffer of at least `size` bytes, valid for the device to
        // access until unmapped (type invariant of the result); `dev` is bound.
        let addr = unsafe {
            bindings::dma_map_single_attrs(
                dev.as_raw(),
                buf.as_mut_ptr().cast(),
                size,
                dir.as_raw(),
                0,
            )
        };
        // SAFETY: `dev` is valid and `addr` was just returned for it.
        if unsafe { bindings::dma_mapping_error(dev.as_raw(), addr) } != 0 {
            return Err(ENOMEM);
        }
        // INVARIANT: Mapped just now; the buffer's storage is owned by `Self` from here on.
        let raw = RawMapping {
            dev: ARef::from(&**dev),
            addr,
            size,
            dir,
        };
        let map = Devres::new(dev, raw, flags)?;
        Ok(Self { map, buf, addr })
    }
}

impl<T: AsBytes + FromBytes + Send + Sync> StreamingMapping<T> {
    /// Returns the device address of the buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{dma::StreamingMapping, io::Io};
    ///
    /// fn start(mapped: &StreamingMapping<u8>, regs: &Io<0x100>) {
    ///     // Tell the device where the buffer is.
    ///     regs.write64::<0x80>(mapped.dma_handle());
    /// }
    /// ```
    pub fn dma_handle(&self) -> DmaAddress {
        self.addr
    }

    /// Returns the number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::StreamingMapping;
    ///
    /// fn bytes(mapped: &StreamingMapping<u32>) -> usize {
    ///     mapped.len() * core::mem::size_of::<u32>()
    /// }
    /// ```
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Returns whether the buffer has no elements (never, for a mapping).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::StreamingMapping;
    ///
    /// fn check(mapped: &StreamingMapping<u8>) {
    ///     // `StreamingMapping::map` refuses empty buffers.
    ///     assert!(!mapped.is_empty());
    /// }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Hands the buffer to the CPU, as `dma_sync_single_for_cpu()` does.
    ///
    /// After the driver is unbound the mapping is gone and the CPU owns the buffer anyway; while
    /// the unbind is unmapping it, no synchronisation is made either, which is sound because that
    /// unmap writes nothing into the buffer (see [`StreamingMapping`]): what the device wrote
    /// last may be lost then (in a bounce buffer), never the CPU's own data. Does not sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::StreamingMapping;
    ///
    /// fn first_byte(mapped: StreamingMapping<u8>) -> (u8, StreamingMapping<u8>) {
    ///     let cpu = mapped.sync_for_cpu();
    ///     let first = cpu[0];
    ///     (first, cpu.sync_for_device())
    /// }
    /// ```
    pub fn sync_for_cpu(self) -> CpuView<T> {
        self.map.try_access_with(|m| m.sync_for_cpu());
        CpuView(self)
    }

    /// Unmaps the buffer and returns it. May sleep (it waits for an unmap at unbind in
    /// progress), as dropping the mapping may.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::StreamingMapping;
    ///
    /// fn finish(mapped: StreamingMapping<u8>) -> u8 {
    ///     let len = mapped.len();
    ///     let buf = mapped.unmap();
    ///     assert_eq!(buf.len(), len);
    ///     buf[0]
    /// }
    /// ```
    pub fn unmap(self) -> KVec<T> {
        let Self { buf, map, .. } = self;
        // The device owns the buffer: take its data first (a bounce-buffer copy, a cache
        // invalidation), which the unmap itself skips.
        map.try_access_with(|m| m.sync_for_cpu());
        // Dropping the `Devres` unmaps, or waits for the unmap at unbind to finish.
        drop(map);
        buf
    }
}

impl<T: AsBytes + FromBytes + Send + Sync> CpuView<T> {
    /// Gives the buffer back to the device, as `dma_sync_single_for_device()` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::StreamingMapping;
    ///
    /// fn refill(mapped: StreamingMapping<u8>) -> StreamingMapping<u8> {
    ///     let mut cpu = mapped.sync_for_cpu();
    ///     cpu.fill(0);
    ///     // From here on the device owns the buffer again.
    ///     cpu.sync_for_device()
    /// }
    /// ```
    pub fn sync_for_device(self) -> StreamingMapping<T> {
        self.0.map.try_access_with(|m| m.sync_for_device());
        self.0
    }

    /// Returns the device address of the buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::StreamingMapping;
    ///
    /// fn check(mapped: StreamingMapping<u8>) -> StreamingMapping<u8> {
    ///     let addr = mapped.dma_handle();
    ///     let cpu = mapped.sync_for_cpu();
    ///     assert_eq!(cpu.dma_handle(), addr);
    ///     cpu.sync_for_device()
    /// }
    /// ```
    pub fn dma_handle(&self) -> DmaAddress {
        self.0.addr
    }
}

impl<T: AsBytes + FromBytes> core::ops::Deref for CpuView<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0.buf
    }
}

impl<T: AsBytes + FromBytes> core::ops::DerefMut for CpuView<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0.buf
    }
}
