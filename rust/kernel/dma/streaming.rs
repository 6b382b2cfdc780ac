// SPDX-License-Identifier: GPL-2.0

//! Streaming DMA: a driver-owned buffer mapped for a device, and the CPU's view of it.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::{
    byte_size, check_reachable,
    mapping::{MapNode, Single},
    DataDirection, DmaAddress,
};
use crate::{
    alloc::{flags::GFP_KERNEL, Flags, KBox, KVec},
    bindings,
    device::{Bound, Device},
    error::{code::*, Result},
    types::{AsBytes, FromBytes},
};
use core::pin::Pin;

/// A driver-owned buffer mapped for a device, which owns it while it is mapped.
///
/// The CPU has no method to read or write the buffer here: [`StreamingMapping::sync_for_cpu`]
/// hands it a [`CpuView`], and [`StreamingMapping::unmap`] gives the buffer back. The mapping is
/// on its binding's unbind list, so it is undone when the driver is unbound at the latest; the
/// buffer itself stays allocated until this value is dropped, which unmaps first. Making and
/// dropping a mapping is O(1) in the number of mappings the binding holds.
///
/// Who owns the buffer decides what an unmap may do to it. The owner's
/// [`StreamingMapping::unmap`] runs while the device owns it and synchronises it for the CPU,
/// so the caller gets the device's data; [`CpuView::unmap`], where the CPU owns it, does not.
/// An unmap at unbind may run while the CPU owns the buffer (a [`CpuView`] is `Send`, and a work
/// item may be writing it) and therefore writes nothing into it: the device's last writes to a
/// buffer it owned at unbind may be lost, never the CPU's.
///
/// # Invariants
///
/// `map` is (or was, until the unbind unmapped it) the mapping of the first `buf.len()`
/// elements of `buf` at `addr`, whose heap storage does not move or get freed while `map` is
/// live.
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
    map: Pin<KBox<MapNode<Single>>>,
    buf: KVec<T>,
    addr: DmaAddress,
}

/// A streaming-mapped buffer that the CPU owns, after [`StreamingMapping::sync_for_cpu`], or the
/// part of it that [`StreamingMapping::sync_range_for_cpu`] handed over; derefs to those
/// elements.
///
/// # Invariants
///
/// `start..start + len` is a range of the buffer's elements, which the CPU owns.
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
pub struct CpuView<T: AsBytes + FromBytes> {
    map: StreamingMapping<T>,
    start: usize,
    len: usize,
}

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
    /// a buffer (allocated with `GFP_ATOMIC` too). Synchronising, unmapping and dropping the
    /// mapping do not sleep either. Fails as [`StreamingMapping::map`] does.
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
        // SAFETY: `buf` is a kmalloc'ed buffer; this only computes its physical address.
        let phys = unsafe { bindings::virt_to_phys(buf.as_mut_ptr().cast()) };
        check_reachable(dev, phys, size, dir)?;
        let raw = dev.as_raw();
        let cpu = buf.as_mut_ptr().cast();
        let mut addr = 0;
        let map = || {
            // SAFETY: `cpu` is a kmalloc'ed buffer of at least `size` bytes, valid for the device
            // to access until unmapped (type invariant of the result); `dev` is bound.
            addr = unsafe { bindings::dma_map_single_attrs(raw, cpu, size, dir.as_raw(), 0) };
            // SAFETY: `dev` is valid and `addr` was just returned for it.
            if unsafe { bindings::dma_mapping_error(raw, addr) } != 0 {
                return Err(ENOMEM);
            }
            // INVARIANT: Mapped just now.
            Ok(Single { addr, size, dir })
        };
        // SAFETY: `map` returns a live mapping for `dev`, which only the node unmaps.
        let map = unsafe { MapNode::new(dev, flags, map) }?;
        // INVARIANT: Mapped just now; the buffer's storage is owned by `Self` from here on.
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
        let len = self.buf.len();
        self.map.sync(true, (0, len * core::mem::size_of::<T>()));
        // INVARIANT: The whole buffer is the CPU's now.
        CpuView {
            map: self,
            start: 0,
            len,
        }
    }

    /// Hands elements `start..start + len` of the buffer to the CPU, as
    /// `dma_sync_single_range_for_cpu()` does; the rest stays the device's. Gives the mapping
    /// back (`Err`) if the range is empty or not within the buffer.
    ///
    /// A device that wrote only the first part of a receive buffer needs only that part
    /// synchronised (copied from a bounce buffer, invalidated in the cache).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::StreamingMapping;
    ///
    /// // The device reported that it wrote `n` bytes.
    /// fn header(mapped: StreamingMapping<u8>, n: usize) -> StreamingMapping<u8> {
    ///     match mapped.sync_range_for_cpu(0, n) {
    ///         Ok(cpu) => {
    ///             assert_eq!(cpu.len(), n);
    ///             cpu.sync_for_device()
    ///         }
    ///         Err(mapped) => mapped,
    ///     }
    /// }
    /// ```
    pub fn sync_range_for_cpu(self, start: usize, len: usize) -> Result<CpuView<T>, Self> {
        match start.checked_add(len) {
            Some(end) if len > 0 && end <= self.buf.len() => {
                let size = core::mem::size_of::<T>();
                self.map.sync(true, (start * size, len * size));
                // INVARIANT: That range is the CPU's now.
                Ok(CpuView {
                    map: self,
                    start,
                    len,
                })
            }
            _ => Err(self),
        }
    }

    /// Unmaps the buffer and returns it, with what the device wrote (as `dma_unmap_single()`
    /// does, synchronising for the CPU). Does not sleep.
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
        // The device owns the buffer: take its data (a bounce-buffer copy, a cache invalidation)
        // with the unmap.
        map.finish(false);
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
        let size = core::mem::size_of::<T>();
        self.map
            .map
            .sync(false, (self.start * size, self.len * size));
        self.map
    }

    /// Unmaps the buffer and returns it, without a synchronisation for the device first: the CPU
    /// owns the part it has, whose data the unmap keeps (what is outside a partial view is
    /// synchronised for the CPU with the unmap). Does not sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::StreamingMapping;
    ///
    /// fn done(mapped: StreamingMapping<u8>) -> KVec<u8> {
    ///     let mut cpu = mapped.sync_for_cpu();
    ///     cpu[0] = 1;
    ///     // No pointless synchronisation for the device on the way out.
    ///     cpu.unmap()
    /// }
    /// ```
    pub fn unmap(self) -> KVec<T> {
        let StreamingMapping { buf, map, .. } = self.map;
        if self.start == 0 && self.len == buf.len() {
            // The CPU owns all of it: nothing to take from the device.
            map.finish(true);
        } else {
            // The device owns the rest: take its data there, and leave the CPU's part alone.
            let size = core::mem::size_of::<T>();
            let (start, end) = (self.start * size, (self.start + self.len) * size);
            if start > 0 {
                map.sync(true, (0, start));
            }
            if end < buf.len() * size {
                map.sync(true, (end, buf.len() * size - end));
            }
            map.finish(true);
        }
        drop(map);
        buf
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
        self.map.addr
    }
}

impl<T: AsBytes + FromBytes> core::ops::Deref for CpuView<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: The range is within the buffer (type invariant).
        unsafe {
            self.map
                .buf
                .get_unchecked(self.start..self.start + self.len)
        }
    }
}

impl<T: AsBytes + FromBytes> core::ops::DerefMut for CpuView<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: The range is within the buffer (type invariant).
        unsafe {
            self.map
                .buf
                .get_unchecked_mut(self.start..self.start + self.len)
        }
    }
}
