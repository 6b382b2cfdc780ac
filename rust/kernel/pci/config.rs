// SPDX-License-Identifier: GPL-2.0

//! The configuration space of a bound PCI device.
//!
//! A device has 256 bytes of configuration space (conventional PCI), or 4096 (PCI Express and
//! PCI-X 2.0, where the platform can reach the extended part). [`Device::config_space`] gives the
//! first 256 bytes of every device, [`Device::config_space_extended`] all 4096 of a device that
//! has them. Reads and writes are of 8, 16 or 32 bits at an offset that is a multiple of the
//! width:
//!
//! - `read16::<OFFSET>()` and `write16::<OFFSET>(v)` take a constant offset, checked against the
//!   space's size and the alignment when the driver is built: a bad one does not compile;
//! - `try_read16(offset)` and `try_write16(v, offset)` (the order of MMIO's) check the offset
//!   at run time, and return [`EINVAL`] for a bad one, without any access.
//!
//! An access that the device or the platform fails returns its error: [`ENODEV`] once the device
//! is gone (a surprise removal; the C accessors then read all ones), the errors of
//! `pcibios_err_to_errno()` otherwise.
//!
//! The space is reached only through a bound device: a `struct pci_dev` that a driver keeps
//! past its unbind may be removed and its bus address, after a rescan, belong to a new device,
//! whose configuration the old `struct pci_dev` would then read and write.
//!
//! Configuration writes are as powerful as writes to the device's registers: they can move a
//! BAR, turn bus mastering on or change where the device sends its MSI messages. Like MMIO
//! writes, they are safe to call, and what the device then does is the driver's to get right;
//! memory protection from the device is the IOMMU's (see `Documentation/rust/driver-core.rst`).
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)

use super::Device;
use crate::{
    bindings,
    device::Bound,
    error::{code::*, Error, Result},
    io::offset_valid,
};
use core::marker::PhantomData;

/// The size of the configuration space of conventional PCI, in bytes (the C
/// `PCI_CFG_SPACE_SIZE`).
///
/// # Examples
///
/// ```
/// assert_eq!(kernel::pci::CFG_SPACE_SIZE, 256);
/// ```
pub const CFG_SPACE_SIZE: usize = bindings::PCI_CFG_SPACE_SIZE as usize;

/// The size of the configuration space of PCI Express, in bytes (the C
/// `PCI_CFG_SPACE_EXP_SIZE`).
///
/// # Examples
///
/// ```
/// assert_eq!(kernel::pci::CFG_SPACE_EXP_SIZE, 4096);
/// ```
pub const CFG_SPACE_EXP_SIZE: usize = bindings::PCI_CFG_SPACE_EXP_SIZE as usize;

mod private {
    pub trait Sealed {}
}

/// The part of the configuration space that a [`ConfigSpace`] reaches.
///
/// This trait is sealed: the parts are exactly [`Standard`] and [`Extended`].
///
/// # Examples
///
/// ```
/// use kernel::pci::{ConfigKind, Extended, Standard};
///
/// assert_eq!(Standard::SIZE, 256);
/// assert_eq!(Extended::SIZE, 4096);
/// ```
pub trait ConfigKind: private::Sealed {
    /// The bytes of the part.
    const SIZE: usize;
}

/// The first 256 bytes of the configuration space, which every PCI device has.
///
/// # Examples
///
/// ```
/// use kernel::{device::Bound, pci};
///
/// fn standard(pdev: &pci::Device<Bound>) -> pci::ConfigSpace<'_, pci::Standard> {
///     pdev.config_space()
/// }
/// ```
pub struct Standard;

/// All 4096 bytes of the configuration space of a PCI Express (or PCI-X 2.0) device.
///
/// # Examples
///
/// ```
/// use kernel::{device::Bound, pci};
///
/// fn extended(pdev: &pci::Device<Bound>) -> Result<pci::ConfigSpace<'_, pci::Extended>> {
///     pdev.config_space_extended()
/// }
/// ```
pub struct Extended;

impl private::Sealed for Standard {}
impl private::Sealed for Extended {}

impl ConfigKind for Standard {
    const SIZE: usize = CFG_SPACE_SIZE;
}

impl ConfigKind for Extended {
    const SIZE: usize = CFG_SPACE_EXP_SIZE;
}

/// The configuration space of a bound PCI device, its part `K`.
///
/// # Invariants
///
/// `pdev` is bound for `'a`, and its configuration space is at least `K::SIZE` bytes long.
///
/// # Examples
///
/// ```
/// use kernel::{device::Bound, pci};
///
/// fn command(pdev: &pci::Device<Bound>) -> Result<u16> {
///     // PCI_COMMAND, at 0x04.
///     pdev.config_space().read16::<0x04>()
/// }
/// ```
pub struct ConfigSpace<'a, K: ConfigKind> {
    pdev: &'a Device<Bound>,
    _kind: PhantomData<K>,
}

