// SPDX-License-Identifier: GPL-2.0

//! Platform devices and drivers.
//!
//! A platform driver implements [`Driver`]: an id table of device names, optionally an [`of`]
//! table of `compatible` strings and an [`acpi`] table of hardware ids, `probe` and optionally
//! `remove`, and is registered with [`module_platform_driver!`](crate::module_platform_driver).
//! Registration and the shape of `probe` and `remove` are those of every bus (see [`driver`]):
//! `probe` receives the device as a [`&Device<Core>`](Device) and the data of the matched table
//! entry, and returns the driver's data, which the bus keeps until the device is unbound, lends
//! to `remove`, and drops at the end of the unbind, after the driver's managed resources.
//!
//! A platform device describes its registers and interrupts as resources: [`Device::resource`]
//! reads a memory resource, [`Device::ioremap_resource_sized`] requests and maps one, and
//! [`Device::irq`] looks up an interrupt line.
//!
//! # Unbinding and DMA
//!
//! The platform bus has no switch that stops a device's DMA (PCI has bus mastering): when
//! `remove` returns, or `probe` fails, the glue stops the binding's interrupt handlers and bound
//! work as on every bus, but it can not fence the device. The driver core then releases the
//! managed resources, DMA memory and mappings among them. A driver whose device masters DMA must
//! therefore stop it itself, in `remove` and on the error paths of `probe`, before the memory the
//! device writes is released; the glue can not catch a driver that forgets.
//!
//! C header: [`include/linux/platform_device.h`](srctree/include/linux/platform_device.h)
//!
//! # Examples
//!
//! ```
//! use kernel::{c_str, device::Core, device_id::IdArray, devres::Devres, of, platform};
//!
//! struct SampleDriver {
//!     regs: Devres<platform::IoMem<0x100>>,
//! }
//!
//! static IDS: IdArray<platform::DeviceId, u32, 1> =
//!     IdArray::new([(platform::DeviceId::new(c_str!("sample-timer")), 1)]);
//! static OF_IDS: IdArray<of::DeviceId, u32, 1> =
//!     IdArray::new([(of::DeviceId::new(c_str!("vendor,sample-timer")), 2)]);
//!
//! impl platform::Driver for SampleDriver {
//!     type IdInfo = u32;
//!     const ID_TABLE: platform::IdTable<u32> = &IDS;
//!     const OF_ID_TABLE: Option<of::IdTable<u32>> = Some(&OF_IDS);
//!
//!     fn probe(pdev: &platform::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
//!         let regs = pdev.ioremap_resource_sized::<0x100>(0)?;
//!         let version = regs.access(pdev.as_ref())?.read32::<0x00>();
//!         kernel::dev_info!(pdev, "version {:#x}, entry {:?}\n", version, info);
//!         Ok(KBox::pin(SampleDriver { regs }, GFP_KERNEL)?)
//!     }
//! }
//! ```

use crate::{
    acpi,
    alloc::{flags::GFP_KERNEL, KBox},
    bindings, device,
    device::{Bound, Core, DeviceContext, Normal, RawDevice},
    device_id::{self, RawDeviceId},
    devres::Devres,
    driver,
    error::{code::*, to_result, Result},
    ffi::c_ulong,
    io::{Io, IoRaw},
    of,
    str::CStr,
    types::{ARef, AlwaysRefCounted, Opaque},
    ThisModule,
};
use core::{marker::PhantomData, ops::Deref, pin::Pin, ptr};

mod irq;

#[cfg(all(
    CONFIG_RUST_DRIVER_CORE_KUNIT_TEST,
    CONFIG_PCI,
    CONFIG_HAS_DMA,
    CONFIG_IOMMU_IO_PGTABLE
))]
mod tests;

/// An entry of a platform device id table: the C `struct platform_device_id`, which matches a
/// device by its name.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, platform::DeviceId};
///
/// const TIMER: DeviceId = DeviceId::new(c_str!("sample-timer"));
/// assert_eq!(TIMER.name().as_bytes(), b"sample-timer");
/// ```
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::platform_device_id);

