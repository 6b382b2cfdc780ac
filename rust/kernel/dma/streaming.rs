// SPDX-License-Identifier: GPL-2.0

//! Streaming DMA: a driver-owned buffer mapped for a device, and the CPU's view of it.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::{attrs, byte_size, check_reachable, DataDirection, DmaAddress};
use crate::{
    alloc::{flags::GFP_KERNEL, Flags, KVec},
    bindings,
    device::{Bound, Device},
    devres::Devres,
    error::{code::*, Result},
    types::{ARef, AsBytes, FromBytes},
};

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
