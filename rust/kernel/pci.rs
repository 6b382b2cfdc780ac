// SPDX-License-Identifier: GPL-2.0

//! PCI devices and drivers.
//!
//! A PCI driver implements [`Driver`]: an id table, `probe` and optionally `remove`, and is
//! registered with [`module_pci_driver!`](crate::module_pci_driver). `probe` receives the
//! device as a [`&Device<Core>`](Device) and the data of the matched table entry (`None` when
//! the device was bound through `driver_override` without matching any entry), and returns the
//! driver's data, which the bus keeps until the device is unbound: `remove` sees it, interrupt
//! handlers and bound work reach it through [`device::Device::drvdata`], and it is dropped at the
//! end of the unbind, after the driver's managed resources.
//!
//! # Unbinding and DMA
//!
//! When `remove` returns (or `probe` fails), the glue turns bus mastering off
//! (`pci_clear_master()`) before the driver core releases the device's managed resources and
//! then drops the driver data: a device that the driver did not stop can no longer write memory
//! that is freed from then on. From that point the devres actions and the driver data's `Drop`
//! can not use the device's DMA. The fence covers only DMA that the device masters
//! itself on its PCI function; see `Documentation/rust/driver-core.rst` for what it does not
//! cover.
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)
//!
//! # Examples
//!
//! ```
//! use kernel::{device::Core, device_id::IdArray, devres::Devres, pci};
//!
//! struct SampleDriver {
//!     bar: Devres<pci::Bar<0x100>>,
//! }
//!
//! static TABLE: IdArray<pci::DeviceId, (), 1> =
//!     IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);
//!
//! impl pci::Driver for SampleDriver {
//!     type IdInfo = ();
//!     const ID_TABLE: pci::IdTable<()> = &TABLE;
//!
//!     fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
//!         pdev.enable_device_mem()?;
//!         pdev.set_master();
//!         let bar = pdev.iomap_region_sized::<0x100>(0, kernel::c_str!("sample"))?;
//!         kernel::dev_info!(pdev, "id {:#x}\n", bar.access(pdev.as_ref())?.read32::<0x00>());
//!         Ok(KBox::pin(SampleDriver { bar }, GFP_KERNEL)?)
//!     }
//! }
//! ```

use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings, device,
    device::{Bound, Core, DeviceContext, Normal, RawDevice},
    device_id::{self, RawDeviceId},
    devres::Devres,
    driver,
    error::{code::*, to_result, Result},
    io::{Io, IoRaw},
    str::CStr,
    types::{ARef, AlwaysRefCounted, Opaque},
    ThisModule,
};
use core::{marker::PhantomData, ops::Deref, pin::Pin, ptr};

mod config;

pub use config::{ConfigKind, ConfigSpace, Extended, Standard, CFG_SPACE_EXP_SIZE, CFG_SPACE_SIZE};

#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
mod bad_inputs;
#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
mod config_tests;
#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
pub(crate) mod testing;
#[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
mod tests;

/// An entry of a PCI device id table: the C `struct pci_device_id`.
///
/// # Examples
///
/// ```
/// use kernel::pci::DeviceId;
///
/// let edu = DeviceId::from_id(0x1234, 0x11e8);
/// assert_eq!(edu.vendor(), 0x1234);
/// assert_eq!(edu.device(), 0x11e8);
/// ```
#[repr(transparent)]
#[derive(Clone, Copy)]
pub struct DeviceId(bindings::pci_device_id);

/// Matches any vendor, device, subvendor or subdevice id (the C `PCI_ANY_ID`).
///
/// # Examples
///
/// ```
/// use kernel::pci;
///
/// assert_eq!(pci::ANY_ID, 0xffff_ffff);
/// assert_eq!(pci::DeviceId::from_class(0xff0000, 0xff0000).vendor(), pci::ANY_ID);
/// ```
pub const ANY_ID: u32 = !0;

impl DeviceId {
    /// An entry that matches a vendor and device id, with any subsystem ids.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci::DeviceId;
    ///
    /// const EDU: DeviceId = DeviceId::from_id(0x1234, 0x11e8);
    /// assert_eq!((EDU.vendor(), EDU.device()), (0x1234, 0x11e8));
    /// ```
    pub const fn from_id(vendor: u32, device: u32) -> Self {
        Self(bindings::pci_device_id {
            vendor,
            device,
            subvendor: ANY_ID,
            subdevice: ANY_ID,
            class: 0,
            class_mask: 0,
            driver_data: 0,
            override_only: 0,
        })
    }

