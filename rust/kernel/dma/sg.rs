// SPDX-License-Identifier: GPL-2.0

//! Scatter-gather DMA: a buffer made of many pieces of memory, mapped for a device as a list of
//! segments.
//!
//! [`SgMapping::map`] takes a buffer that the driver owns, any [`SgBuffer`] (pages, a
//! [`KVVec`], which may be `vmalloc`ed, or a list of either), builds a `struct sg_table` that
//! describes its memory and maps it with `dma_map_sgtable()`. The table is cut into segments the
//! device takes: none longer than its maximum segment size, none crossing its segment boundary
//! ([`Device::dma_set_max_seg_size`], [`Device::dma_set_seg_boundary`]). The direct mapping
//! neither splits nor merges segments, so the builder does the cutting; an IOMMU may merge
//! segments within those limits.
//!
//! Ownership is the typestate of streaming mappings: while it is an [`SgMapping`] the device
//! owns the buffer and the CPU has no method to touch it, only the mapped segments
//! ([`SgMapping::segments`]); [`SgMapping::sync_for_cpu`] hands the CPU an [`SgCpuView`], which
//! gives the buffer's data (never the containers, whose memory the table describes), and
//! [`SgCpuView::sync_for_device`] gives it back. The mapping is on the binding's unbind list, so
//! it is undone when the driver is unbound at the latest, writing nothing into the buffer then.
//!
//! C header: [`include/linux/scatterlist.h`](srctree/include/linux/scatterlist.h)
//!
//! [`Device::dma_set_max_seg_size`]: crate::device::Device::dma_set_max_seg_size
//! [`Device::dma_set_seg_boundary`]: crate::device::Device::dma_set_seg_boundary

use super::{
    check_reachable,
    mapping::{MapKind, MapNode},
    DataDirection, DmaAddress,
};
use crate::{
    alloc::{Flags, KBox, KVVec, KVec, VVec},
    bindings,
    device::{Bound, Device},
    error::{code::*, to_result, Result},
    page::{Page, PAGE_SIZE},
    types::{AsBytes, FromBytes, Opaque},
};
use core::{marker::PhantomData, mem::ManuallyDrop, pin::Pin, ptr::NonNull};

mod private {
    pub trait Sealed {}
}

/// Memory that a scatter-gather mapping can be made of.
///
/// Sealed: the device reads and writes the memory that the pieces describe, so only this
/// crate's owners of memory, whose pieces are valid and do not move, implement it.
///
/// # Examples
///
/// ```
/// use kernel::{dma::SgBuffer, page::Page};
///
/// fn mappable<B: SgBuffer>() {}
/// mappable::<KVVec<u8>>();
/// mappable::<KVec<Page>>();
/// mappable::<KVec<KVVec<u32>>>();
/// ```
pub trait SgBuffer: private::Sealed + Send + Sync + 'static {
    /// What the CPU gets of the buffer while it owns it: the data, not the container.
    type View: ?Sized;

    /// Calls `f` for each physically contiguous piece of the buffer, in order: the page of its
    /// first byte, the offset in that page, and the length.
    #[doc(hidden)]
    fn pieces(&mut self, f: &mut dyn FnMut(*mut bindings::page, usize, usize) -> Result) -> Result;

    /// Returns the CPU's view of the data.
    #[doc(hidden)]
    fn view(&self) -> &Self::View;

    /// Returns the CPU's view of the data, to write.
    #[doc(hidden)]
    fn view_mut(&mut self) -> &mut Self::View;
}

/// One page: its bytes are the view (the page's memory is always mapped in the kernel on the
/// architectures without high memory, which are the only ones this is offered on).
#[cfg(not(CONFIG_HIGHMEM))]
impl private::Sealed for Page {}

#[cfg(not(CONFIG_HIGHMEM))]
impl SgBuffer for Page {
    type View = [u8];

    fn pieces(&mut self, f: &mut dyn FnMut(*mut bindings::page, usize, usize) -> Result) -> Result {
        f(self.as_ptr(), 0, PAGE_SIZE)
    }