/// Turns the status of a C configuration accessor into a result.
fn pcibios_result(ret: core::ffi::c_int) -> Result {
    if ret == 0 {
        return Ok(());
    }
    // SAFETY: A pure mapping of status codes.
    Err(Error::from_errno(unsafe {
        bindings::pcibios_err_to_errno(ret)
    }))
}

macro_rules! define_config_read {
    ($name:ident, $try_name:ident -> $t:ty) => {
        #[doc = concat!("Reads the `", stringify!($t), "` at the constant `OFFSET`, checked ")]
        /// against the space's size and the alignment when the driver is built.
        ///
        /// Fails with [`ENODEV`] if the device is gone, or with the error of the platform's
        /// accessor.
        pub fn $name<const OFFSET: usize>(&self) -> Result<$t> {
            const {
                assert!(
                    offset_valid::<$t>(OFFSET, K::SIZE),
                    "configuration space offset out of bounds or unaligned"
                )
            };
            self.read_raw::<$t>(OFFSET)
        }

        #[doc = concat!("Reads the `", stringify!($t), "` at `offset`, checked against the ")]
        /// space's size and the alignment at run time: a bad offset returns [`EINVAL`] and reads
        /// nothing.
        ///
        /// Fails with [`ENODEV`] if the device is gone, or with the error of the platform's
        /// accessor.
        pub fn $try_name(&self, offset: usize) -> Result<$t> {
            if !offset_valid::<$t>(offset, K::SIZE) {
                return Err(EINVAL);
            }
            self.read_raw::<$t>(offset)
        }
    };
}

macro_rules! define_config_write {
    ($name:ident, $try_name:ident, $c_fn:ident <- $t:ty) => {
        #[doc = concat!("Writes the `", stringify!($t), "` at the constant `OFFSET`, checked ")]
        /// against the space's size and the alignment when the driver is built.
        ///
        /// Fails with [`ENODEV`] if the device is gone, or with the error of the platform's
        /// accessor.
        pub fn $name<const OFFSET: usize>(&self, value: $t) -> Result {
            const {
                assert!(
                    offset_valid::<$t>(OFFSET, K::SIZE),
                    "configuration space offset out of bounds or unaligned"
                )
            };
            // SAFETY: `pdev` is a valid device (type invariant); the offset lies within its
            // configuration space and is aligned, as checked at compile time.
            pcibios_result(unsafe { bindings::$c_fn(self.pdev.as_raw(), OFFSET as _, value) })
        }

        #[doc = concat!("Writes the `", stringify!($t), "` at `offset`, checked against the ")]
        /// space's size and the alignment at run time: a bad offset returns [`EINVAL`] and
        /// writes nothing.
        ///
        /// Fails with [`ENODEV`] if the device is gone, or with the error of the platform's
        /// accessor.
        pub fn $try_name(&self, value: $t, offset: usize) -> Result {
            if !offset_valid::<$t>(offset, K::SIZE) {
                return Err(EINVAL);
            }
            // SAFETY: `pdev` is a valid device (type invariant); the offset lies within its
            // configuration space and is aligned, as just checked.
            pcibios_result(unsafe { bindings::$c_fn(self.pdev.as_raw(), offset as _, value) })
        }
    };
}

/// A width of configuration access: `u8`, `u16` or `u32`.
trait Width: Copy + Default {
    /// Reads a value of this width.
    ///
    /// # Safety
    ///
    /// `pdev` must be valid; `offset` must be aligned to the width and lie within the device's
    /// configuration space.
    unsafe fn read(pdev: *mut bindings::pci_dev, offset: usize, val: &mut Self)
        -> core::ffi::c_int;
}

macro_rules! impl_width {
    ($t:ty, $c_fn:ident) => {
        impl Width for $t {
            unsafe fn read(
                pdev: *mut bindings::pci_dev,
                offset: usize,
                val: &mut Self,
            ) -> core::ffi::c_int {
                // SAFETY: By the function's contract.
                unsafe { bindings::$c_fn(pdev, offset as _, val) }
            }
        }
    };
}

impl_width!(u8, pci_read_config_byte);
impl_width!(u16, pci_read_config_word);
impl_width!(u32, pci_read_config_dword);

impl<'a, K: ConfigKind> ConfigSpace<'a, K> {
    /// Returns the part of `pdev`'s configuration space named by `K`, if the device has it.
    fn new(pdev: &'a Device<Bound>) -> Result<Self> {
        if pdev.cfg_size() < K::SIZE {
            return Err(EINVAL);
        }
        // INVARIANT: `pdev` is bound for `'a`, and its space is at least `K::SIZE` bytes long.
        Ok(Self {
            pdev,
            _kind: PhantomData,
        })
    }

    /// Reads a `T` at `offset`, which has been checked.
    fn read_raw<T: Width>(&self, offset: usize) -> Result<T> {
        let mut val = T::default();
        // SAFETY: `pdev` is valid (type invariant); the caller checked that `offset` is aligned
        // and within `K::SIZE` bytes, which the device's space has (type invariant).
        pcibios_result(unsafe { T::read(self.pdev.as_raw(), offset, &mut val) })?;
        Ok(val)
    }