    /// An entry that matches the class code bits selected by `class_mask`, from any vendor.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci::DeviceId;
    ///
    /// // Any "other unclassified device" (class 0xff).
    /// let _any_other = DeviceId::from_class(0xff0000, 0xff0000);
    /// ```
    pub const fn from_class(class: u32, class_mask: u32) -> Self {
        Self(bindings::pci_device_id {
            vendor: ANY_ID,
            device: ANY_ID,
            subvendor: ANY_ID,
            subdevice: ANY_ID,
            class,
            class_mask,
            driver_data: 0,
            override_only: 0,
        })
    }

    /// This entry, matching only devices with the subsystem ids `subvendor` and `subdevice`
    /// (either may be [`ANY_ID`]), as the C `PCI_DEVICE_SUB` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci::DeviceId;
    ///
    /// // QEMU's edu, with the subsystem ids it reports.
    /// const EDU: DeviceId = DeviceId::from_id(0x1234, 0x11e8).with_subsystem(0x1af4, 0x1100);
    /// assert_eq!((EDU.subvendor(), EDU.subdevice()), (0x1af4, 0x1100));
    /// ```
    pub const fn with_subsystem(mut self, subvendor: u32, subdevice: u32) -> Self {
        self.0.subvendor = subvendor;
        self.0.subdevice = subdevice;
        self
    }

    /// This entry, matching only devices whose class code agrees with `class` in the bits of
    /// `class_mask` (24 bits: base class, subclass, programming interface).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci::DeviceId;
    ///
    /// // An NVMe controller (class 01, subclass 08, interface 02) of any vendor.
    /// const NVME: DeviceId = DeviceId::from_class(0x010802, 0xffffff);
    /// // A vendor's devices of base class 0x02 (network) only.
    /// const NET: DeviceId =
    ///     DeviceId::from_id(0x8086, kernel::pci::ANY_ID).with_class(0x020000, 0xff0000);
    /// assert_eq!((NVME.class(), NET.class_mask()), (0x010802, 0xff0000));
    /// ```
    pub const fn with_class(mut self, class: u32, class_mask: u32) -> Self {
        self.0.class = class;
        self.0.class_mask = class_mask;
        self
    }

    /// Returns the subsystem vendor id this entry matches.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci::{DeviceId, ANY_ID};
    ///
    /// assert_eq!(DeviceId::from_id(0x1234, 0x11e8).subvendor(), ANY_ID);
    /// ```
    pub const fn subvendor(&self) -> u32 {
        self.0.subvendor
    }

    /// Returns the subsystem device id this entry matches.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci::DeviceId;
    ///
    /// let id = DeviceId::from_id(0x1234, 0x11e8).with_subsystem(0x1af4, 0x1100);
    /// assert_eq!(id.subdevice(), 0x1100);
    /// ```
    pub const fn subdevice(&self) -> u32 {
        self.0.subdevice
    }

    /// Returns the class code this entry matches, in the bits of [`DeviceId::class_mask`].
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci::DeviceId;
    ///
    /// assert_eq!(DeviceId::from_class(0x00ff00, 0xffff00).class(), 0x00ff00);
    /// ```
    pub const fn class(&self) -> u32 {
        self.0.class
    }

    /// Returns the bits of the class code this entry compares; 0 matches every class.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci::DeviceId;
    ///
    /// assert_eq!(DeviceId::from_id(0x1234, 0x11e8).class_mask(), 0);
    /// ```
    pub const fn class_mask(&self) -> u32 {
        self.0.class_mask
    }

    /// Returns the vendor id this entry matches.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci::{DeviceId, ANY_ID};
    ///
    /// assert_eq!(DeviceId::from_id(0x1af4, 0x1000).vendor(), 0x1af4);
    /// assert_eq!(DeviceId::from_class(0x020000, 0xffff00).vendor(), ANY_ID);
    /// ```
    pub const fn vendor(&self) -> u32 {
        self.0.vendor
    }