    fn view(&self) -> &[u8] {
        // SAFETY: Without high memory every page is in the kernel's direct map; the page is
        // owned by `self` and is `PAGE_SIZE` bytes, borrowed as `self` is.
        unsafe {
            core::slice::from_raw_parts(bindings::page_address(self.as_ptr()).cast(), PAGE_SIZE)
        }
    }

    fn view_mut(&mut self) -> &mut [u8] {
        // SAFETY: As above, borrowed exclusively as `self` is.
        unsafe {
            core::slice::from_raw_parts_mut(bindings::page_address(self.as_ptr()).cast(), PAGE_SIZE)
        }
    }
}

/// Calls `f` for the pieces of the `len` bytes at `start`, memory from `kmalloc()` (one piece)
/// or `vmalloc()` (one per page).
///
/// # Safety
///
/// `start` must be the start of `len` bytes allocated by `kmalloc()`, `vmalloc()` or
/// `kvmalloc()`.
unsafe fn alloc_pieces(
    start: *mut u8,
    len: usize,
    f: &mut dyn FnMut(*mut bindings::page, usize, usize) -> Result,
) -> Result {
    // SAFETY: `start` is the buffer's address; this only tests it.
    if !unsafe { bindings::is_vmalloc_addr(start.cast()) } {
        // SAFETY: A `kmalloc`ed buffer is in the direct map, physically contiguous.
        let page = unsafe { bindings::virt_to_page(start.cast()) };
        return f(page, start as usize % PAGE_SIZE, len);
    }
    let mut done = 0;
    while done < len {
        // SAFETY: Within the buffer (`done < len`).
        let addr = unsafe { start.add(done) };
        let offset = addr as usize % PAGE_SIZE;
        let n = (PAGE_SIZE - offset).min(len - done);
        // SAFETY: `addr` is in the buffer's `vmalloc` area, backed by a page.
        let page = unsafe { bindings::vmalloc_to_page(addr.cast()) };
        f(page, offset, n)?;
        done += n;
    }
    Ok(())
}

