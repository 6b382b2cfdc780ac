// SPDX-License-Identifier: GPL-2.0

//! Coherent DMA memory: allocations that the CPU and the device share.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::{byte_size, Attrs, DmaAddress};
use crate::{
    alloc::{flags::__GFP_ZERO, Flags},
    bindings,
    device::{Bound, Device},
    devres::Devres,
    error::{code::*, Result},
    sync::Arc,
    types::{ARef, AsBytes, FromBytes},
};
use core::{ffi::c_void, ptr::NonNull};

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
/// - `mem` holds `size_of::<T>() * count` bytes; `count > 0`, `T` is not zero-sized and the size
///   does not overflow.
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
/// Only types of this crate that are released at unbind at the latest hold it (a
/// [`CoherentAllocation`] or a [`DeviceOnlyAllocation`], which live in a [`Devres`], and a device
/// page table, which does too), so the memory is freed at unbind at the latest, while the driver
/// is still bound.
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
    /// The raw `DMA_ATTR_*` flags, `DMA_ATTR_NO_KERNEL_MAPPING` included if it was passed.
    attrs: u32,
}

// SAFETY: The memory may be freed from any task; `dev` is a counted device reference.
unsafe impl Send for CoherentMemory {}

// SAFETY: `CoherentMemory` offers no access to the memory through `&self`.
unsafe impl Sync for CoherentMemory {}

impl CoherentMemory {
    /// Allocates `size` bytes with `dma_alloc_attrs()`: [`ENOMEM`] if that fails or can never
    /// succeed (see `coherent_size_check`).
    fn alloc(dev: &Device<Bound>, size: usize, gfp: Flags, attrs: u32) -> Result<Self> {
        coherent_size_check(size)?;
        let mut dma_handle: DmaAddress = 0;
        // SAFETY: `dev` is a valid, bound device; `dma_handle` is a valid out pointer.
        let cpu_addr = unsafe {
            bindings::dma_alloc_attrs(
                dev.as_raw(),
                size,
                &mut dma_handle,
                gfp.as_raw(),
                attrs as _,
            )
        };
        let cpu_addr = NonNull::new(cpu_addr).ok_or(ENOMEM)?;
        // INVARIANT: Allocated just now with these parameters.
        Ok(Self {
            dev: ARef::from(&**dev),
            cpu_addr,
            dma_handle,
            size,
            attrs,
        })
    }

    /// Allocates as [`CoherentMemory::alloc`] does, into an [`Arc`] allocated with `gfp` too.
    ///
    /// Not inlined: compiled once, here, rather than for every element type in every module.
    #[inline(never)]
    fn alloc_arc(dev: &Device<Bound>, size: usize, gfp: Flags, attrs: u32) -> Result<Arc<Self>> {
        let mem = Self::alloc(dev, size, gfp, attrs)?;
        Ok(Arc::new(mem, gfp)?)
    }
}

