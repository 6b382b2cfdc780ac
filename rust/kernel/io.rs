// SPDX-License-Identifier: GPL-2.0

//! Memory-mapped I/O.
//!
//! [`Io<SIZE>`] is a mapped region of device memory of at least `SIZE` bytes (the size known at
//! compile time) and of `maxsize()` bytes at run time. Each access width has two forms:
//!
//! - `read32::<OFFSET>()` / `write32::<OFFSET>(v)`: the offset is a constant, checked against
//!   `SIZE` and the alignment at compile time; an offset out of bounds does not build.
//! - `try_read32(offset)` / `try_write32(v, offset)`: the offset is checked at run time against the
//!   real size of the mapping and the alignment, and a bad one is [`EINVAL`].
//!
//! Bus glue creates the mappings (for example [`crate::pci::Bar`]) and hands out `&Io<SIZE>`.
//!
//! The checks are the mapping's; which widths a register takes is the device's. An access the
//! device rejects (QEMU's `edu` takes only 4- and 8-byte accesses) is answered by the platform:
//! x86 reads all ones and drops writes, arm64 takes a synchronous external abort, a kernel
//! Oops. A driver uses the widths its device documents, as in C.
//!
//! C header: [`include/asm-generic/io.h`](srctree/include/asm-generic/io.h)

use crate::{bindings, error::code::EINVAL, error::Result};

/// The raw address and length of an MMIO mapping.
///
/// # Invariants
///
/// `addr` is the start of a mapping of `maxsize` bytes of device memory made with `ioremap()`
/// (or a bus's equivalent), `maxsize >= SIZE`, and `addr + maxsize` does not overflow.
///
/// # Examples
///
/// ```
/// use kernel::io::IoRaw;
///
/// // A mapping of 0x1000 bytes can serve a region declared as 0x100 bytes, not the other way.
/// assert!(IoRaw::<0x100>::new(0x1000, 0x1000).is_ok());
/// assert!(IoRaw::<0x1000>::new(0x1000, 0x100).is_err());
/// ```
#[derive(Clone, Copy)]
pub struct IoRaw<const SIZE: usize = 0> {
    addr: usize,
    maxsize: usize,
}

impl<const SIZE: usize> IoRaw<SIZE> {
    /// Describes a mapping at `addr` of `maxsize` bytes; fails with [`EINVAL`] if `maxsize` is
    /// less than `SIZE` or the range wraps around.
    ///
    /// Creating an `IoRaw` is safe: it can only be used through the `unsafe`
    /// [`Io::from_raw`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::io::IoRaw;
    ///
    /// assert!(IoRaw::<0x10>::new(0x1000, 0x10).is_ok());
    /// // Shorter than `SIZE`.
    /// assert_eq!(IoRaw::<0x10>::new(0x1000, 0x8).err(), Some(EINVAL));
    /// // Wraps around the end of the address space.
    /// assert_eq!(IoRaw::<0>::new(usize::MAX, 2).err(), Some(EINVAL));
    /// ```
    pub fn new(addr: usize, maxsize: usize) -> Result<Self> {
        if maxsize < SIZE || addr.checked_add(maxsize).is_none() {
            return Err(EINVAL);
        }
        // INVARIANT: `maxsize >= SIZE` and `addr + maxsize` does not overflow, as just checked;
        // the caller of `Io::from_raw` vouches for the mapping.
        Ok(Self { addr, maxsize })
    }

    /// Returns the start address of the mapping.
    ///
    /// # Examples
    ///
    /// ```
    /// # use kernel::io::IoRaw;
    /// assert_eq!(IoRaw::<0>::new(0x1000, 8)?.addr(), 0x1000);
    /// # Ok::<(), kernel::error::Error>(())
    /// ```
    pub fn addr(&self) -> usize {
        self.addr
    }

    /// Returns the length of the mapping in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use kernel::io::IoRaw;
    /// assert_eq!(IoRaw::<0>::new(0x1000, 8)?.maxsize(), 8);
    /// # Ok::<(), kernel::error::Error>(())
    /// ```
    pub fn maxsize(&self) -> usize {
        self.maxsize
    }
}

/// A mapped MMIO region of at least `SIZE` bytes, with bounds-checked accessors.
///
/// # Invariants
///
/// The [`IoRaw`] inside describes a live MMIO mapping for as long as a reference to `Io`
/// exists.
///
/// # Examples
///
/// ```
/// use kernel::io::Io;
///
/// const ID: usize = 0x00;
///
/// fn read_id(regs: &Io<0x100>) -> u32 {
///     regs.read32::<ID>()
/// }
///
/// fn read_any(regs: &Io<0x100>, offset: usize) -> Result<u32> {
///     // Checked at run time: a bad offset is an error, not an access.
///     regs.try_read32(offset)
/// }
/// ```
#[repr(transparent)]
pub struct Io<const SIZE: usize = 0>(IoRaw<SIZE>);

/// Returns whether an access of `T` at `offset` stays within `size` bytes and is aligned.
pub(crate) const fn offset_valid<T>(offset: usize, size: usize) -> bool {
    let width = core::mem::size_of::<T>();
    match offset.checked_add(width) {
        Some(end) => end <= size && offset % width == 0,
        None => false,
    }
}