macro_rules! impl_vec_buffer {
    ($($(#[$doc:meta])* $vec:ident),*) => {$(
        $(#[$doc])*
        impl<T: AsBytes + FromBytes + Send + Sync + 'static> private::Sealed for $vec<T> {}

        impl<T: AsBytes + FromBytes + Send + Sync + 'static> SgBuffer for $vec<T> {
            type View = [T];

            fn pieces(
                &mut self,
                f: &mut dyn FnMut(*mut bindings::page, usize, usize) -> Result,
            ) -> Result {
                let len = self.len() * core::mem::size_of::<T>();
                // SAFETY: The vector's elements are `len` bytes of its allocator's memory.
                unsafe { alloc_pieces(self.as_mut_ptr().cast(), len, f) }
            }

            fn view(&self) -> &[T] {
                self
            }

            fn view_mut(&mut self) -> &mut [T] {
                self
            }
        }
    )*};
}

impl_vec_buffer!(
    /// A buffer from `kvmalloc()`: one piece if `kmalloc` served it, one per page if `vmalloc`
    /// did.
    KVVec,
    /// A buffer from `vmalloc()`: one piece per page.
    VVec
);

/// A list of buffers, in order.
impl<B: SgBuffer> private::Sealed for KVec<B> {}

impl<B: SgBuffer> SgBuffer for KVec<B> {
    type View = SgList<B>;

    fn pieces(&mut self, f: &mut dyn FnMut(*mut bindings::page, usize, usize) -> Result) -> Result {
        self.iter_mut().try_for_each(|b| b.pieces(f))
    }

    fn view(&self) -> &SgList<B> {
        // SAFETY: `SgList<B>` is a transparent wrapper of `[B]`.
        unsafe { &*(core::ptr::from_ref::<[B]>(self) as *const SgList<B>) }
    }

    fn view_mut(&mut self) -> &mut SgList<B> {
        // SAFETY: As above.
        unsafe { &mut *(core::ptr::from_mut::<[B]>(self) as *mut SgList<B>) }
    }
}

/// The CPU's view of a list of buffers: each buffer's data, but not the buffers themselves (to
/// swap two of them would leave the table describing the wrong memory).
///
/// # Examples
///
/// ```
/// use kernel::dma::{SgCpuView, SgList};
///
/// fn clear(view: &mut SgCpuView<KVec<KVVec<u8>>>) {
///     let list: &mut SgList<KVVec<u8>> = view;
///     for i in 0..list.len() {
///         if let Some(data) = list.get_mut(i) {
///             data.fill(0);
///         }
///     }
/// }
/// ```
#[repr(transparent)]
pub struct SgList<B>([B]);

impl<B: SgBuffer> SgList<B> {
    /// Returns the number of buffers.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::SgList;
    ///
    /// fn none(list: &SgList<KVVec<u8>>) -> bool {
    ///     list.len() == 0
    /// }
    /// ```
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns the data of buffer `i`, if there is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::SgList;
    ///
    /// fn first_byte(list: &SgList<KVVec<u8>>) -> Option<u8> {
    ///     list.get(0)?.first().copied()
    /// }
    /// ```
    pub fn get(&self, i: usize) -> Option<&B::View> {
        self.0.get(i).map(SgBuffer::view)
    }

    /// Returns the data of buffer `i` to write, if there is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::SgList;
    ///
    /// fn mark(list: &mut SgList<KVVec<u8>>) {
    ///     if let Some(first) = list.get_mut(0) {
    ///         first.fill(0xff);
    ///     }
    /// }
    /// ```
    pub fn get_mut(&mut self, i: usize) -> Option<&mut B::View> {
        self.0.get_mut(i).map(SgBuffer::view_mut)
    }
}

/// A `struct sg_table` allocated by this module, freed with `sg_free_table()` when dropped.
///
/// # Invariants
///
/// `table` was set up by a successful `sg_alloc_table()`.
struct Table {
    table: KBox<Opaque<bindings::sg_table>>,
}

// SAFETY: The table is only used through the C functions, which may run on any task.
unsafe impl Send for Table {}

// SAFETY: Shared access only reads the entries.
unsafe impl Sync for Table {}

impl Drop for Table {
    fn drop(&mut self) {
        // SAFETY: Allocated by `sg_alloc_table()` (type invariant), freed once, here; the mapping
        // is undone before (`SgCore`'s drop order).
        unsafe { bindings::sg_free_table(self.table.get()) };
    }
}

/// The limits the table is cut to.
#[derive(Clone, Copy)]
struct Limits {
    max_seg: usize,
    boundary: u64,
}

impl Limits {
    /// Cuts the piece of `len` bytes at `page` + `offset` into segments within the limits,
    /// calling `f` with the physical address and the length of each.
    fn cut(
        self,
        page: *mut bindings::page,
        offset: usize,
        len: usize,
        f: &mut dyn FnMut(u64, usize) -> Result,
    ) -> Result {
        // SAFETY: `page` is a valid page of the buffer; this computes its physical address.
        let mut phys = unsafe { bindings::page_to_phys(page) } + offset as u64;
        let mut left = len;
        while left > 0 {
            // The bytes to the next boundary: at least one, as `phys` lies below it.
            let to_boundary = (self.boundary - (phys & self.boundary)) as u128 + 1;
            let n = left
                .min(self.max_seg)
                .min(to_boundary.min(usize::MAX as u128) as usize);
            f(phys, n)?;
            phys += n as u64;
            left -= n;
        }
        Ok(())
    }
}

/// The kind of a scatter-gather mapping, for the binding's unbind list.
///
/// # Invariants
///
/// `table` points to the table of the [`SgMapping`] that owns the node, which outlives it, and
/// is mapped for the node's device in direction `dir`.
struct SgKind {
    table: NonNull<bindings::sg_table>,
    dir: DataDirection,
}

// SAFETY: The table is only used through the C DMA functions, from any task.
unsafe impl Send for SgKind {}

// SAFETY: The functions use the mapping only as their contracts allow.
unsafe impl MapKind for SgKind {
    unsafe fn sync(&self, dev: *mut bindings::device, to_cpu: bool, _range: (usize, usize)) {
        // SAFETY: The mapping is live for `dev` (caller's guarantee).
        unsafe {
            if to_cpu {
                bindings::dma_sync_sgtable_for_cpu(dev, self.table.as_ptr(), self.dir.as_raw())
            } else {
                bindings::dma_sync_sgtable_for_device(dev, self.table.as_ptr(), self.dir.as_raw())
            }
        }
    }

    unsafe fn unmap(self, dev: *mut bindings::device, skip_sync: bool) {
        let attrs = if skip_sync {
            bindings::DMA_ATTR_SKIP_CPU_SYNC
        } else {
            0
        };
        // SAFETY: The mapping is live for `dev` (caller's guarantee) and unmapped once.
        unsafe {
            bindings::dma_unmap_sgtable(dev, self.table.as_ptr(), self.dir.as_raw(), attrs as _)
        };
    }

    #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
    fn released_at_unbind() {
        super::sg_tests::SG_RELEASED.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
    }

    #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
    fn unmapped_by_owner() {
        super::unbind_tests::SG_OWNER_UNMAPPED.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
    }
}

/// A driver-owned buffer of many pieces, mapped for a device as a list of segments, which the
/// device owns while it is mapped; see the [module documentation](self).
///
/// # Invariants
///
/// `core` is (or was, until the unbind unmapped it) the mapping of the memory of `buf`; `buf`'s
/// pieces do not move or get freed while it is live.
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, dma::{DataDirection, SgMapping}};
///
/// fn send(dev: &Device<Bound>) -> Result {
///     let buf = KVVec::from_elem(0x5au8, 3 * 4096 + 100, GFP_KERNEL)?;
///     let mapped = SgMapping::map(dev, buf, DataDirection::ToDevice, GFP_KERNEL)?;
///     let mut bytes = 0;
///     for seg in mapped.segments() {
///         // Program one descriptor per segment.
///         bytes += seg.len;
///     }
///     assert_eq!(bytes, 3 * 4096 + 100);
///     let buf = mapped.unmap();
///     assert_eq!(buf[0], 0x5a);
///     Ok(())
/// }
/// ```
pub struct SgMapping<B: SgBuffer> {
    // Fields drop in declaration order: the mapping goes first, then the table (both in `core`),
    // then the buffer.
    core: SgCore,
    buf: B,
}