impl Drop for CoherentMemory {
    fn drop(&mut self) {
        // `dma_free_attrs()` may sleep (it may unmap the kernel's view of the memory).
        crate::might_sleep!();
        #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
        super::tests::COHERENT_FREED.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
        // SAFETY: By the type invariant these are the parameters of the allocation, freed once.
        unsafe {
            bindings::dma_free_attrs(
                self.dev.as_raw(),
                self.size,
                self.cpu_addr.as_ptr(),
                self.dma_handle,
                self.attrs as _,
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
        Devres::new(dev, Self::alloc_raw(dev, count, gfp, attrs)?, gfp)
    }

    /// Allocates `count` elements and has `f` fill them before the memory is handed out: `f`
    /// gets the elements as a mutable slice (zeroed) and the device address of the first one,
    /// and the allocation is registered only once it returns, so a ring can be filled and
    /// linked before any device or other code knows where it is. The allocation is freed if `f`
    /// fails, with its error.
    ///
    /// Fails as [`CoherentAllocation::alloc_attrs`] does, and with `f`'s error.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::{CoherentAllocation, DmaAddress}};
    ///
    /// // A ring of 16 next-pointers, each element pointing at the following one.
    /// fn ring(dev: &Device<Bound>) -> Result {
    ///     let ring = CoherentAllocation::<u64>::init(dev, 16, GFP_KERNEL, |elems, base| {
    ///         for (i, e) in elems.iter_mut().enumerate() {
    ///             *e = base + (((i + 1) % 16) * 8) as DmaAddress;
    ///         }
    ///         Ok(())
    ///     })?;
    ///     let r = ring.access(dev)?;
    ///     assert_eq!(r.read(15)?, r.dma_handle());
    ///     Ok(())
    /// }
    /// ```
    pub fn init(
        dev: &Device<Bound>,
        count: usize,
        gfp: Flags,
        f: impl FnOnce(&mut [T], DmaAddress) -> Result,
    ) -> Result<Devres<Self>> {
        let alloc = Self::alloc_raw(dev, count, gfp, Attrs::default())?;
        // SAFETY: The whole allocation. Nothing else knows the memory yet: its address reaches
        // the device only through `f`, after whose return the slice's borrow has ended, and the
        // allocation is not shared until it is registered below.
        let elems = unsafe { core::slice::from_raw_parts_mut(alloc.cpu_addr.as_ptr(), count) };
        f(elems, alloc.dma_handle)?;
        Devres::new(dev, alloc, gfp)
    }

    /// Allocates as many elements as `src` has and copies them in before the memory is handed
    /// out; see [`CoherentAllocation::init`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::CoherentAllocation};
    ///
    /// fn table(dev: &Device<Bound>) -> Result {
    ///     let t = CoherentAllocation::from_slice(dev, &[1u32, 2, 3], GFP_KERNEL)?;
    ///     assert_eq!(t.access(dev)?.read(2)?, 3);
    ///     Ok(())
    /// }
    /// ```
    pub fn from_slice(dev: &Device<Bound>, src: &[T], gfp: Flags) -> Result<Devres<Self>> {
        Self::init(dev, src.len(), gfp, |dst, _| {
            // SAFETY: `dst` and `src` have the same length, and `dst` is DMA memory that `src`
            // can not overlap. `T` is plain data: a bitwise copy is a valid value, and the copy
            // in device memory is never dropped.
            unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr(), src.len()) };
            Ok(())
        })
    }

    /// Allocates `count` zeroed elements.
    ///
    /// `dma_alloc_attrs()` zeroes what it returns on the platforms this kernel supports; this
    /// passes `__GFP_ZERO` as well, so that the promise does not rest on that.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::CoherentAllocation};
    ///
    /// fn counters(dev: &Device<Bound>) -> Result {
    ///     let c = CoherentAllocation::<u64>::zeroed(dev, 8, GFP_KERNEL)?;
    ///     assert_eq!(c.access(dev)?.read(7)?, 0);
    ///     Ok(())
    /// }
    /// ```
    pub fn zeroed(dev: &Device<Bound>, count: usize, gfp: Flags) -> Result<Devres<Self>> {
        Self::alloc_attrs(dev, count, gfp | __GFP_ZERO, Attrs::default())
    }

