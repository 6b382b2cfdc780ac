// SPDX-License-Identifier: GPL-2.0

//! What a device can address: its DMA masks, how it splits transfers into segments, and the
//! zone that memory for it comes from.

use crate::{
    alloc::{
        flags::{__GFP_DMA, __GFP_DMA32},
        Flags,
    },
    bindings,
    device::{Bound, Core, Device},
    error::{code::*, to_result, Result},
};

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

/// Setting how the device splits transfers into segments.
///
/// A scatter-gather mapping ([`SgMapping`]) is cut into segments that the device can take: none
/// longer than the maximum segment size, none crossing the segment boundary. The limits live in
/// the device's `dma_parms`, which the bus provides (PCI does); like the masks, they are set in
/// `probe`, before anything is mapped.
///
/// [`SgMapping`]: super::SgMapping
impl Device<Core> {
    /// Sets the longest segment the device takes, in bytes, as `dma_set_max_seg_size()` does.
    ///
    /// Fails with [`EINVAL`] for 0, and with [`EIO`] if the bus gave the device no `dma_parms`
    /// (where the C function would warn and do nothing).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::{Core, Device};
    ///
    /// fn setup(dev: &Device<Core>) -> Result {
    ///     // The device's DMA engine moves at most 4 KiB at a time.
    ///     dev.dma_set_max_seg_size(4096)?;
    ///     assert_eq!(dev.dma_max_seg_size(), 4096);
    ///     assert_eq!(dev.dma_set_max_seg_size(0), Err(EINVAL));
    ///     Ok(())
    /// }
    /// ```
    pub fn dma_set_max_seg_size(&self, size: u32) -> Result {
        if size == 0 {
            return Err(EINVAL);
        }
        let parms = self.dma_parms()?;
        // SAFETY: `parms` is the device's `dma_parms`, valid while the device is; the device lock
        // is held (type invariant of `Core`), and nothing of this binding maps meanwhile.
        unsafe { (*parms).max_segment_size = size };
        Ok(())
    }

    /// Sets the segment boundary, as `dma_set_seg_boundary()` does: no segment crosses an
    /// address that is a multiple of `mask + 1`.
    ///
    /// Fails with [`EINVAL`] if `mask` is not `2^n - 1` for some `n` from 12 (a page) to 64, and
    /// with [`EIO`] if the bus gave the device no `dma_parms`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::{Core, Device};
    ///
    /// fn setup(dev: &Device<Core>) -> Result {
    ///     // No segment crosses a 64 KiB boundary.
    ///     dev.dma_set_seg_boundary(0xffff)?;
    ///     assert_eq!(dev.dma_seg_boundary(), 0xffff);
    ///     assert_eq!(dev.dma_set_seg_boundary(0x1000), Err(EINVAL));
    ///     Ok(())
    /// }
    /// ```
    pub fn dma_set_seg_boundary(&self, mask: u64) -> Result {
        let min = crate::page::PAGE_SIZE as u64 - 1;
        if mask < min || mask.wrapping_add(1) & mask != 0 {
            return Err(EINVAL);
        }
        let parms = self.dma_parms()?;
        // SAFETY: As in `dma_set_max_seg_size`.
        unsafe { (*parms).segment_boundary_mask = mask as _ };
        Ok(())
    }

    fn dma_parms(&self) -> Result<*mut bindings::device_dma_parameters> {
        // SAFETY: `self.as_raw()` is valid; the bus sets `dma_parms` before the device is added.
        let parms = unsafe { (*self.as_raw()).dma_parms };
        if parms.is_null() {
            return Err(EIO);
        }
        Ok(parms)
    }
}

impl Device<Bound> {
    /// Returns the longest segment the device takes, in bytes (64 KiB unless the driver set it),
    /// as `dma_get_max_seg_size()` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::{Bound, Device};
    ///
    /// fn check(dev: &Device<Bound>) {
    ///     assert!(dev.dma_max_seg_size() > 0);
    /// }
    /// ```
    pub fn dma_max_seg_size(&self) -> u32 {
        // SAFETY: `self.as_raw()` is valid; this reads its `dma_parms`.
        unsafe { bindings::dma_get_max_seg_size(self.as_raw()) }
    }

    /// Returns the segment boundary mask (all ones unless the driver set it), as
    /// `dma_get_seg_boundary()` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::{Bound, Device};
    ///
    /// fn check(dev: &Device<Bound>) {
    ///     assert_eq!(dev.dma_seg_boundary().wrapping_add(1) & dev.dma_seg_boundary(), 0);
    /// }
    /// ```
    pub fn dma_seg_boundary(&self) -> u64 {
        // SAFETY: As above.
        unsafe { bindings::dma_get_seg_boundary(self.as_raw()) as u64 }
    }

    /// Returns the zone flags for memory that the driver allocates itself for streaming DMA
    /// (a buffer it maps, the pages of a scatter-gather mapping), so that the device reaches it
    /// without a bounce buffer: `__GFP_DMA` for a mask narrower than 32 bits, `__GFP_DMA32` for
    /// one narrower than 64 bits, none otherwise or behind an IOMMU, which maps any memory.
    ///
    /// Coherent allocations and pools pick their zone themselves (`dma_alloc_attrs()` ignores
    /// zone flags).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, page::Page};
    ///
    /// fn page_for(dev: &Device<Bound>) -> Result<Page> {
    ///     Ok(Page::alloc_page(GFP_KERNEL | dev.dma_zone())?)
    /// }
    /// ```
    pub fn dma_zone(&self) -> Flags {
        let raw = self.as_raw();
        // SAFETY: `raw` is a valid device; these read its DMA configuration.
        let direct = unsafe { !bindings::get_dma_ops_is_set(raw) && !bindings::use_dma_iommu(raw) };
        match self.dma_mask() {
            Some(mask) if direct && mask < u32::MAX as u64 => __GFP_DMA,
            Some(mask) if direct && mask < u64::MAX => __GFP_DMA32,
            _ => Flags::default(),
        }
    }
}