impl DeviceId {
    /// An entry that matches the devices named `name`.
    ///
    /// # Panics
    ///
    /// Panics if `name` is empty or longer than 19 bytes (`PLATFORM_NAME_SIZE` with the NUL); in
    /// a `static` table that is a compile-time error.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, device_id::IdArray, platform::DeviceId};
    ///
    /// // Nineteen bytes is the longest name; a twentieth would not build here.
    /// static TABLE: IdArray<DeviceId, (), 1> =
    ///     IdArray::new([(DeviceId::new(c_str!("nineteen-bytes-name")), ())]);
    /// assert!(TABLE.info(0).is_some());
    /// ```
    pub const fn new(name: &'static CStr) -> Self {
        Self(bindings::platform_device_id {
            name: device_id::c_name(name),
            driver_data: 0,
        })
    }

    /// Returns the device name this entry matches.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, platform::DeviceId};
    ///
    /// assert_eq!(DeviceId::new(c_str!("serial8250")).name().as_bytes(), b"serial8250");
    /// ```
    pub fn name(&self) -> &CStr {
        // SAFETY: `new` leaves a NUL within the array, which lives as long as `self`.
        unsafe { CStr::from_char_ptr(self.0.name.as_ptr()) }
    }
}

// SAFETY: `DeviceId` is a transparent wrapper of `struct platform_device_id`, whose
// `driver_data` is a `kernel_ulong_t` that the platform core never writes; it points the device's
// `id_entry` at the matching entry of the table itself. A table ends with an all-zero entry
// (`platform_match_id()` stops at an empty name, which `new` refuses).
unsafe impl RawDeviceId for DeviceId {
    type RawType = bindings::platform_device_id;

    const DRIVER_DATA_OFFSET: usize =
        core::mem::offset_of!(bindings::platform_device_id, driver_data);

    fn index(&self) -> usize {
        self.0.driver_data
    }
}

/// A platform device id table with driver data of type `U`, as a driver names it in
/// [`Driver::ID_TABLE`].
///
/// # Examples
///
/// ```
/// use kernel::{c_str, device_id::IdArray, platform};
///
/// static TABLE: IdArray<platform::DeviceId, u32, 2> = IdArray::new([
///     (platform::DeviceId::new(c_str!("sample-timer")), 1),
///     (platform::DeviceId::new(c_str!("sample-timer2")), 2),
/// ]);
///
/// let table: platform::IdTable<u32> = &TABLE;
/// assert_eq!(table.info(1), Some(&2));
/// ```
pub type IdTable<U> = device_id::IdTable<DeviceId, U>;

/// A platform driver.
///
/// The implementing type is the driver's data: what `probe` returns is kept until the device is
/// unbound.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, device::Core, device_id::IdArray, platform};
///
/// struct Sample;
///
/// static TABLE: IdArray<platform::DeviceId, u32, 1> =
///     IdArray::new([(platform::DeviceId::new(c_str!("sample-timer")), 42)]);
///
/// impl platform::Driver for Sample {
///     type IdInfo = u32;
///     const ID_TABLE: platform::IdTable<u32> = &TABLE;
///
///     fn probe(pdev: &platform::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
///         match info {
///             Some(data) => kernel::dev_info!(pdev, "matched entry data {}\n", data),
///             // Bound by `driver_override`: the device matched no entry.
///             None => kernel::dev_info!(pdev, "bound by driver_override\n"),
///         }
///         Ok(KBox::pin(Sample, GFP_KERNEL)?)
///     }
///
///     fn remove(pdev: &platform::Device<Core>, _this: Pin<&Self>) {
///         kernel::dev_info!(pdev, "unbinding\n");
///     }
/// }
/// ```
///
/// See also the [module documentation](self).
pub trait Driver: Send + Sync + 'static {
    /// The data attached to each entry of the driver's tables.
    type IdInfo: 'static;

    /// The devices this driver binds to, by name.
    ///
    /// With an empty table the bus matches the devices named as the driver is registered, as it
    /// does for a C driver without an id table.
    const ID_TABLE: IdTable<Self::IdInfo>;

    /// The device tree nodes this driver binds to; used only with `CONFIG_OF`.
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = None;

    /// The ACPI devices this driver binds to; used only with `CONFIG_ACPI`.
    const ACPI_ID_TABLE: Option<acpi::IdTable<Self::IdInfo>> = None;

    /// Binds the driver to `dev`.
    ///
    /// `id_info` is the data of the entry that `dev` matches, looked up in the order the bus
    /// matches: the OF table, the ACPI table, then the id table. It is `None` when the device
    /// matches none of them: it was bound because its `driver_override` names this driver, or by
    /// the driver's name (with an empty [`Driver::ID_TABLE`]), or through an ACPI `PRP0001`
    /// node's `compatible` property, which the OF table matched but no entry can be found for.
    ///
    /// Runs with the device lock held. What it returns is the driver's data for this device. If
    /// it fails, the device's managed resources are released: a device that masters DMA must
    /// have been stopped by then, since the bus can not stop it (see the [module
    /// documentation](self)).
    fn probe(dev: &Device<Core>, id_info: Option<&Self::IdInfo>) -> Result<Pin<KBox<Self>>>;

    /// Unbinds the driver from `dev`.
    ///
    /// Runs with the device lock held; interrupt handlers and bound work still run. The default
    /// does nothing. When it returns, the interrupt lines of the binding are masked and its bound
    /// work disabled, each waited for; then the managed resources of the binding are released,
    /// and `this` is dropped last. The bus has no DMA fence: a device that masters DMA must be
    /// stopped here, and `Drop` of the driver data can not use it.
    fn remove(dev: &Device<Core>, this: Pin<&Self>) {
        let _ = (dev, this);
    }
}