    /// Returns the device id this entry matches.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci::{DeviceId, ANY_ID};
    ///
    /// assert_eq!(DeviceId::from_id(0x1af4, 0x1000).device(), 0x1000);
    /// assert_eq!(DeviceId::from_class(0x020000, 0xffff00).device(), ANY_ID);
    /// ```
    pub const fn device(&self) -> u32 {
        self.0.device
    }
}

// SAFETY: `DeviceId` is a transparent wrapper of `struct pci_device_id`, whose `driver_data` is a
// `kernel_ulong_t` that the PCI core hands back unchanged on a match (and, for ids added through
// sysfs, only accepts values that an entry of the table has); an all-zero entry ends the table.
unsafe impl RawDeviceId for DeviceId {
    type RawType = bindings::pci_device_id;

    const DRIVER_DATA_OFFSET: usize = core::mem::offset_of!(bindings::pci_device_id, driver_data);

    fn index(&self) -> usize {
        self.0.driver_data
    }
}

/// A PCI device id table with driver data of type `U`, as a driver names it in
/// [`Driver::ID_TABLE`].
///
/// # Examples
///
/// ```
/// use kernel::{device_id::IdArray, pci};
///
/// static TABLE: IdArray<pci::DeviceId, u32, 1> =
///     IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), 42)]);
///
/// let table: pci::IdTable<u32> = &TABLE;
/// assert_eq!(table.info(0), Some(&42));
/// ```
pub type IdTable<U> = device_id::IdTable<DeviceId, U>;

/// A PCI driver.
///
/// The implementing type is the driver's data: what `probe` returns is kept until the device is
/// unbound.
///
/// # Examples
///
/// ```
/// use kernel::{device::Core, device_id::IdArray, pci};
///
/// struct Sample;
///
/// static TABLE: IdArray<pci::DeviceId, u32, 1> =
///     IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), 42)]);
///
/// impl pci::Driver for Sample {
///     type IdInfo = u32;
///     const ID_TABLE: pci::IdTable<u32> = &TABLE;
///
///     fn probe(pdev: &pci::Device<Core>, info: Option<&u32>) -> Result<Pin<KBox<Self>>> {
///         match info {
///             Some(data) => kernel::dev_info!(pdev, "matched entry data {}\n", data),
///             // Bound by `driver_override`: the device matched no entry of the table.
///             None => kernel::dev_info!(pdev, "bound by driver_override\n"),
///         }
///         Ok(KBox::pin(Sample, GFP_KERNEL)?)
///     }
///
///     fn remove(pdev: &pci::Device<Core>, _this: Pin<&Self>) {
///         kernel::dev_info!(pdev, "unbinding\n");
///     }
/// }
/// ```
///
/// See also the [module documentation](self).
pub trait Driver: Send + Sync + 'static {
    /// The data attached to each entry of [`Driver::ID_TABLE`].
    type IdInfo: 'static;

    /// The devices this driver binds to.
    const ID_TABLE: IdTable<Self::IdInfo>;

    /// Binds the driver to `dev`.
    ///
    /// `id_info` is the data of the table entry that `dev` matched: of the first matching entry,
    /// or of the entry that a dynamic id added through sysfs (`new_id`) names. It is `None` when
    /// the device was bound because its `driver_override` names this driver and it matches no
    /// entry (nor a dynamic id that names one).
    ///
    /// Runs with the device lock held. What it returns is the driver's data for this device. If
    /// it fails, bus mastering is turned off before the device's managed resources are released.
    fn probe(dev: &Device<Core>, id_info: Option<&Self::IdInfo>) -> Result<Pin<KBox<Self>>>;

    /// Unbinds the driver from `dev`.
    ///
    /// Runs with the device lock held; interrupt handlers and bound work still run. The default
    /// does nothing. When it returns, the interrupt lines of the binding are masked and its bound
    /// work disabled, each waited for, bus mastering is turned off; then the managed resources
    /// of the binding are released, and `this` is dropped last:
    /// the device must be done with its DMA by then, and `Drop` of the driver data can not use
    /// it.
    fn remove(dev: &Device<Core>, this: Pin<&Self>) {
        let _ = (dev, this);
    }
}