/// One mapped segment: its device address and length in bytes.
///
/// # Examples
///
/// ```
/// use kernel::dma::Segment;
///
/// fn end(seg: Segment) -> u64 {
///     seg.addr + seg.len as u64
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The device address.
    pub addr: DmaAddress,
    /// The length in bytes.
    pub len: usize,
}

/// The part of an [`SgMapping`] that does not depend on the buffer's type: its code is compiled
/// once, in this crate, rather than in every module that maps a buffer.
///
/// # Invariants
///
/// `map` is (or was, until the unbind unmapped it) the mapping of `table`, and `table` outlives
/// `map`: both are dropped exactly once, by `SgCore`'s `Drop`, `map` first. `segments` is the
/// number of mapped segments (`nents`).
struct SgCore {
    map: ManuallyDrop<Pin<KBox<MapNode<SgKind>>>>,
    table: ManuallyDrop<Table>,
    segments: usize,
}

impl Drop for SgCore {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: The fields are dropped here and nowhere else, and `self` is not used after its
        // drop: each exactly once, the mapping before the table it maps (type invariant).
        unsafe {
            ManuallyDrop::drop(&mut self.map);
            ManuallyDrop::drop(&mut self.table);
        }
    }
}

/// A buffer's [`SgBuffer::pieces`], without the buffer's type.
type Pieces<'a> =
    dyn FnMut(&mut dyn FnMut(*mut bindings::page, usize, usize) -> Result) -> Result + 'a;