/// The [`driver::RegistrationOps`] of platform drivers: registers a `struct platform_driver`
/// whose callbacks call `T`'s.
///
/// # Examples
///
/// ```
/// use kernel::{driver::Registration, platform};
///
/// fn registration<T: platform::Driver>(
///     module: &'static ThisModule,
/// ) -> impl PinInit<Registration<platform::Adapter<T>>, Error> {
///     Registration::new(kernel::c_str!("sample"), module)
/// }
/// ```
///
/// See also [`driver::Registration`].
pub struct Adapter<T: Driver>(PhantomData<T>);

// SAFETY: `__platform_driver_register()` is `driver_register()`, which fails without leaving the
// driver registered; `platform_driver_unregister()` is `driver_unregister()`, which returns only
// after every device is unbound (remove has returned).
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    type RegType = bindings::platform_driver;

    unsafe fn register(
        reg: &Opaque<Self::RegType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        let pdrv = reg.get();
        let ids = T::ID_TABLE.as_ptr();
        // SAFETY: An id table is zero-terminated, so it has at least its terminator.
        let empty = unsafe { (*ids).name[0] } == 0;
        // SAFETY: By the caller's contract `pdrv` is a default-initialised, pinned
        // `struct platform_driver` that nothing else accesses until it is registered.
        unsafe {
            (*pdrv).driver.name = name.as_char_ptr();
            (*pdrv).probe = Some(Self::probe_callback);
            (*pdrv).__bindgen_anon_1.remove = Some(Self::remove_callback);
            // The bus matches by name the drivers without an id table.
            (*pdrv).id_table = if empty { ptr::null() } else { ids };
            #[cfg(CONFIG_OF)]
            {
                (*pdrv).driver.of_match_table = T::OF_ID_TABLE.map_or(ptr::null(), |t| t.as_ptr());
            }
            #[cfg(CONFIG_ACPI)]
            {
                (*pdrv).driver.acpi_match_table =
                    T::ACPI_ID_TABLE.map_or(ptr::null(), |t| t.as_ptr());
            }
        }
        // SAFETY: `pdrv` is valid and fully set up; `name` and the tables are `'static`.
        to_result(unsafe { bindings::__platform_driver_register(pdrv, module.as_ptr()) })
    }

    unsafe fn unregister(reg: &Opaque<Self::RegType>) {
        // SAFETY: By the caller's contract `reg` is registered.
        unsafe { bindings::platform_driver_unregister(reg.get()) }
    }
}

/// Returns the data of the entry of `table` that `id` points to, if it points into it.
fn entry<I: RawDeviceId + 'static, U: 'static>(
    table: device_id::IdTable<I, U>,
    id: *const I::RawType,
) -> Option<&'static U> {
    let index = table.index_of(id)?;
    table.info(index)
}