    /// Returns the size of the part in bytes: [`CFG_SPACE_SIZE`] or [`CFG_SPACE_EXP_SIZE`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, pci};
    ///
    /// fn sizes(pdev: &pci::Device<Bound>) {
    ///     assert_eq!(pdev.config_space().size(), 256);
    ///     if let Ok(ext) = pdev.config_space_extended() {
    ///         assert_eq!(ext.size(), 4096);
    ///     }
    /// }
    /// ```
    pub fn size(&self) -> usize {
        K::SIZE
    }

    define_config_read!(read8, try_read8 -> u8);
    define_config_read!(read16, try_read16 -> u16);
    define_config_read!(read32, try_read32 -> u32);

    define_config_write!(write8, try_write8, pci_write_config_byte <- u8);
    define_config_write!(write16, try_write16, pci_write_config_word <- u16);
    define_config_write!(write32, try_write32, pci_write_config_dword <- u32);
}

impl<Ctx: crate::device::DeviceContext> Device<Ctx> {
    /// Returns the size of the device's configuration space in bytes: [`CFG_SPACE_SIZE`], or
    /// [`CFG_SPACE_EXP_SIZE`] for a device whose extended space the platform reaches.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci;
    ///
    /// fn has_extended(pdev: &pci::Device) -> bool {
    ///     pdev.cfg_size() == pci::CFG_SPACE_EXP_SIZE
    /// }
    /// ```
    pub fn cfg_size(&self) -> usize {
        // SAFETY: `self.as_raw()` is valid by the type invariant; the size is set when the
        // device is enumerated and not changed after.
        let size = unsafe { (*self.as_raw()).cfg_size };
        usize::try_from(size).unwrap_or(0)
    }
}

impl Device<Bound> {
    /// Returns the first 256 bytes of the configuration space, which every device has.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, pci};
    ///
    /// fn ids(pdev: &pci::Device<Bound>) -> Result<(u16, u16)> {
    ///     let cfg = pdev.config_space();
    ///     // PCI_VENDOR_ID and PCI_DEVICE_ID. An offset past 255 would not build.
    ///     Ok((cfg.read16::<0x00>()?, cfg.read16::<0x02>()?))
    /// }
    /// ```
    pub fn config_space(&self) -> ConfigSpace<'_, Standard> {
        // INVARIANT: Every PCI device has the standard 256 bytes.
        ConfigSpace {
            pdev: self,
            _kind: PhantomData,
        }
    }

    /// Returns all 4096 bytes of the configuration space, or [`EINVAL`] if the device has only
    /// the standard 256 (conventional PCI, or a platform that does not reach the extended space).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, pci};
    ///
    /// fn first_extended_header(pdev: &pci::Device<Bound>) -> Result<u32> {
    ///     // The extended capabilities start at 0x100.
    ///     pdev.config_space_extended()?.read32::<0x100>()
    /// }
    /// ```
    pub fn config_space_extended(&self) -> Result<ConfigSpace<'_, Extended>> {
        ConfigSpace::new(self)
    }

    /// Returns the offset of the device's capability `id` (a C `PCI_CAP_ID_*`) in its
    /// configuration space, or [`ENOENT`] if it has none.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, device::Bound, pci};
    ///
    /// fn msi_control(pdev: &pci::Device<Bound>) -> Result<u16> {
    ///     let msi = pdev.find_capability(bindings::PCI_CAP_ID_MSI as u8)?;
    ///     // The message control register follows the capability's id and next pointer.
    ///     pdev.config_space().try_read16(usize::from(msi) + 2)
    /// }
    /// ```
    pub fn find_capability(&self, id: u8) -> Result<u8> {
        // SAFETY: `self.as_raw()` is valid; the lookup only reads the configuration space.
        match unsafe { bindings::pci_find_capability(self.as_raw(), id.into()) } {
            0 => Err(ENOENT),
            offset => Ok(offset),
        }
    }

    /// Returns the offset of the device's extended capability `id` (a C `PCI_EXT_CAP_ID_*`) in
    /// its configuration space, or [`ENOENT`] if it has none (always, for a device without the
    /// extended space).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings, device::Bound, pci};
    ///
    /// fn serial_number(pdev: &pci::Device<Bound>) -> Result<u64> {
    ///     let dsn = usize::from(pdev.find_ext_capability(bindings::PCI_EXT_CAP_ID_DSN as u16)?);
    ///     let cfg = pdev.config_space_extended()?;
    ///     let low = cfg.try_read32(dsn + 4)?;
    ///     let high = cfg.try_read32(dsn + 8)?;
    ///     Ok((u64::from(high) << 32) | u64::from(low))
    /// }
    /// ```
    pub fn find_ext_capability(&self, id: u16) -> Result<u16> {
        // SAFETY: `self.as_raw()` is valid; the lookup only reads the configuration space.
        match unsafe { bindings::pci_find_ext_capability(self.as_raw(), id.into()) } {
            0 => Err(ENOENT),
            offset => Ok(offset),
        }
    }
}