impl SgCore {
    /// The body of [`SgMapping::map`] for the buffer whose pieces `pieces` reports.
    ///
    /// # Safety
    ///
    /// The memory of the pieces must not move or be freed while the result is live.
    #[inline(never)]
    unsafe fn map(
        dev: &Device<Bound>,
        pieces: &mut Pieces<'_>,
        dir: DataDirection,
        flags: Flags,
    ) -> Result<Self> {
        let limits = Limits {
            max_seg: dev.dma_max_seg_size() as usize,
            boundary: dev.dma_seg_boundary(),
        };
        // First count the segments, and check that the device reaches each.
        let mut count = 0usize;
        pieces(&mut |page, offset, len| {
            limits.cut(page, offset, len, &mut |phys, n| {
                check_reachable(dev, phys, n, dir)?;
                count += 1;
                Ok(())
            })
        })?;
        let nents = u32::try_from(count).map_err(|_| EINVAL)?;
        if nents == 0 {
            return Err(EINVAL);
        }
        let table = KBox::new(Opaque::<bindings::sg_table>::uninit(), flags)?;
        // SAFETY: `table` is a table that this initialises (it zeroes it first).
        to_result(unsafe { bindings::sg_alloc_table(table.get(), nents, flags.as_raw()) })?;
        // INVARIANT: Set up just now.
        let table = Table { table };
        // Then fill the entries, in the same order.
        // SAFETY: The table was set up with `nents` entries.
        let mut sg = unsafe { (*table.table.get()).sgl };
        pieces(&mut |page, offset, len| {
            limits.cut(page, offset, len, &mut |phys, n| {
                if sg.is_null() {
                    return Err(EINVAL);
                }
                // SAFETY: `sg` is an entry of the table; the page is the one holding `phys`, a
                // byte of the buffer, and `n` bytes from it are the buffer's (see `cut`). A
                // segment is at most `u32::MAX` bytes: the maximum segment size is a `u32`.
                unsafe {
                    let page = bindings::pfn_to_page((phys >> crate::page::PAGE_SHIFT) as _);
                    bindings::sg_set_page(sg, page, n as u32, (phys as usize % PAGE_SIZE) as u32);
                    sg = bindings::sg_next(sg);
                }
                Ok(())
            })
        })?;
        let raw = table.table.get();
        let map = || {
            // SAFETY: `raw` is a complete table of the buffer's memory, valid for the device to
            // access until unmapped (the caller's guarantee); `dev` is bound.
            to_result(unsafe { bindings::dma_map_sgtable(dev.as_raw(), raw, dir.as_raw(), 0) })?;
            // INVARIANT: Mapped just now; the table outlives the node (`SgCore`'s drop order).
            Ok(SgKind {
                // SAFETY: `raw` points into a box.
                table: unsafe { NonNull::new_unchecked(raw) },
                dir,
            })
        };
        // SAFETY: `map` returns a live mapping for `dev`, which only the node unmaps.
        let map = unsafe { MapNode::new(dev, flags, map) }?;
        // SAFETY: Mapped: `nents` is the number of mapped segments.
        let segments = unsafe { (*raw).nents } as usize;
        // INVARIANT: `map` is the mapping of `table`, mapped just now; both are moved into the
        // result, whose drop drops them once.
        Ok(Self {
            map: ManuallyDrop::new(map),
            table: ManuallyDrop::new(table),
            segments,
        })
    }

    /// Synchronises the mapping for the CPU or for the device.
    #[inline(never)]
    fn sync(&self, to_cpu: bool) {
        self.map.sync(to_cpu, (0, 0));
    }