/// The [`driver::RegistrationOps`] of PCI drivers: registers a `struct pci_driver` whose
/// callbacks call `T`'s.
///
/// # Examples
///
/// ```
/// use kernel::{driver::Registration, pci};
///
/// fn registration<T: pci::Driver>(
///     module: &'static ThisModule,
/// ) -> impl PinInit<Registration<pci::Adapter<T>>, Error> {
///     Registration::new(kernel::c_str!("sample"), module)
/// }
/// ```
///
/// See also [`driver::Registration`].
pub struct Adapter<T: Driver>(PhantomData<T>);

// SAFETY: `__pci_register_driver()` registers the driver and fails without leaving it registered;
// `pci_unregister_driver()` returns only after every device is unbound (remove has returned).
unsafe impl<T: Driver> driver::RegistrationOps for Adapter<T> {
    type RegType = bindings::pci_driver;

    unsafe fn register(
        reg: &Opaque<Self::RegType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result {
        let pdrv = reg.get();
        // SAFETY: By the caller's contract `pdrv` is a default-initialised, pinned
        // `struct pci_driver` that nothing else accesses until it is registered.
        unsafe {
            (*pdrv).name = name.as_char_ptr();
            (*pdrv).probe = Some(Self::probe_callback);
            (*pdrv).remove = Some(Self::remove_callback);
            (*pdrv).id_table = T::ID_TABLE.as_ptr();
        }
        // SAFETY: `pdrv` is valid and fully set up; `name` and the id table are `'static`.
        to_result(unsafe {
            bindings::__pci_register_driver(pdrv, module.as_ptr(), name.as_char_ptr())
        })
    }

    unsafe fn unregister(reg: &Opaque<Self::RegType>) {
        // SAFETY: By the caller's contract `reg` is registered.
        unsafe { bindings::pci_unregister_driver(reg.get()) }
    }
}

/// Whether `id` is the id that the PCI core passes to the probe of a driver that a device's
/// `driver_override` names when the device matches none of the driver's ids (the core's
/// `pci_device_id_any`: any vendor, device and subsystem, no class, no data).
fn is_override_catch_all(id: &bindings::pci_device_id) -> bool {
    id.vendor == ANY_ID
        && id.device == ANY_ID
        && id.subvendor == ANY_ID
        && id.subdevice == ANY_ID
        && id.class == 0
        && id.class_mask == 0
        && id.driver_data == 0
        && id.override_only == 0
}

impl<T: Driver> Adapter<T> {
    /// Returns the data of the entry that the PCI core matched, given the id it passed to probe.
    ///
    /// The core passes a pointer into our table when a static entry matched; a copy of the
    /// matching dynamic id (added through `new_id`, whose `driver_data` the core only accepts if
    /// an entry of the table has it, so it is one of our indices); or, when the device's
    /// `driver_override` names us and nothing matched, its catch-all id, for which there is no
    /// entry data. A dynamic id that is itself a catch-all with data 0 can not be told from the
    /// latter, and also gets `None`: it says no more about the device than the override does.
    ///
    /// # Safety
    ///
    /// `id` must be NULL or valid for reads for the length of the call, as the id the PCI core
    /// passes to probe is.
    unsafe fn id_info(id: *const bindings::pci_device_id) -> Result<Option<&'static T::IdInfo>> {
        if id.is_null() {
            return Ok(None);
        }
        if let Some(index) = T::ID_TABLE.index_of(id) {
            // A pointer to entry `index` of our table: that entry matched.
            return T::ID_TABLE.info(index).map(Some).ok_or(EINVAL);
        }
        // SAFETY: By the caller's contract `id` is valid for reads.
        let id = unsafe { &*id };
        if is_override_catch_all(id) {
            return Ok(None);
        }
        // SAFETY: `DeviceId` is a transparent wrapper of `struct pci_device_id`.
        let index = unsafe { &*ptr::from_ref(id).cast::<DeviceId>() }.index();
        T::ID_TABLE.info(index).map(Some).ok_or(EINVAL)
    }

    /// Turns off bus mastering: from here on the device can not reach memory by DMA on its own.
    ///
    /// # Safety
    ///
    /// `pdev` must be valid and its device lock held (the PCI core's probe and remove calls).
    unsafe fn stop_dma(pdev: *mut bindings::pci_dev) {
        // SAFETY: By the caller's contract `pdev` is valid and the device lock is held, so no
        // other callback of the driver changes the command register meanwhile.
        unsafe { bindings::pci_clear_master(pdev) };
    }