impl<T: Driver> Adapter<T> {
    /// Returns the data of the entry that `pdev` matches, in the order of `platform_match()`.
    ///
    /// The OF and ACPI cores return the matching entry of the table they are given. The
    /// platform core points the device's `id_entry` at the entry of the first id table its name
    /// matched, of whichever driver that was: only a pointer into our own table is an entry, and
    /// then its name is the device's (which never changes). The platform core writes the field
    /// while matching the device against any driver, which `driver_attach()` does without the
    /// device lock, so it is read once, with a volatile read of the aligned pointer.
    ///
    /// # Safety
    ///
    /// `pdev` must be valid for the length of the call.
    unsafe fn id_info(pdev: *mut bindings::platform_device) -> Option<&'static T::IdInfo> {
        // SAFETY: By the function's contract `pdev` is valid; this only computes an address.
        let dev = unsafe { &raw const (*pdev).dev };
        #[cfg(CONFIG_OF)]
        if let Some(table) = T::OF_ID_TABLE {
            // SAFETY: `dev` is valid, and the table is zero-terminated and `'static`.
            let id = unsafe { bindings::of_match_device(table.as_ptr(), dev) };
            if let Some(info) = entry(table, id) {
                return Some(info);
            }
        }
        #[cfg(CONFIG_ACPI)]
        if let Some(table) = T::ACPI_ID_TABLE {
            // SAFETY: As above.
            let id = unsafe { bindings::acpi_match_device(table.as_ptr(), dev) };
            if let Some(info) = entry(table, id) {
                return Some(info);
            }
        }
        let _ = dev;
        // SAFETY: `pdev` is valid; the field is an aligned pointer (see above for the volatile).
        let id = unsafe { ptr::read_volatile(&raw const (*pdev).id_entry) };
        entry(T::ID_TABLE, id)
    }

    extern "C" fn probe_callback(pdev: *mut bindings::platform_device) -> core::ffi::c_int {
        // SAFETY: The platform core passes a valid device; this only computes a field's address.
        let raw_dev = unsafe { &raw mut (*pdev).dev };
        let probe = || {
            // SAFETY: `probe_device` installed the driver data: `pdev` is valid, bound (to us)
            // and locked for the call.
            let dev = unsafe { Device::<Core>::from_raw(pdev) };
            // SAFETY: `pdev` is valid for the call.
            let info = unsafe { Self::id_info(pdev) };
            T::probe(dev, info)
        };
        // SAFETY: The platform core calls `probe` with a valid device that is being bound, with
        // the device lock held, and calls `remove` only after a successful probe. The bus has
        // no DMA fence (see the module documentation).
        unsafe { driver::probe_device::<T>(raw_dev, probe, || {}) }
    }

    extern "C" fn remove_callback(pdev: *mut bindings::platform_device) {
        // SAFETY: The platform core calls `remove` with a valid device, bound to us, with the
        // device lock held.
        let dev = unsafe { Device::<Core>::from_raw(pdev) };
        // SAFETY: As just said; the device was bound by `probe_device` for `T`. No DMA fence.
        unsafe {
            driver::remove_device::<T>(&raw mut (*pdev).dev, |data| T::remove(dev, data), || {})
        }
    }
}

/// Declares a kernel module that registers a platform driver while it is loaded.
///
/// # Examples
///
/// ```ignore
/// kernel::module_platform_driver! {
///     type: MyDriver,
///     name: "my_driver",
///     author: "Jane Doe",
///     description: "A platform driver",
///     license: "GPL v2",
/// }
/// ```
#[macro_export]
macro_rules! module_platform_driver {
    ($($f:tt)*) => {
        $crate::module_driver!(<T>, $crate::platform::Adapter<T>, { $($f)* });
    };
}

/// A platform device, in context `Ctx` (see [`device`]).
///
/// # Invariants
///
/// `self.0` is a valid `struct platform_device`, and its embedded `struct device` satisfies the
/// invariants of [`device::Device<Ctx>`], for as long as a reference to `self` exists.
///
/// # Examples
///
/// ```
/// use kernel::{platform, types::ARef};
///
/// // A counted reference may be kept anywhere, for instance beyond the binding.
/// fn keep(pdev: &platform::Device) -> ARef<platform::Device> {
///     pdev.into()
/// }
/// ```
#[repr(transparent)]
pub struct Device<Ctx: DeviceContext = Normal>(Opaque<bindings::platform_device>, PhantomData<Ctx>);