    /// Unmaps the mapping (unless the unbind did), then frees it and the table.
    #[inline(never)]
    fn finish(self, skip_sync: bool) {
        self.map.finish(skip_sync);
        // `self` drops here: the mapping, then the table.
    }
}

impl<B: SgBuffer> SgMapping<B> {
    /// Builds the table of `buf`'s memory, cut to the device's segment limits, and maps it for
    /// `dev` in direction `dir`, as `dma_map_sgtable()` does.
    ///
    /// Every allocation it makes (the table, the bookkeeping) honours `flags`: with `GFP_ATOMIC`
    /// it does not sleep. Fails with [`EINVAL`] for a buffer without bytes, [`EIO`] if the device
    /// can not reach a segment and no bounce buffer within its mask can stand in (checked before
    /// the mapping), [`ENOMEM`] if memory runs out, and with the error of `dma_map_sgtable()`;
    /// the buffer is dropped then.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::{DataDirection, SgMapping}, page::Page};
    ///
    /// fn receive(dev: &Device<Bound>) -> Result<SgMapping<KVec<Page>>> {
    ///     let mut pages = KVec::new();
    ///     for _ in 0..4 {
    ///         pages.push(Page::alloc_page(GFP_KERNEL | dev.dma_zone())?, GFP_KERNEL)?;
    ///     }
    ///     SgMapping::map(dev, pages, DataDirection::FromDevice, GFP_KERNEL)
    /// }
    /// ```
    // Not inlined: one instance per buffer type, rather than a copy at each call site.
    #[inline(never)]
    pub fn map(dev: &Device<Bound>, mut buf: B, dir: DataDirection, flags: Flags) -> Result<Self> {
        // SAFETY: The buffer is moved into the result, which owns it while mapped: its pieces do
        // not move or get freed until the mapping is dropped (`SgBuffer`).
        let core = unsafe { SgCore::map(dev, &mut |f| buf.pieces(f), dir, flags) }?;
        // INVARIANT: `core` is the mapping of `buf`'s memory, mapped just now.
        Ok(Self { core, buf })
    }

    /// Returns the number of mapped segments (an IOMMU may have merged some of the table's).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::SgMapping;
    ///
    /// fn descriptors_needed(m: &SgMapping<KVVec<u8>>) -> usize {
    ///     m.count()
    /// }
    /// ```
    pub fn count(&self) -> usize {
        self.core.segments
    }

    /// Returns an iterator over the mapped segments, in order.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::SgMapping;
    ///
    /// fn total(m: &SgMapping<KVVec<u8>>) -> usize {
    ///     m.segments().map(|s| s.len).sum()
    /// }
    /// ```
    pub fn segments(&self) -> Segments<'_> {
        // SAFETY: The table is set up (type invariant of `Table`).
        let sg = unsafe { (*self.core.table.table.get()).sgl };
        // INVARIANT: The first of `segments` mapped entries of the table.
        Segments {
            sg,
            left: self.core.segments,
            _p: PhantomData,
        }
    }

    /// Hands the buffer to the CPU, as `dma_sync_sgtable_for_cpu()` does. Does not sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::SgMapping;
    ///
    /// fn first(m: SgMapping<KVVec<u8>>) -> (u8, SgMapping<KVVec<u8>>) {
    ///     let cpu = m.sync_for_cpu();
    ///     let b = cpu[0];
    ///     (b, cpu.sync_for_device())
    /// }
    /// ```
    // Not inlined: one instance per type, rather than a copy at each call site.
    #[inline(never)]
    pub fn sync_for_cpu(self) -> SgCpuView<B> {
        self.core.sync(true);
        SgCpuView(self)
    }

    /// Unmaps the buffer and returns it, with what the device wrote (as `dma_unmap_sgtable()`
    /// does, synchronising for the CPU). Does not sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::SgMapping;
    ///
    /// fn finish(m: SgMapping<KVVec<u8>>) -> KVVec<u8> {
    ///     m.unmap()
    /// }
    /// ```
    pub fn unmap(self) -> B {
        let Self { core, buf } = self;
        core.finish(false);
        buf
    }
}