    fn alloc_raw(dev: &Device<Bound>, count: usize, gfp: Flags, attrs: Attrs) -> Result<Self> {
        let size = byte_size::<T>(count)?;
        let mem = CoherentMemory::alloc_arc(dev, size, gfp, attrs.as_raw())?;
        // INVARIANT: `mem` holds `size` bytes, the size of `count` elements of `T`; `byte_size`
        // refused a zero `count` and a zero-sized `T`.
        Ok(Self {
            cpu_addr: mem.cpu_addr.cast(),
            dma_handle: mem.dma_handle,
            mem,
            count,
            attrs,
        })
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
    /// fn write_combined(buf: &CoherentAllocation<u8>) -> bool {
    ///     buf.attrs().contains(attrs::DMA_ATTR_WRITE_COMBINE)
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

    #[inline]
    pub(super) fn element(&self, i: usize) -> Result<*mut T> {
        if i >= self.count {
            return Err(EINVAL);
        }
        // SAFETY: `i < count`, so the offset stays within the allocation.
        Ok(unsafe { self.cpu_addr.as_ptr().add(i) })
    }

    /// Reads element `i` with a volatile read; [`EINVAL`] if out of bounds.
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

    /// Writes element `i` with a volatile write; [`EINVAL`] if out of bounds.
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

    /// Returns an iterator over elements `offset..offset + count`, each read with a volatile
    /// read when the iterator reaches it; [`EINVAL`] if the range is out of bounds.
    ///
    /// The range is checked once, here, rather than at each element as [`read`] does: the loop
    /// over a ring's elements costs what C's loop of `READ_ONCE()`s costs.
    ///
    /// [`read`]: CoherentAllocation::read
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::CoherentAllocation;
    ///
    /// fn sum(ring: &CoherentAllocation<u32>) -> Result<u32> {
    ///     assert!(ring.iter(1, ring.count()).is_err());
    ///     assert_eq!(ring.iter(ring.count(), 0)?.count(), 0);
    ///     Ok(ring.iter(0, ring.count())?.fold(0, u32::wrapping_add))
    /// }
    /// ```
    pub fn iter(&self, offset: usize, count: usize) -> Result<CoherentIter<'_, T>> {
        self.check_range(offset, count)?;
        // SAFETY: `offset + count <= self.count` (checked), so both pointers stay within the
        // allocation or one past its end.
        let (next, end) = unsafe {
            let first = self.cpu_addr.as_ptr().add(offset);
            (first, first.add(count))
        };
        // INVARIANT: See above.
        Ok(CoherentIter {
            next,
            end,
            _alloc: core::marker::PhantomData,
        })
    }

    fn check_range(&self, offset: usize, count: usize) -> Result {
        match offset.checked_add(count) {
            Some(end) if end <= self.count => Ok(()),
            _ => Err(EINVAL),
        }
    }
}

/// The elements of a range of a [`CoherentAllocation`], read one at a time with volatile reads:
/// see [`CoherentAllocation::iter`].
///
/// # Invariants
///
/// `next..end` is a range of elements of the allocation that `'a` borrows (`next <= end`, both
/// within the allocation or one past its end), and `T` is not zero-sized (the allocation of
/// zero-sized elements is refused).
///
/// # Examples
///
/// ```
/// use kernel::dma::CoherentAllocation;
///
/// fn find(ring: &CoherentAllocation<u64>, value: u64) -> Result<Option<usize>> {
///     Ok(ring.iter(0, ring.count())?.position(|v| v == value))
/// }
/// ```
pub struct CoherentIter<'a, T> {
    next: *const T,
    end: *const T,
    _alloc: core::marker::PhantomData<&'a [T]>,
}

impl<T: FromBytes> Iterator for CoherentIter<'_, T> {
    type Item = T;

    #[inline]
    fn next(&mut self) -> Option<T> {
        if self.next == self.end {
            return None;
        }
        // SAFETY: `next < end` (type invariant), so `next` is an element of the allocation,
        // aligned and mapped while `'a` lasts; `T: FromBytes` accepts whatever the device wrote.
        let value = unsafe { self.next.read_volatile() };
        // SAFETY: At most one past the end of the range, so within or one past the allocation.
        // INVARIANT: `next` moves towards `end` and reaches it at the latest.
        self.next = unsafe { self.next.add(1) };
        Some(value)
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        // SAFETY: Both pointers are in the same allocation, `next <= end` and `T` is not
        // zero-sized (type invariant).
        let n = unsafe { self.end.offset_from(self.next) } as usize;
        (n, Some(n))
    }
}

impl<T: FromBytes> ExactSizeIterator for CoherentIter<'_, T> {}