impl<Ctx: DeviceContext> Device<Ctx> {
    /// Borrows an existing `struct platform_device` in context `Ctx`.
    ///
    /// # Safety
    ///
    /// The same as for [`device::Device::from_raw`], for the `struct device` embedded in the
    /// `struct platform_device` that `ptr` points to.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Core}, platform};
    ///
    /// fn to_bound(pdev: &platform::Device<Core>) -> &platform::Device<Bound> {
    ///     // SAFETY: A core reference guarantees all that a bound one does, for as long.
    ///     unsafe { platform::Device::<Bound>::from_raw(pdev.as_raw()) }
    /// }
    /// ```
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::platform_device) -> &'a Self {
        // INVARIANT: Guaranteed by the caller.
        // SAFETY: `Device` is a transparent wrapper of `struct platform_device`.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct platform_device` pointer.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::platform;
    ///
    /// fn same_device(a: &platform::Device, b: &platform::Device) -> bool {
    ///     a.as_raw() == b.as_raw()
    /// }
    /// ```
    pub fn as_raw(&self) -> *mut bindings::platform_device {
        self.0.get()
    }

    /// Returns the name of the device, the one that id tables match (`pdev->name`); the
    /// device's own name ([`device::Device::name`]) may add an instance number.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::platform;
    ///
    /// fn is_timer(pdev: &platform::Device) -> bool {
    ///     pdev.name().as_bytes() == b"sample-timer"
    /// }
    /// ```
    pub fn name(&self) -> &CStr {
        // `name` is set before the device is added and never changed: it points to storage
        // allocated with the device or, for devices made from a device tree node, to the
        // device's name, both freed when the device is released. No caller of
        // `device_rename()` renames a platform device.
        // SAFETY: `self.as_raw()` is valid (type invariant), and so is `name` (see above), for
        // as long as the reference that `&self` proves holds off the release.
        unsafe { CStr::from_char_ptr((*self.as_raw()).name) }
    }
}

/// A memory resource of a platform device (`IORESOURCE_MEM`), as plain values.
///
/// # Examples
///
/// ```
/// use kernel::{device::Bound, platform};
///
/// fn log_regs(pdev: &platform::Device<Bound>) -> Result {
///     let res = pdev.resource(0)?;
///     kernel::dev_info!(pdev, "registers at {:#x}, {} bytes\n", res.start, res.size);
///     Ok(())
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource {
    /// The physical address of the first byte.
    pub start: bindings::resource_size_t,
    /// The length in bytes (`resource_size()`).
    pub size: bindings::resource_size_t,
    /// The `IORESOURCE_*` flags.
    pub flags: c_ulong,
}

impl Device<Bound> {
    /// Returns the memory resource number `index` (counting memory resources only), as
    /// `platform_get_resource(pdev, IORESOURCE_MEM, index)` finds it.
    ///
    /// Fails with [`EINVAL`] if the device has no such resource, the error that
    /// `devm_platform_ioremap_resource()` returns for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, platform};
    ///
    /// fn has_regs(pdev: &platform::Device<Bound>) -> Result<bool> {
    ///     Ok(pdev.resource(0)?.size >= 0x100)
    /// }
    /// ```
    pub fn resource(&self, index: u32) -> Result<Resource> {
        // SAFETY: `self.as_raw()` is valid (type invariant); the function only walks the
        // device's resource array, which is fixed before the device is added.
        let res = unsafe {
            bindings::platform_get_resource(self.as_raw(), bindings::IORESOURCE_MEM, index)
        };
        if res.is_null() {
            return Err(EINVAL);
        }
        // SAFETY: `res` is an element of the device's resource array, which lives as long as the
        // device; its address and flags are set before the device is added and never changed.
        let (start, end, flags) = unsafe { ((*res).start, (*res).end, (*res).flags) };
        Ok(Resource {
            start,
            // `resource_size()`, which wraps for an empty resource (`end == start - 1`) to 0.
            size: end.wrapping_sub(start).wrapping_add(1),
            flags,
        })
    }

