// SPDX-License-Identifier: GPL-2.0

//! Direct memory access (DMA): masks, coherent memory, pools, streaming and scatter-gather
//! mappings.
//!
//! A device keeps a DMA address after the CPU side lets go of it, so every DMA resource here is
//! tied to the driver's binding: it can only be created from a bound device (`&Device<Bound>`),
//! and it is held in a [`Devres`] or on the binding's unbind list, so that it is freed or
//! unmapped when the driver is unbound at the latest, never later and never on a device without
//! a driver.
//!
//! - [`DmaMask`] and [`Device::dma_set_mask`] and friends: what the device can address, and how
//!   it splits transfers ([`Device::dma_set_max_seg_size`]). Setting them is only offered in the
//!   [`Core`] context, see [`Device::dma_set_mask`].
//! - [`CoherentAllocation<T>`]: memory that the CPU and the device share, with volatile,
//!   bounds-checked element access ([`dma_read!`] and [`dma_write!`] name an element's field),
//!   filled before its address is handed out if need be ([`CoherentAllocation::init`]);
//!   [`DeviceOnlyAllocation`] for memory without a kernel mapping, which the CPU can not access.
//! - [`DmaPool<T>`]: many small blocks of coherent memory, each a [`PoolObject<T>`].
//! - [`StreamingMapping<T>`] and [`CpuView<T>`]: a driver-owned buffer handed to the device. While
//!   it is mapped the device owns it and the CPU has no method to read or write it;
//!   [`StreamingMapping::sync_for_cpu`] hands the CPU a view, [`CpuView::sync_for_device`] gives
//!   the buffer back to the device, and [`StreamingMapping::unmap`] returns the buffer.
//! - [`SgMapping<B>`] and [`SgCpuView<B>`]: the same for a buffer of many pieces (pages, a
//!   `vmalloc`ed vector), mapped as a list of segments.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)
//!
//! Reference: [`Documentation/core-api/dma-api.rst`](srctree/Documentation/core-api/dma-api.rst)
//!
//! [`Core`]: crate::device::Core
//! [`dma_read!`]: crate::dma_read
//! [`dma_write!`]: crate::dma_write
//! [`Devres`]: crate::devres::Devres

use crate::{
    bindings,
    device::{Bound, Device},
    error::{code::*, Result},
};

pub(crate) mod coherent;
mod mapping;
mod mask;
pub mod pool;
pub mod project;
pub mod sg;
mod streaming;

pub use coherent::{CoherentAllocation, CoherentIter, DeviceOnlyAllocation};
pub use mask::DmaMask;
pub use pool::{DmaPool, PoolObject, PoolView};
pub use project::Elements;
pub use sg::{Segment, Segments, SgBuffer, SgCpuView, SgList, SgMapping};
pub use streaming::{CpuView, StreamingMapping};

#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
mod pool_tests;
#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
mod sg_tests;
#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
pub(crate) mod tests;
#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
mod unbind_tests;

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
    /// `DMA_ATTR_NO_KERNEL_MAPPING` is refused too: memory without a kernel mapping has a type
    /// of its own, [`DeviceOnlyAllocation`], which has no CPU accessor.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::Attrs;
    ///
    /// assert!(Attrs::try_from_raw(1 << 8).is_ok());
    /// assert_eq!(Attrs::try_from_raw(1 << 31), Err(EINVAL));
    /// assert_eq!(Attrs::try_from_raw(kernel::bindings::DMA_ATTR_NO_KERNEL_MAPPING), Err(EINVAL));
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
            | DMA_ATTR_SKIP_CPU_SYNC.0
            | DMA_ATTR_FORCE_CONTIGUOUS.0
            | DMA_ATTR_ALLOC_SINGLE_PAGES.0
            | DMA_ATTR_NO_WARN.0
            | DMA_ATTR_PRIVILEGED.0,
    );
}

/// Checks that the DMA layer can map `size` bytes at the physical address `phys` for `dev`
/// within its masks: [`EIO`] if it can not.
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
    phys: bindings::phys_addr_t,
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
    pub(crate) fn as_raw(self) -> bindings::dma_data_direction {
        match self {
            Self::Bidirectional => bindings::dma_data_direction_DMA_BIDIRECTIONAL,
            Self::ToDevice => bindings::dma_data_direction_DMA_TO_DEVICE,
            Self::FromDevice => bindings::dma_data_direction_DMA_FROM_DEVICE,
        }
    }
}