    extern "C" fn probe_callback(
        pdev: *mut bindings::pci_dev,
        id: *const bindings::pci_device_id,
    ) -> core::ffi::c_int {
        let probe = move || {
            // SAFETY: `probe_device` installed the driver data: `pdev` is valid, bound (to us)
            // and locked for the call.
            let dev = unsafe { Device::<Core>::from_raw(pdev) };
            // SAFETY: The id the PCI core passes to probe is valid for the call.
            let info = unsafe { Self::id_info(id) }?;
            T::probe(dev, info)
        };
        let fence = move || {
            // SAFETY: `pdev` is valid and locked for the call.
            unsafe { Self::stop_dma(pdev) }
        };
        // SAFETY: The PCI core calls `probe` with a valid device that is being bound, with the
        // device lock held, and calls `remove` only after a successful probe.
        unsafe { driver::probe_device::<T>(&raw mut (*pdev).dev, probe, fence) }
    }

    extern "C" fn remove_callback(pdev: *mut bindings::pci_dev) {
        // SAFETY: The PCI core calls `remove` with a valid device, bound to us, with the device
        // lock held.
        let dev = unsafe { Device::<Core>::from_raw(pdev) };
        let fence = move || {
            // SAFETY: `pdev` is valid and locked for the call.
            unsafe { Self::stop_dma(pdev) }
        };
        // SAFETY: As just said; the device was bound by `probe_device` for `T`.
        unsafe {
            driver::remove_device::<T>(&raw mut (*pdev).dev, |data| T::remove(dev, data), fence)
        }
    }
}

/// Declares a kernel module that registers a PCI driver while it is loaded.
///
/// # Examples
///
/// ```ignore
/// kernel::module_pci_driver! {
///     type: MyDriver,
///     name: "my_driver",
///     author: "Jane Doe",
///     description: "A PCI driver",
///     license: "GPL v2",
/// }
/// ```
#[macro_export]
macro_rules! module_pci_driver {
    ($($f:tt)*) => {
        $crate::module_driver!(<T>, $crate::pci::Adapter<T>, { $($f)* });
    };
}

/// A PCI device, in context `Ctx` (see [`device`]).
///
/// # Invariants
///
/// `self.0` is a valid `struct pci_dev`, and its embedded `struct device` satisfies the
/// invariants of [`device::Device<Ctx>`], for as long as a reference to `self` exists.
///
/// # Examples
///
/// ```
/// use kernel::{pci, types::ARef};
///
/// // A counted reference may be kept anywhere, for instance beyond the binding.
/// fn keep(pdev: &pci::Device) -> ARef<pci::Device> {
///     pdev.into()
/// }
/// ```
#[repr(transparent)]
pub struct Device<Ctx: DeviceContext = Normal>(Opaque<bindings::pci_dev>, PhantomData<Ctx>);