    /// Requests the memory resource number `index` for the driver and maps all of it; it must
    /// be at least `SIZE` bytes long.
    ///
    /// The mapping is held in a [`Devres`]: it is unmapped and released when the driver is
    /// unbound at the latest, and no MMIO access through it is possible after that (the C
    /// `devm_platform_ioremap_resource()` leaves the driver a plain pointer that outlives its
    /// unmap at unbind).
    ///
    /// Fails with [`EINVAL`] if there is no such resource, if it is empty or shorter than
    /// `SIZE`, or if it must be mapped non-posted (`IORESOURCE_MEM_NONPOSTED`, not supported),
    /// with [`EBUSY`] if another driver (or another mapping of this one) holds the region, and
    /// with [`ENOMEM`] if it can not be mapped. May sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, platform};
    ///
    /// fn read_version(pdev: &platform::Device<Bound>) -> Result<u32> {
    ///     let regs = pdev.ioremap_resource_sized::<0x100>(0)?;
    ///     // The region is ours now: a second request is refused.
    ///     assert_eq!(pdev.ioremap_resource_sized::<4>(0).err(), Some(EBUSY));
    ///     Ok(regs.access(pdev.as_ref())?.read32::<0x00>())
    /// }
    /// ```
    pub fn ioremap_resource_sized<const SIZE: usize>(
        &self,
        index: u32,
    ) -> Result<Devres<IoMem<SIZE>>> {
        crate::might_sleep!();
        let io = IoMem::new(self, index)?;
        Devres::new(self.as_ref(), io, GFP_KERNEL)
    }
}

// The contexts deref down to the normal device, like those of `device::Device`.
impl Deref for Device<Core> {
    type Target = Device<Bound>;

    fn deref(&self) -> &Self::Target {
        // SAFETY: A core reference guarantees everything a bound one does.
        unsafe { Device::from_raw(self.as_raw()) }
    }
}

impl Deref for Device<Bound> {
    type Target = Device;

    fn deref(&self) -> &Self::Target {
        // SAFETY: A bound reference guarantees everything a normal one does.
        unsafe { Device::from_raw(self.as_raw()) }
    }
}

impl<Ctx: DeviceContext> AsRef<device::Device<Ctx>> for Device<Ctx> {
    fn as_ref(&self) -> &device::Device<Ctx> {
        // SAFETY: By the type invariant the embedded `struct device` satisfies the invariants of
        // `device::Device<Ctx>` for as long as `self` is borrowed.
        unsafe { device::Device::from_raw(self.raw_device()) }
    }
}

// SAFETY: The embedded `struct device` is valid and counted while `self` is borrowed.
unsafe impl<Ctx: DeviceContext> RawDevice for Device<Ctx> {
    fn raw_device(&self) -> *mut bindings::device {
        // SAFETY: `self.as_raw()` is valid by the type invariant; this only computes the address
        // of a field.
        unsafe { ptr::addr_of_mut!((*self.as_raw()).dev) }
    }
}

// SAFETY: `get_device()` and `put_device()` count the embedded `struct device`, whose release
// frees the platform device (there is no `platform_device_get()`; `platform_device_put()` is
// `put_device()`). Only normal devices are counted; bound and core references must not outlive
// their callback.
unsafe impl AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: The existence of `&self` guarantees a non-zero count.
        unsafe { bindings::get_device(self.raw_device()) };
    }

    unsafe fn dec_ref(obj: ptr::NonNull<Self>) {
        let pdev = obj.cast::<bindings::platform_device>().as_ptr();
        // SAFETY: The caller guarantees a non-zero count; `Device` wraps `struct platform_device`
        // transparently, so `pdev` is valid and this is its embedded `struct device`.
        unsafe { bindings::put_device(&raw mut (*pdev).dev) }
    }
}

// SAFETY: As for `device::Device`: a normal platform device may be used and released from any
// thread.
unsafe impl Send for Device {}

// SAFETY: The methods of a normal platform device read only data fixed before the device was
// added.
unsafe impl Sync for Device {}