macro_rules! define_read {
    ($name:ident, $try_name:ident, $c_fn:ident -> $type_name:ty) => {
        /// Reads an MMIO register at the constant `OFFSET`, checked against `SIZE` and the
        /// alignment at compile time.
        #[inline]
        pub fn $name<const OFFSET: usize>(&self) -> $type_name {
            const {
                assert!(
                    offset_valid::<$type_name>(OFFSET, SIZE),
                    "MMIO offset out of bounds or unaligned"
                )
            };
            // No overflow: `OFFSET` plus the width is at most `SIZE` (checked at compile time),
            // `SIZE <= maxsize` and `addr + maxsize` does not overflow (invariants of `IoRaw`).
            let addr = self.0.addr.wrapping_add(OFFSET);
            // SAFETY: By the type invariant the mapping is live and at least `SIZE` bytes long;
            // the access lies within it and is aligned, as checked at compile time.
            unsafe { bindings::$c_fn(addr as _) }
        }

        /// Reads an MMIO register at `offset`, checked against the mapping's size and the
        /// alignment at run time; a bad offset returns [`EINVAL`].
        #[inline]
        pub fn $try_name(&self, offset: usize) -> Result<$type_name> {
            if !offset_valid::<$type_name>(offset, self.0.maxsize) {
                return Err(EINVAL);
            }
            // No overflow: `offset` plus the width is at most `maxsize` (just checked), and
            // `addr + maxsize` does not overflow (invariant of `IoRaw`).
            let addr = self.0.addr.wrapping_add(offset);
            // SAFETY: By the type invariant the mapping is live and `maxsize` bytes long; the
            // access lies within it and is aligned, as just checked.
            Ok(unsafe { bindings::$c_fn(addr as _) })
        }
    };
}

macro_rules! define_write {
    ($name:ident, $try_name:ident, $c_fn:ident <- $type_name:ty) => {
        /// Writes an MMIO register at the constant `OFFSET`, checked against `SIZE` and the
        /// alignment at compile time.
        #[inline]
        pub fn $name<const OFFSET: usize>(&self, value: $type_name) {
            const {
                assert!(
                    offset_valid::<$type_name>(OFFSET, SIZE),
                    "MMIO offset out of bounds or unaligned"
                )
            };
            // No overflow: `OFFSET` plus the width is at most `SIZE` (checked at compile time),
            // `SIZE <= maxsize` and `addr + maxsize` does not overflow (invariants of `IoRaw`).
            let addr = self.0.addr.wrapping_add(OFFSET);
            // SAFETY: By the type invariant the mapping is live and at least `SIZE` bytes long;
            // the access lies within it and is aligned, as checked at compile time.
            unsafe { bindings::$c_fn(value, addr as _) }
        }

        /// Writes an MMIO register at `offset`, checked against the mapping's size and the
        /// alignment at run time; a bad offset returns [`EINVAL`] and writes nothing.
        #[inline]
        pub fn $try_name(&self, value: $type_name, offset: usize) -> Result {
            if !offset_valid::<$type_name>(offset, self.0.maxsize) {
                return Err(EINVAL);
            }
            // No overflow: `offset` plus the width is at most `maxsize` (just checked), and
            // `addr + maxsize` does not overflow (invariant of `IoRaw`).
            let addr = self.0.addr.wrapping_add(offset);
            // SAFETY: By the type invariant the mapping is live and `maxsize` bytes long; the
            // access lies within it and is aligned, as just checked.
            unsafe { bindings::$c_fn(value, addr as _) };
            Ok(())
        }
    };
}

impl<const SIZE: usize> Io<SIZE> {
    /// Borrows a raw mapping as an [`Io`].
    ///
    /// # Safety
    ///
    /// `raw` must describe a live MMIO mapping that stays mapped for the lifetime of the returned
    /// reference.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::io::{Io, IoRaw};
    ///
    /// /// Reads the id register.
    /// ///
    /// /// # Safety
    /// ///
    /// /// `raw` must describe a mapping that stays live for the call.
    /// unsafe fn read_id(raw: &IoRaw<0x100>) -> u32 {
    ///     // SAFETY: The caller guarantees that `raw` describes a live mapping.
    ///     let regs = unsafe { Io::from_raw(raw) };
    ///     regs.read32::<0x00>()
    /// }
    /// ```
    pub unsafe fn from_raw(raw: &IoRaw<SIZE>) -> &Self {
        // INVARIANT: The caller guarantees that the mapping is live for the borrow.
        // SAFETY: `Io` is a transparent wrapper of `IoRaw`.
        unsafe { &*core::ptr::from_ref(raw).cast() }
    }

    /// Returns the start address of the mapping.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::io::Io;
    ///
    /// fn log_mapping(regs: &Io<0x100>) {
    ///     kernel::pr_info!("registers at {:#x}\n", regs.addr());
    /// }
    /// ```
    pub fn addr(&self) -> usize {
        self.0.addr
    }

    /// Returns the length of the mapping in bytes, at least `SIZE`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::io::Io;
    ///
    /// fn read_last(regs: &Io<0x100>) -> Result<u32> {
    ///     // The mapping may be longer than `SIZE`; beyond it, offsets are checked at run time.
    ///     assert!(regs.maxsize() >= 0x100);
    ///     regs.try_read32(regs.maxsize() - 4)
    /// }
    /// ```
    pub fn maxsize(&self) -> usize {
        self.0.maxsize
    }

    define_read!(read8, try_read8, readb -> u8);
    define_read!(read16, try_read16, readw -> u16);
    define_read!(read32, try_read32, readl -> u32);
    #[cfg(CONFIG_64BIT)]
    define_read!(read64, try_read64, readq -> u64);

    define_write!(write8, try_write8, writeb <- u8);
    define_write!(write16, try_write16, writew <- u16);
    define_write!(write32, try_write32, writel <- u32);
    #[cfg(CONFIG_64BIT)]
    define_write!(write64, try_write64, writeq <- u64);
}