impl<Ctx: DeviceContext> Device<Ctx> {
    /// Borrows an existing `struct pci_dev` in context `Ctx`.
    ///
    /// # Safety
    ///
    /// The same as for [`device::Device::from_raw`], for the `struct device` embedded in the
    /// `struct pci_dev` that `ptr` points to.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Core}, pci};
    ///
    /// fn to_bound(pdev: &pci::Device<Core>) -> &pci::Device<Bound> {
    ///     // SAFETY: A core reference guarantees all that a bound one does, for as long.
    ///     unsafe { pci::Device::<Bound>::from_raw(pdev.as_raw()) }
    /// }
    /// ```
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::pci_dev) -> &'a Self {
        // INVARIANT: Guaranteed by the caller.
        // SAFETY: `Device` is a transparent wrapper of `struct pci_dev`.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct pci_dev` pointer.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci;
    ///
    /// fn same_device(a: &pci::Device, b: &pci::Device) -> bool {
    ///     a.as_raw() == b.as_raw()
    /// }
    /// ```
    pub fn as_raw(&self) -> *mut bindings::pci_dev {
        self.0.get()
    }

    /// Returns the vendor id of the device.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci;
    ///
    /// fn is_edu(pdev: &pci::Device) -> bool {
    ///     pdev.vendor_id() == 0x1234 && pdev.device_id() == 0x11e8
    /// }
    /// ```
    pub fn vendor_id(&self) -> u16 {
        // SAFETY: `self.as_raw()` is valid by the type invariant; the id is set at enumeration
        // and never changes.
        unsafe { (*self.as_raw()).vendor }
    }

    /// Returns the device id of the device.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci;
    ///
    /// fn log_ids(pdev: &pci::Device) {
    ///     kernel::dev_info!(pdev, "{:04x}:{:04x}\n", pdev.vendor_id(), pdev.device_id());
    /// }
    /// ```
    pub fn device_id(&self) -> u16 {
        // SAFETY: As for `vendor_id`.
        unsafe { (*self.as_raw()).device }
    }

    /// Returns the subsystem vendor id of the device.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci;
    ///
    /// fn log_subsystem(pdev: &pci::Device) {
    ///     let (sv, sd) = (pdev.subsystem_vendor_id(), pdev.subsystem_device_id());
    ///     kernel::dev_info!(pdev, "subsystem {:04x}:{:04x}\n", sv, sd);
    /// }
    /// ```
    pub fn subsystem_vendor_id(&self) -> u16 {
        // SAFETY: As for `vendor_id`.
        unsafe { (*self.as_raw()).subsystem_vendor }
    }

    /// Returns the subsystem device id of the device.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci;
    ///
    /// fn is_edu_subsystem(pdev: &pci::Device) -> bool {
    ///     pdev.subsystem_vendor_id() == 0x1af4 && pdev.subsystem_device_id() == 0x1100
    /// }
    /// ```
    pub fn subsystem_device_id(&self) -> u16 {
        // SAFETY: As for `vendor_id`.
        unsafe { (*self.as_raw()).subsystem_device }
    }

    /// Returns the class code of the device: base class, subclass and programming interface,
    /// 24 bits.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci;
    ///
    /// fn is_nvme(pdev: &pci::Device) -> bool {
    ///     pdev.class() == 0x010802
    /// }
    /// ```
    pub fn class(&self) -> u32 {
        // SAFETY: As for `vendor_id`.
        unsafe { (*self.as_raw()).class }
    }

    /// Returns the revision id of the device.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci;
    ///
    /// fn needs_workaround(pdev: &pci::Device) -> bool {
    ///     pdev.revision_id() < 0x10
    /// }
    /// ```
    pub fn revision_id(&self) -> u8 {
        // SAFETY: As for `vendor_id`.
        unsafe { (*self.as_raw()).revision }
    }

    /// Returns the length of BAR `bar` in bytes, 0 for an unused BAR; [`EINVAL`] for a BAR number
    /// that does not exist.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::pci;
    ///
    /// fn bar0_len(pdev: &pci::Device) -> Result<u64> {
    ///     // The standard BARs are 0 to 5.
    ///     assert_eq!(pdev.resource_len(6), Err(EINVAL));
    ///     pdev.resource_len(0)
    /// }
    /// ```
    pub fn resource_len(&self, bar: u32) -> Result<u64> {
        if bar >= bindings::PCI_STD_NUM_BARS {
            return Err(EINVAL);
        }
        // SAFETY: `self.as_raw()` is valid and `bar` is a standard BAR number.
        Ok(unsafe { bindings::pci_resource_len(self.as_raw(), bar as _) } as u64)
    }
}

impl Device<Core> {
    /// Enables the device's memory space, as `pci_enable_device_mem()` does.
    ///
    /// The device is disabled again when the driver is unbound, after its data has been
    /// dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Core, pci};
    ///
    /// fn start(pdev: &pci::Device<Core>) -> Result {
    ///     // Nothing to undo by hand: the device is disabled again at unbind.
    ///     pdev.enable_device_mem()
    /// }
    /// ```
    pub fn enable_device_mem(&self) -> Result {
        // SAFETY: `self.as_raw()` is valid and the device lock is held.
        to_result(unsafe { bindings::pci_enable_device_mem(self.as_raw()) })?;
        // SAFETY: The device is bound (type invariant), so the action runs at unbind, after
        // `remove` and the driver data; `disable_action` is a valid function for this data.
        to_result(unsafe {
            bindings::devm_add_action_or_reset(
                self.raw_device(),
                Some(Self::disable_action),
                self.as_raw().cast(),
            )
        })
    }