/// A requested and mapped memory resource of a platform device, of at least `SIZE` bytes; derefs
/// to [`Io<SIZE>`].
///
/// Dropping it unmaps and releases the region. Drivers get it inside a [`Devres`] from
/// [`Device::ioremap_resource_sized`], so that it is dropped at unbind at the latest.
///
/// # Invariants
///
/// `io` describes the live mapping (`ioremap()`) of the `size` bytes at `start`, memory
/// resource `index` of `_pdev`, which were requested with `request_mem_region()` under the name
/// of `_pdev`.
///
/// # Examples
///
/// ```
/// use kernel::{device::Bound, platform};
///
/// fn status(pdev: &platform::Device<Bound>) -> Result<u32> {
///     let regs = pdev.ioremap_resource_sized::<0x100>(0)?;
///     let regs = regs.access(pdev.as_ref())?;
///     // An offset beyond 0x100 would not build; a run-time offset is checked.
///     Ok(regs.read32::<0x04>() ^ regs.try_read32(0x08)?)
/// }
/// ```
pub struct IoMem<const SIZE: usize = 0> {
    /// Keeps the device, whose name the request uses, until the region is released.
    _pdev: ARef<Device>,
    io: IoRaw<SIZE>,
    start: bindings::resource_size_t,
    size: bindings::resource_size_t,
    index: u32,
}

impl<const SIZE: usize> IoMem<SIZE> {
    fn new(pdev: &Device<Bound>, index: u32) -> Result<Self> {
        let res = pdev.resource(index)?;
        if res.flags & bindings::IORESOURCE_MEM_NONPOSTED as c_ulong != 0 {
            return Err(EINVAL);
        }
        let len = usize::try_from(res.size).map_err(|_| EINVAL)?;
        if len == 0 || len < SIZE {
            return Err(EINVAL);
        }
        // SAFETY: `pdev` is valid. Its name lives until the device is released, which the
        // reference that `Self` keeps holds off until after the region is released in `drop`;
        // platform devices are never renamed.
        let name = unsafe { bindings::dev_name(pdev.raw_device()) };
        // SAFETY: A request of a range of the physical address space, under `name` (see above).
        let region = unsafe { bindings::request_mem_region(res.start, res.size, name) };
        if region.is_null() {
            return Err(EBUSY);
        }
        // SAFETY: The range is device memory that was just requested for us.
        let addr = unsafe { bindings::ioremap(res.start, len) };
        if addr.is_null() {
            // SAFETY: Undoes the request above.
            unsafe { bindings::release_mem_region(res.start, res.size) };
            return Err(ENOMEM);
        }
        let io = match IoRaw::new(addr as usize, len) {
            Ok(io) => io,
            Err(e) => {
                // SAFETY: Undoes the mapping and the request above.
                unsafe {
                    bindings::iounmap(addr);
                    bindings::release_mem_region(res.start, res.size);
                }
                return Err(e);
            }
        };
        // INVARIANT: `addr` maps all `len` bytes of the requested resource `index`.
        Ok(Self {
            _pdev: (&**pdev).into(),
            io,
            start: res.start,
            size: res.size,
            index,
        })
    }

    /// Returns the number of the memory resource.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, platform};
    ///
    /// fn map_second(pdev: &platform::Device<Bound>) -> Result {
    ///     let regs = pdev.ioremap_resource_sized::<0x10>(1)?;
    ///     assert_eq!(regs.access(pdev.as_ref())?.index(), 1);
    ///     Ok(())
    /// }
    /// ```
    pub fn index(&self) -> u32 {
        self.index
    }
}

impl<const SIZE: usize> Deref for IoMem<SIZE> {
    type Target = Io<SIZE>;

    fn deref(&self) -> &Self::Target {
        // SAFETY: By the type invariant the mapping is live until `self` is dropped.
        unsafe { Io::from_raw(&self.io) }
    }
}

impl<const SIZE: usize> Drop for IoMem<SIZE> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the mapping and the request are ours to undo, once.
        unsafe {
            bindings::iounmap(self.io.addr() as _);
            bindings::release_mem_region(self.start, self.size);
        }
    }
}

// SAFETY: MMIO accessors may be used from any thread; the region is released from any thread.
unsafe impl<const SIZE: usize> Send for IoMem<SIZE> {}

// SAFETY: All accessors take `&self` and are single MMIO instructions.
unsafe impl<const SIZE: usize> Sync for IoMem<SIZE> {}