/// Coherent DMA memory that only the device accesses, allocated with
/// `DMA_ATTR_NO_KERNEL_MAPPING`: the kernel may not map it at all, so this type has no CPU
/// accessor, only the device address to hand to the device.
///
/// Like a [`CoherentAllocation`], it is held in a [`Devres`] and freed at unbind at the latest.
///
/// # Invariants
///
/// `mem` was allocated with `DMA_ATTR_NO_KERNEL_MAPPING` and `attrs`; its CPU address is only
/// a cookie for `dma_free_attrs()`.
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, dma::DeviceOnlyAllocation, devres::Devres};
///
/// // Scratch memory for the device's firmware, which the driver never reads.
/// fn scratch(dev: &Device<Bound>) -> Result<Devres<DeviceOnlyAllocation>> {
///     let s = DeviceOnlyAllocation::alloc(dev, 1 << 20, GFP_KERNEL)?;
///     assert_eq!(s.access(dev)?.size(), 1 << 20);
///     Ok(s)
/// }
/// ```
pub struct DeviceOnlyAllocation {
    mem: CoherentMemory,
    attrs: Attrs,
}

impl DeviceOnlyAllocation {
    /// Allocates `size` bytes with `DMA_ATTR_NO_KERNEL_MAPPING` and `attrs`, held in a
    /// [`Devres`] so that it is freed when the driver is unbound at the latest.
    ///
    /// Fails with [`EINVAL`] for a size of 0, [`ENOMEM`] as
    /// [`CoherentAllocation::alloc_attrs`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::{attrs, DeviceOnlyAllocation}};
    ///
    /// fn firmware_area(dev: &Device<Bound>) -> Result {
    ///     let flags = attrs::DMA_ATTR_FORCE_CONTIGUOUS;
    ///     let area = DeviceOnlyAllocation::alloc_attrs(dev, 65536, GFP_KERNEL, flags)?;
    ///     assert!(area.access(dev)?.attrs().contains(flags));
    ///     assert_eq!(DeviceOnlyAllocation::alloc(dev, 0, GFP_KERNEL).err(), Some(EINVAL));
    ///     Ok(())
    /// }
    /// ```
    pub fn alloc_attrs(
        dev: &Device<Bound>,
        size: usize,
        gfp: Flags,
        attrs: Attrs,
    ) -> Result<Devres<Self>> {
        if size == 0 {
            return Err(EINVAL);
        }
        let all = attrs.as_raw() | bindings::DMA_ATTR_NO_KERNEL_MAPPING;
        // INVARIANT: Allocated with `DMA_ATTR_NO_KERNEL_MAPPING`.
        let mem = CoherentMemory::alloc(dev, size, gfp, all)?;
        Devres::new(dev, Self { mem, attrs }, gfp)
    }

    /// Allocates `size` bytes with `DMA_ATTR_NO_KERNEL_MAPPING` only.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::DeviceOnlyAllocation};
    ///
    /// fn area(dev: &Device<Bound>) -> Result {
    ///     let a = DeviceOnlyAllocation::alloc(dev, 4096, GFP_KERNEL)?;
    ///     assert_eq!(a.access(dev)?.size(), 4096);
    ///     Ok(())
    /// }
    /// ```
    pub fn alloc(dev: &Device<Bound>, size: usize, gfp: Flags) -> Result<Devres<Self>> {
        Self::alloc_attrs(dev, size, gfp, Attrs::default())
    }

    /// Returns the size in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::DeviceOnlyAllocation;
    ///
    /// fn pages(a: &DeviceOnlyAllocation) -> usize {
    ///     a.size().div_ceil(4096)
    /// }
    /// ```
    pub fn size(&self) -> usize {
        self.mem.size
    }

    /// Returns the device address of the memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{dma::DeviceOnlyAllocation, io::Io};
    ///
    /// fn hand_over(a: &DeviceOnlyAllocation, regs: &Io<0x100>) {
    ///     regs.write64::<0x80>(a.dma_handle());
    /// }
    /// ```
    pub fn dma_handle(&self) -> DmaAddress {
        self.mem.dma_handle
    }

    /// Returns the attributes it was allocated with, other than `DMA_ATTR_NO_KERNEL_MAPPING`
    /// (which it always has, and which [`Attrs`] can not hold).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::{Attrs, DeviceOnlyAllocation};
    ///
    /// fn plain(a: &DeviceOnlyAllocation) -> bool {
    ///     a.attrs() == Attrs::default()
    /// }
    /// ```
    pub fn attrs(&self) -> Attrs {
        self.attrs
    }
}