    /// # Safety
    ///
    /// `pdev` must be the `struct pci_dev` that `enable_device_mem` registered the action for.
    unsafe extern "C" fn disable_action(pdev: *mut core::ffi::c_void) {
        // SAFETY: Registered by `enable_device_mem` with the device, which is alive while its
        // managed resources are released.
        unsafe { bindings::pci_disable_device(pdev.cast()) }
    }

    /// Enables bus mastering (DMA) for the device, as `pci_set_master()` does.
    ///
    /// It is turned off again as soon as `remove` returns at unbind, or `probe` fails (see the
    /// [module documentation](self)), and [`Device::clear_master`] turns it off earlier.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Core, pci};
    ///
    /// fn start_dma(pdev: &pci::Device<Core>) -> Result {
    ///     pdev.enable_device_mem()?;
    ///     pdev.set_master();
    ///     Ok(())
    /// }
    /// ```
    pub fn set_master(&self) {
        // SAFETY: `self.as_raw()` is valid and the device lock is held.
        unsafe { bindings::pci_set_master(self.as_raw()) };
    }

    /// Disables bus mastering (DMA) for the device, as `pci_clear_master()` does.
    ///
    /// From its return on, the device can not read or write memory on its own: a driver whose
    /// device may still run a transfer (one that timed out, say) calls it before the memory of
    /// that transfer is freed or unmapped. [`Device::set_master`] turns it on again.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Core, pci};
    ///
    /// fn finish(pdev: &pci::Device<Core>, transfer: Result) -> Result {
    ///     if let Err(e) = transfer {
    ///         // The device may still write the transfer's memory: stop it before that is freed.
    ///         pdev.clear_master();
    ///         return Err(e);
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn clear_master(&self) {
        // SAFETY: `self.as_raw()` is valid and the device lock is held.
        unsafe { bindings::pci_clear_master(self.as_raw()) };
    }
}

