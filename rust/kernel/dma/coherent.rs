// SPDX-License-Identifier: GPL-2.0

//! Coherent DMA memory: allocations that the CPU and the device share.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::{attrs, byte_size, Attrs, DmaAddress};
use crate::{
    alloc::Flags,
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
        super::tests::COHERENT_FREED.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
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
