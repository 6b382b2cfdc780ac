// SPDX-License-Identifier: GPL-2.0

//! Device id tables for drivers.
//!
//! A bus matches devices to drivers with a table of C device ids (for example `struct
//! pci_device_id`) that ends with an all-zero entry. A Rust driver attaches its own data to each
//! entry: [`IdArray`] keeps the C table and an array of that data side by side, and stores the
//! index of each entry in the entry's `driver_data` field, so that the bus glue finds the data of
//! the matched entry without any pointer in the C table.
//!
//! C header: [`include/linux/mod_devicetable.h`](srctree/include/linux/mod_devicetable.h)

use core::mem::{ManuallyDrop, MaybeUninit};

/// Copies `name` and its NUL into the C `char` array of an id entry (a device name, a
/// `compatible` string, an ACPI id), for the `const` constructors of a bus's id types.
///
/// # Panics
///
/// Panics if `name` is empty (the entry would read as the table's terminator) or does not fit
/// the array with its NUL. Id tables are `static`s, so this is a compile-time error there.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, device_id::c_name};
///
/// const NAME: [u8; 8] = c_name(c_str!("edu"));
/// assert_eq!(&NAME, b"edu\0\0\0\0\0");
/// ```
pub const fn c_name<const N: usize>(name: &crate::str::CStr) -> [u8; N] {
    let bytes = name.as_bytes_with_nul();
    assert!(
        bytes.len() > 1,
        "an id name must not be empty: it would end the table"
    );
    assert!(
        bytes.len() <= N,
        "an id name must fit its C field, NUL included"
    );
    let mut out = [0u8; N];
    let mut i = 0;
    while i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// A C device id type whose entries carry an index in a `driver_data` field.
///
/// # Safety
///
/// - `Self` must have the same layout as [`RawDeviceId::RawType`] (a transparent wrapper).
/// - [`RawDeviceId::DRIVER_DATA_OFFSET`] must be the offset of a field of the size and alignment
///   of `usize` within `RawType` (the C `kernel_ulong_t`, or a pointer that no C code
///   dereferences, as the `data` of `struct of_device_id`) that the bus leaves untouched and
///   hands back on a match, and an all-zero `RawType` must be the table terminator.
///
/// # Examples
///
/// ```
/// use kernel::{device_id::{IdArray, RawDeviceId}, pci};
///
/// static TABLE: IdArray<pci::DeviceId, (), 2> = IdArray::new([
///     (pci::DeviceId::from_id(0x1234, 0x11e8), ()),
///     (pci::DeviceId::from_id(0x1234, 0x11e9), ()),
/// ]);
///
/// // SAFETY: The table has two entries, and `pci::DeviceId` wraps its C type transparently.
/// let second = unsafe { &*TABLE.as_ptr().add(1).cast::<pci::DeviceId>() };
/// assert_eq!(second.index(), 1);
/// assert_eq!(second.device(), 0x11e9);
/// ```
pub unsafe trait RawDeviceId {
    /// The C type of an entry.
    type RawType: Copy;

    /// The offset of the `driver_data` field in [`RawDeviceId::RawType`].
    const DRIVER_DATA_OFFSET: usize;

    /// Reads the index stored in an entry of an [`IdArray`].
    fn index(&self) -> usize;
}

/// The C part of an [`IdArray`]: the entries followed by the zeroed terminator.
///
/// # Examples
///
/// ```
/// use kernel::{bindings::pci_device_id, device_id::RawIdArray, pci};
///
/// // Two entries and the terminator, laid out as a C array of three.
/// let size = core::mem::size_of::<RawIdArray<pci::DeviceId, 2>>();
/// assert_eq!(size, 3 * core::mem::size_of::<pci_device_id>());
/// ```
#[repr(C)]
pub struct RawIdArray<T: RawDeviceId, const N: usize> {
    ids: [T::RawType; N],
    sentinel: MaybeUninit<T::RawType>,
}

/// A device id table with driver data of type `U` for each of its `N` entries.
///
/// # Invariants
///
/// The `driver_data` field of entry `i` of `raw` holds `i`, and `raw.sentinel` is all zeroes.
///
/// # Examples
///
/// ```
/// use kernel::{device_id::IdArray, pci};
///
/// static TABLE: IdArray<pci::DeviceId, u32, 2> = IdArray::new([
///     (pci::DeviceId::from_id(0x1234, 0x11e8), 1),
///     (pci::DeviceId::from_id(0x1234, 0x11e9), 2),
/// ]);
///
/// assert_eq!(TABLE.info(1), Some(&2));
/// assert_eq!(TABLE.info(2), None);
/// ```
#[repr(C)]
pub struct IdArray<T: RawDeviceId, U, const N: usize> {
    raw: RawIdArray<T, N>,
    info: [U; N],
}

impl<T: RawDeviceId, U, const N: usize> IdArray<T, U, N> {
    /// Builds the table from its entries and their data; usable in a `static`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device_id::IdArray, pci};
    ///
    /// // A `const fn`, so the table can be a `static`, as the bus needs it.
    /// static TABLE: IdArray<pci::DeviceId, u8, 2> = IdArray::new([
    ///     (pci::DeviceId::from_id(0x1234, 0x11e8), 8),
    ///     (pci::DeviceId::from_class(0xff0000, 0xff0000), 0xff),
    /// ]);
    ///
    /// assert_eq!(TABLE.info(1), Some(&0xff));
    /// ```
    pub const fn new(entries: [(T, U); N]) -> Self {
        let entries = ManuallyDrop::new(entries);
        let mut ids = [MaybeUninit::<T::RawType>::uninit(); N];
        let mut info = [const { MaybeUninit::<U>::uninit() }; N];
        let mut i = 0;
        while i < N {
            // SAFETY: `ManuallyDrop` is transparent and `i < N`, so the pointer is to an entry in
            // bounds; each field of each entry is read exactly once and `entries` is never
            // dropped, so each value is moved out exactly once.
            let entry = unsafe { core::ptr::from_ref(&entries).cast::<(T, U)>().add(i) };
            // SAFETY: As above.
            let id = unsafe { core::ptr::read(&raw const (*entry).0) };
            // SAFETY: As above.
            let data = unsafe { core::ptr::read(&raw const (*entry).1) };
            // SAFETY: By the trait's contract `T` is a transparent wrapper of `T::RawType`.
            let mut raw = unsafe { core::ptr::read(core::ptr::from_ref(&id).cast::<T::RawType>()) };
            core::mem::forget(id);
            // SAFETY: By the trait's contract `DRIVER_DATA_OFFSET` is the offset of a `usize`
            // field within `T::RawType`, so the write is in bounds and aligned.
            unsafe {
                core::ptr::from_mut(&mut raw)
                    .cast::<u8>()
                    .add(T::DRIVER_DATA_OFFSET)
                    .cast::<usize>()
                    .write(i)
            };
            ids[i] = MaybeUninit::new(raw);
            info[i] = MaybeUninit::new(data);
            i += 1;
        }
        // INVARIANT: Entry `i` holds `i` in its driver data; the sentinel is zeroed.
        Self {
            raw: RawIdArray {
                // SAFETY: All `N` elements were initialised in the loop above;
                // `[MaybeUninit<X>; N]` has the layout of `[X; N]`.
                ids: unsafe { core::ptr::read(core::ptr::from_ref(&ids).cast()) },
                sentinel: MaybeUninit::zeroed(),
            },
            // SAFETY: As above, for the data.
            info: unsafe { core::ptr::read(core::ptr::from_ref(&info).cast()) },
        }
    }

    /// Returns the size in bytes of the C table, terminator included.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{bindings::pci_device_id, device_id::IdArray, pci};
    ///
    /// static TABLE: IdArray<pci::DeviceId, (), 2> = IdArray::new([
    ///     (pci::DeviceId::from_id(0x1234, 0x11e8), ()),
    ///     (pci::DeviceId::from_id(0x1234, 0x11e9), ()),
    /// ]);
    ///
    /// assert_eq!(TABLE.raw_size(), 3 * core::mem::size_of::<pci_device_id>());
    /// ```
    pub const fn raw_size(&self) -> usize {
        core::mem::size_of::<RawIdArray<T, N>>()
    }

    /// Returns a copy of the bytes of the C table, terminator included, for
    /// [`module_device_table!`](crate::module_device_table); `BYTES` must be
    /// [`IdArray::raw_size`], or the evaluation fails.
    ///
    /// The bytes are `MaybeUninit`: a C id type may have padding.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use kernel::{device_id::IdArray, pci};
    ///
    /// static TABLE: IdArray<pci::DeviceId, (), 1> =
    ///     IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);
    /// static COPY: [MaybeUninit<u8>; TABLE.raw_size()] = TABLE.raw_bytes();
    ///
    /// // SAFETY: The first two bytes are the vendor id, initialised.
    /// let vendor = unsafe { [COPY[0].assume_init(), COPY[1].assume_init()] };
    /// assert_eq!(u16::from_ne_bytes(vendor), 0x1234);
    /// ```
    pub const fn raw_bytes<const BYTES: usize>(&self) -> [MaybeUninit<u8>; BYTES] {
        assert!(BYTES == core::mem::size_of::<RawIdArray<T, N>>());
        // SAFETY: `self.raw` is `BYTES` bytes long, as just checked, and every byte of it may be
        // read as a `MaybeUninit<u8>`, padding included.
        unsafe { core::ptr::read(core::ptr::from_ref(&self.raw).cast()) }
    }

    /// Returns the data of entry `index`, or `None` if there is no such entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device_id::IdArray, pci};
    ///
    /// static TABLE: IdArray<pci::DeviceId, u32, 1> =
    ///     IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), 7)]);
    ///
    /// assert_eq!(TABLE.info(0), Some(&7));
    /// assert_eq!(TABLE.info(1), None);
    /// ```
    pub const fn info(&self, index: usize) -> Option<&U> {
        if index < N {
            Some(&self.info[index])
        } else {
            None
        }
    }

    /// Returns the zero-terminated C table, for the bus's driver structure.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device_id::IdArray, pci};
    ///
    /// static TABLE: IdArray<pci::DeviceId, (), 1> =
    ///     IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);
    ///
    /// let first = TABLE.as_ptr();
    /// // SAFETY: The table has one entry, followed by the terminator.
    /// let (entry, end) = unsafe { (&*first, &*first.add(1)) };
    /// assert_eq!(entry.device, 0x11e8);
    /// assert_eq!(end.vendor, 0);
    /// ```
    pub const fn as_ptr(&self) -> *const T::RawType {
        core::ptr::from_ref(&self.raw).cast()
    }

    /// Returns the index of the entry that `id` points to, or `None` if `id` does not point to
    /// an entry of this table (the terminator is not an entry).
    ///
    /// `id` is only compared, never read, so any pointer may be passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device_id::IdArray, pci};
    ///
    /// static TABLE: IdArray<pci::DeviceId, (), 2> = IdArray::new([
    ///     (pci::DeviceId::from_id(0x1234, 0x11e8), ()),
    ///     (pci::DeviceId::from_id(0x1234, 0x11e9), ()),
    /// ]);
    ///
    /// let first = TABLE.as_ptr();
    /// assert_eq!(TABLE.index_of(first), Some(0));
    /// assert_eq!(TABLE.index_of(first.wrapping_add(1)), Some(1));
    /// // The terminator, a pointer into the middle of an entry, and a copy elsewhere.
    /// assert_eq!(TABLE.index_of(first.wrapping_add(2)), None);
    /// assert_eq!(TABLE.index_of(first.cast::<u8>().wrapping_add(1).cast()), None);
    /// // SAFETY: The table has an entry 1.
    /// let copy = unsafe { *first.add(1) };
    /// assert_eq!(TABLE.index_of(&copy), None);
    /// ```
    pub fn index_of(&self, id: *const T::RawType) -> Option<usize> {
        let size = core::mem::size_of::<T::RawType>();
        if size == 0 {
            return None;
        }
        // Addresses only: nothing is dereferenced, so unrelated pointers are fine.
        let offset = (id as usize).wrapping_sub(self.as_ptr() as usize);
        if offset % size != 0 || offset / size >= N {
            return None;
        }
        Some(offset / size)
    }

    /// Returns the table as a trait object, for a driver's `ID_TABLE`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device_id::IdArray, pci};
    ///
    /// static TABLE: IdArray<pci::DeviceId, u32, 2> = IdArray::new([
    ///     (pci::DeviceId::from_id(0x1234, 0x11e8), 1),
    ///     (pci::DeviceId::from_id(0x1234, 0x11e9), 2),
    /// ]);
    ///
    /// let table: pci::IdTable<u32> = TABLE.as_table();
    /// assert_eq!(table.info(1), Some(&2));
    /// ```
    pub const fn as_table(&'static self) -> IdTable<T, U>
    where
        T: 'static,
        U: 'static,
    {
        self
    }
}

/// A device id table of any length, as a driver names it in its `ID_TABLE`.
///
/// # Examples
///
/// ```
/// use kernel::{device_id::{IdArray, IdTable}, pci};
///
/// static ONE: IdArray<pci::DeviceId, (), 1> =
///     IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);
/// static TWO: IdArray<pci::DeviceId, (), 2> = IdArray::new([
///     (pci::DeviceId::from_id(0x1234, 0x11e8), ()),
///     (pci::DeviceId::from_id(0x1234, 0x11e9), ()),
/// ]);
///
/// // Tables of different lengths have the same type.
/// let tables: [IdTable<pci::DeviceId, ()>; 2] = [&ONE, &TWO];
/// assert!(tables[0].info(1).is_none());
/// assert!(tables[1].info(1).is_some());
/// ```
pub type IdTable<T, U> = &'static dyn IdInfo<T, U>;

mod private {
    /// Implemented only by [`super::IdArray`], so that no other type can be an id table.
    pub trait Sealed {}
}

impl<T: RawDeviceId, U, const N: usize> private::Sealed for IdArray<T, U, N> {}

/// The length-erased view of an [`IdArray`] that bus glue uses.
///
/// The C bus code walks the table that [`IdInfo::as_ptr`] returns until it finds the
/// terminator, so the pointer must be a zero-terminated table that lives for as long as the
/// driver is registered. Only [`IdArray`] can promise that: the trait is sealed, and drivers
/// name an `IdArray` as their table.
///
/// # Examples
///
/// ```
/// use kernel::{device_id::IdArray, pci};
///
/// static TABLE: IdArray<pci::DeviceId, &str, 1> =
///     IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), "edu")]);
///
/// let table: kernel::device_id::IdTable<pci::DeviceId, &str> = TABLE.as_table();
/// assert!(!table.as_ptr().is_null());
/// assert_eq!(table.info(0), Some(&"edu"));
/// ```
pub trait IdInfo<T: RawDeviceId, U>: private::Sealed {
    /// Returns the zero-terminated C table.
    fn as_ptr(&self) -> *const T::RawType;

    /// Returns the data of the entry whose index the bus handed back, `None` if out of bounds.
    fn info(&self, index: usize) -> Option<&U>;

    /// Returns the index of the entry `id` points to, `None` if it points to none of the
    /// table's entries; see [`IdArray::index_of`].
    fn index_of(&self, id: *const T::RawType) -> Option<usize>;
}

impl<T: RawDeviceId, U, const N: usize> IdInfo<T, U> for IdArray<T, U, N> {
    fn as_ptr(&self) -> *const T::RawType {
        IdArray::as_ptr(self)
    }

    fn info(&self, index: usize) -> Option<&U> {
        IdArray::info(self, index)
    }

    fn index_of(&self, id: *const T::RawType) -> Option<usize> {
        IdArray::index_of(self, id)
    }
}

// SAFETY: The C table is plain data that is only ever read; the data is shared only as `&U`.
unsafe impl<T: RawDeviceId, U: Sync, const N: usize> Sync for IdArray<T, U, N> {}

/// Returns [`IdArray::raw_size`] of `table`, a table of `T` ids: for
/// [`module_device_table!`](crate::module_device_table), which names the id type of the bus.
///
/// # Examples
///
/// ```
/// use core::marker::PhantomData;
/// use kernel::{bindings::pci_device_id, device_id::{raw_size_of, IdArray}, pci};
///
/// static TABLE: IdArray<pci::DeviceId, (), 1> =
///     IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);
///
/// let size = raw_size_of(PhantomData::<pci::DeviceId>, &TABLE);
/// assert_eq!(size, 2 * core::mem::size_of::<pci_device_id>());
/// ```
pub const fn raw_size_of<T: RawDeviceId, U, const N: usize>(
    _id: core::marker::PhantomData<T>,
    table: &IdArray<T, U, N>,
) -> usize {
    table.raw_size()
}

/// Gives a loadable module the aliases of a device id table, as the C `MODULE_DEVICE_TABLE`
/// does, so that `modprobe` of a device's `modalias` loads the module.
///
/// `$bus` is the bus module whose `DeviceId` the table holds (`pci`), which is also the C
/// table type that `modpost` reads (`scripts/mod/file2alias.c`); `$table` is the driver's
/// [`IdArray`] static, the one its `ID_TABLE` names. The macro places a copy of the C table under
/// the symbol `__mod_<bus>__<table>_device_table`, from which `modpost` writes one
/// `MODULE_ALIAS` per entry into the module: the aliases follow the table. Built into the kernel
/// it emits nothing, as in C; a table of another bus's ids does not build.
///
/// # Examples
///
/// ```
/// use kernel::{device_id::IdArray, pci};
///
/// static TABLE: IdArray<pci::DeviceId, (), 1> =
///     IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);
///
/// // The module carries the alias "pci:v00001234d000011E8sv*sd*bc*sc*i*".
/// kernel::module_device_table!(pci, TABLE);
/// ```
#[macro_export]
macro_rules! module_device_table {
    ($bus:ident, $table:ident) => {
        const _: () = {
            // The table is one of the bus's ids, also where nothing is emitted.
            const SIZE: usize = $crate::device_id::raw_size_of(
                ::core::marker::PhantomData::<$crate::$bus::DeviceId>,
                &$table,
            );

            #[cfg(MODULE)]
            #[used]
            #[export_name = concat!(
                        "__mod_", stringify!($bus), "__", stringify!($table), "_device_table"
                    )]
            static ALIASES: [::core::mem::MaybeUninit<u8>; SIZE] = $table.raw_bytes();
        };
    };
}