impl Device<Bound> {
    /// Requests BAR `bar` for the driver and maps all of it; the BAR must be at least `SIZE`
    /// bytes long and a memory BAR.
    ///
    /// The mapping is held in a [`Devres`]: it is unmapped and released when the driver is
    /// unbound at the latest, and no MMIO access through it is possible after that.
    ///
    /// Fails with [`EINVAL`] for a bad BAR number, an I/O port BAR or a BAR shorter than `SIZE`,
    /// [`EBUSY`] if another driver holds the region and [`ENOMEM`] if it can not be mapped.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, pci};
    ///
    /// fn read_id(pdev: &pci::Device<Bound>) -> Result<u32> {
    ///     let name = kernel::c_str!("sample");
    ///     // There is no BAR 6.
    ///     assert_eq!(pdev.iomap_region_sized::<4>(6, name).err(), Some(EINVAL));
    ///     let bar = pdev.iomap_region_sized::<0x100>(0, name)?;
    ///     Ok(bar.access(pdev.as_ref())?.read32::<0x00>())
    /// }
    /// ```
    pub fn iomap_region_sized<const SIZE: usize>(
        &self,
        bar: u32,
        name: &'static CStr,
    ) -> Result<Devres<Bar<SIZE>>> {
        let bar = Bar::new(self, bar, name)?;
        Devres::new(self.as_ref(), bar, GFP_KERNEL)
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

// SAFETY: `pci_dev_get()` and `pci_dev_put()` count the embedded `struct device`. Only normal
// devices are counted; bound and core references must not outlive their callback.
unsafe impl AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: The existence of `&self` guarantees a non-zero count.
        unsafe { bindings::pci_dev_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: ptr::NonNull<Self>) {
        // SAFETY: The caller guarantees a non-zero count.
        unsafe { bindings::pci_dev_put(obj.cast().as_ptr()) }
    }
}

// SAFETY: As for `device::Device`: a normal PCI device may be used and released from any thread.
unsafe impl Send for Device {}

// SAFETY: The methods of a normal PCI device read only immutable ids and synchronised state.
unsafe impl Sync for Device {}

/// A requested and mapped PCI memory BAR of at least `SIZE` bytes; derefs to [`Io<SIZE>`].
///
/// Dropping it unmaps and releases the BAR. Drivers get it inside a [`Devres`] from
/// [`Device::iomap_region_sized`], so that it is dropped at unbind at the latest.
///
/// # Invariants
///
/// `io` describes the live mapping of BAR `num` of `pdev`, which was requested for the driver
/// with `pci_request_region()`.
///
/// # Examples
///
/// ```
/// use kernel::{device::Bound, pci};
///
/// fn map(pdev: &pci::Device<Bound>) -> Result<u32> {
///     let bar = pdev.iomap_region_sized::<0x100>(0, kernel::c_str!("sample"))?;
///     let bar = bar.access(pdev.as_ref())?;
///     // An offset beyond 0x100 would not build; a run-time offset is checked.
///     Ok(bar.read32::<0x04>() ^ bar.try_read32(0x08)?)
/// }
/// ```
pub struct Bar<const SIZE: usize = 0> {
    pdev: ARef<Device>,
    io: IoRaw<SIZE>,
    num: i32,
}

impl<const SIZE: usize> Bar<SIZE> {
    fn new(pdev: &Device<Bound>, num: u32, name: &'static CStr) -> Result<Self> {
        let len = pdev.resource_len(num)?;
        if len == 0 {
            return Err(EINVAL);
        }
        // SAFETY: `pdev` is valid and `num` a standard BAR number (checked above).
        let flags = unsafe { bindings::pci_resource_flags(pdev.as_raw(), num as _) };
        if flags & bindings::IORESOURCE_MEM as crate::ffi::c_ulong == 0 {
            return Err(EINVAL);
        }
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        if len < SIZE {
            return Err(EINVAL);
        }
        // SAFETY: `pdev` is valid, `num` is a BAR number, and `name` is `'static` as the
        // resource keeps the pointer.
        to_result(unsafe {
            bindings::pci_request_region(pdev.as_raw(), num as _, name.as_char_ptr())
        })?;
        // SAFETY: The region was just requested for us.
        let addr = unsafe { bindings::pci_iomap(pdev.as_raw(), num as _, 0) };
        if addr.is_null() {
            // SAFETY: Undoes the request above.
            unsafe { bindings::pci_release_region(pdev.as_raw(), num as _) };
            return Err(ENOMEM);
        }
        let io = match IoRaw::new(addr as usize, len) {
            Ok(io) => io,
            Err(e) => {
                // SAFETY: Undoes the mapping and request above.
                unsafe {
                    bindings::pci_iounmap(pdev.as_raw(), addr);
                    bindings::pci_release_region(pdev.as_raw(), num as _);
                }
                return Err(e);
            }
        };
        // INVARIANT: `addr` maps all `len` bytes of the requested BAR `num`.
        Ok(Self {
            pdev: (&**pdev).into(),
            io,
            num: num as i32,
        })
    }

    /// Returns the BAR number.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Bound, pci};
    ///
    /// fn map_bar2(pdev: &pci::Device<Bound>) -> Result {
    ///     let bar = pdev.iomap_region_sized::<0x10>(2, kernel::c_str!("sample"))?;
    ///     assert_eq!(bar.access(pdev.as_ref())?.index(), 2);
    ///     Ok(())
    /// }
    /// ```
    pub fn index(&self) -> u32 {
        self.num as u32
    }
}

impl<const SIZE: usize> Deref for Bar<SIZE> {
    type Target = Io<SIZE>;

    fn deref(&self) -> &Self::Target {
        // SAFETY: By the type invariant the mapping is live until `self` is dropped.
        unsafe { Io::from_raw(&self.io) }
    }
}

impl<const SIZE: usize> Drop for Bar<SIZE> {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the mapping and the request are ours to undo, once.
        unsafe {
            bindings::pci_iounmap(self.pdev.as_raw(), self.io.addr() as _);
            bindings::pci_release_region(self.pdev.as_raw(), self.num);
        }
    }
}

// SAFETY: MMIO accessors may be used from any thread; the BAR is released from any thread.
unsafe impl<const SIZE: usize> Send for Bar<SIZE> {}

// SAFETY: All accessors take `&self` and are single MMIO instructions.
unsafe impl<const SIZE: usize> Sync for Bar<SIZE> {}