/// A scatter-gather-mapped buffer that the CPU owns, after [`SgMapping::sync_for_cpu`]; derefs to
/// the buffer's data ([`SgBuffer::View`]).
///
/// # Examples
///
/// ```
/// use kernel::dma::{SgCpuView, SgMapping};
///
/// fn fill(m: SgMapping<KVVec<u8>>) -> SgMapping<KVVec<u8>> {
///     let mut cpu: SgCpuView<KVVec<u8>> = m.sync_for_cpu();
///     cpu.fill(0x11);
///     cpu.sync_for_device()
/// }
/// ```
pub struct SgCpuView<B: SgBuffer>(SgMapping<B>);

impl<B: SgBuffer> SgCpuView<B> {
    /// Gives the buffer back to the device, as `dma_sync_sgtable_for_device()` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::SgMapping;
    ///
    /// fn round(m: SgMapping<KVVec<u8>>) -> SgMapping<KVVec<u8>> {
    ///     m.sync_for_cpu().sync_for_device()
    /// }
    /// ```
    // Not inlined: one instance per type, rather than a copy at each call site.
    #[inline(never)]
    pub fn sync_for_device(self) -> SgMapping<B> {
        self.0.core.sync(false);
        self.0
    }

    /// Unmaps the buffer and returns it, without a synchronisation first: the CPU owns it, and
    /// the unmap keeps its data. Does not sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::SgMapping;
    ///
    /// fn take(m: SgMapping<KVVec<u8>>) -> KVVec<u8> {
    ///     m.sync_for_cpu().unmap()
    /// }
    /// ```
    pub fn unmap(self) -> B {
        let SgMapping { core, buf } = self.0;
        core.finish(true);
        buf
    }

    /// Returns the mapped segments, as [`SgMapping::segments`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::SgMapping;
    ///
    /// fn count(m: SgMapping<KVVec<u8>>) -> (usize, SgMapping<KVVec<u8>>) {
    ///     let cpu = m.sync_for_cpu();
    ///     let n = cpu.segments().count();
    ///     (n, cpu.sync_for_device())
    /// }
    /// ```
    pub fn segments(&self) -> Segments<'_> {
        self.0.segments()
    }
}

impl<B: SgBuffer> core::ops::Deref for SgCpuView<B> {
    type Target = B::View;

    fn deref(&self) -> &B::View {
        self.0.buf.view()
    }
}

impl<B: SgBuffer> core::ops::DerefMut for SgCpuView<B> {
    fn deref_mut(&mut self) -> &mut B::View {
        self.0.buf.view_mut()
    }
}

/// The mapped segments of an [`SgMapping`], from [`SgMapping::segments`].
///
/// # Invariants
///
/// `sg` is NULL or the next of `left` mapped entries of a table that lives for `'a`.
///
/// # Examples
///
/// ```
/// use kernel::dma::SgMapping;
///
/// fn longest(m: &SgMapping<KVVec<u8>>) -> usize {
///     m.segments().map(|s| s.len).max().unwrap_or(0)
/// }
/// ```
pub struct Segments<'a> {
    sg: *mut bindings::scatterlist,
    left: usize,
    _p: PhantomData<&'a bindings::sg_table>,
}

impl Iterator for Segments<'_> {
    type Item = Segment;

    fn next(&mut self) -> Option<Segment> {
        if self.left == 0 || self.sg.is_null() {
            return None;
        }
        // SAFETY: `sg` is a mapped entry of a live table (type invariant); the DMA layer does not
        // write the entries after mapping them.
        let seg = unsafe {
            Segment {
                addr: bindings::sg_dma_address(self.sg),
                len: bindings::sg_dma_len(self.sg) as usize,
            }
        };
        self.left -= 1;
        // SAFETY: As above; the next entry, or NULL after the last.
        self.sg = unsafe { bindings::sg_next(self.sg) };
        Some(seg)
    }
}
