// SPDX-License-Identifier: GPL-2.0

//! Generic devices that are part of the kernel's driver model.
//!
//! C header: [`include/linux/device.h`](srctree/include/linux/device.h)
//!
//! # The lifetime model
//!
//! A C `struct device` passes through three states that matter to a driver:
//!
//! 1. registered, with no driver attached;
//! 2. registered, with a driver attached (between the return of a successful `probe` and the
//!    end of `remove`, plus the release of the driver's managed resources after it);
//! 3. deleted from its bus (`device_del()`) but still referenced: a "zombie", kept alive only by
//!    the reference counts that others hold.
//!
//! The type [`Device<Ctx>`] mirrors them with a context type parameter:
//!
//! - [`Device`] (context [`Normal`]) is what an [`ARef<Device>`] holds: a counted reference that is
//!   valid in every state, zombie included. It offers only what is sound on a zombie: the name,
//!   printing and the reference count itself.
//! - [`Device<Bound>`] exists only as a borrow `&'a Device<Bound>` that bus glue hands out while a
//!   driver is attached, for the length of a callback. It can not be turned into an owned or
//!   counted value, so everything that must not outlive the binding (DMA memory, managed
//!   resources, MMIO mappings) takes it as proof that the driver is still bound.
//! - [`Device<Core>`] is handed to `probe` and `remove`, where the device lock is held. It
//!   derefs to [`Device<Bound>`] and adds what must not race with the rest of the driver.
//!
//! Bus device types (for example [`crate::pci::Device`]) implement [`RawDevice`], so that generic
//! code can accept "any device", and deref to their own context-typed bus device, which derefs to
//! the generic one.
//!
//! # Examples
//!
//! ```
//! use kernel::device::{Bound, Device};
//!
//! // Code that must only run while a driver is bound asks for a bound borrow.
//! fn only_while_bound(dev: &Device<Bound>) {
//!     kernel::dev_info!(dev, "still bound\n");
//! }
//! ```

use crate::{
    bindings,
    str::CStr,
    types::{ARef, AlwaysRefCounted, Opaque},
};
use core::{fmt, marker::PhantomData, ops::Deref, ptr};

mod private {
    pub trait Sealed {}
}

/// The context a [`Device`] reference is valid in.
///
/// This trait is sealed: the contexts are exactly [`Normal`], [`Bound`] and [`Core`].
///
/// # Examples
///
/// ```
/// use kernel::device::{Device, DeviceContext};
///
/// // Code that is sound in every context is generic over it.
/// fn log<Ctx: DeviceContext>(dev: &Device<Ctx>) {
///     kernel::dev_info!(dev, "seen\n");
/// }
/// ```
pub trait DeviceContext: private::Sealed {}

/// The context of a counted device reference: valid in every device state.
///
/// # Examples
///
/// ```
/// use kernel::device::{Device, Normal};
///
/// fn takes_any(_dev: &Device<Normal>) {}
/// ```
pub struct Normal;

/// The context of a device with a driver attached.
///
/// A `&Device<Bound>` only exists for the length of a bus callback; see the [module
/// documentation](self).
///
/// # Examples
///
/// ```
/// use kernel::device::{Bound, Device};
///
/// fn needs_binding(_dev: &Device<Bound>) {}
/// ```
pub struct Bound;

/// The context of `probe` and `remove`: a driver is attached and the device lock is held.
///
/// # Examples
///
/// ```
/// use kernel::device::{Core, Device};
///
/// fn in_probe(dev: &Device<Core>) {
///     // A core reference is also a bound and a normal one.
///     let _bound: &Device<kernel::device::Bound> = dev;
///     let _normal: &Device = dev;
/// }
/// ```
pub struct Core;

impl private::Sealed for Normal {}
impl private::Sealed for Bound {}
impl private::Sealed for Core {}
impl DeviceContext for Normal {}
impl DeviceContext for Bound {}
impl DeviceContext for Core {}

/// A device of the kernel's driver model, in context `Ctx`.
///
/// This is a transparent wrapper around a C `struct device`; it is never created or moved by
/// Rust code, only borrowed from a pointer that C code owns.
///
/// # Invariants
///
/// - `self.0` is a valid `struct device` whose reference count is non-zero for as long as a
///   reference to `self` exists.
/// - If `Ctx` is [`Bound`], a driver is bound to the device for as long as the reference exists,
///   a driver of these bindings, whose bus adapter installed the device's driver data (the
///   driver type and its value, see `Device::<Bound>::drvdata`) before the reference was made;
///   and no managed resource of the binding is released while it exists: the bus callbacks run
///   before the release, and the bus stops the binding's interrupt handlers and bound work before
///   it (only the release of a handler's own registration waits for the handler to return).
/// - If `Ctx` is [`Core`], in addition the device lock is held for as long as the reference
///   exists, by the task that runs the bus callback or by a task that waits for it (the PCI core
///   may run `probe` in a kworker through `work_on_cpu()` while the locking task waits), so no
///   other callback of the device runs meanwhile.
/// - The C `release` function of the device may be called from any thread.
///
/// # Examples
///
/// ```
/// use kernel::{device::Device, types::ARef};
///
/// // A counted reference can be cloned and kept, also beyond the binding of a driver.
/// fn keep(dev: &Device) -> ARef<Device> {
///     dev.into()
/// }
/// ```
#[repr(transparent)]
pub struct Device<Ctx: DeviceContext = Normal>(Opaque<bindings::device>, PhantomData<Ctx>);

impl Device {
    /// Creates a new counted reference to an existing `struct device`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct device` whose reference count can not drop to zero
    /// for the duration of this call.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Device, types::ARef};
    ///
    /// fn count(dev: &Device) -> ARef<Device> {
    ///     // SAFETY: `dev` is valid, and its count can not drop to zero while it is borrowed.
    ///     unsafe { Device::get_device(dev.as_raw()) }
    /// }
    /// ```
    pub unsafe fn get_device(ptr: *mut bindings::device) -> ARef<Self> {
        // SAFETY: The caller guarantees that `ptr` is valid for the duration of this call, which
        // is as long as the temporary borrow is used.
        unsafe { Self::as_ref(ptr) }.into()
    }

    /// Borrows an existing `struct device` as a [`Device`].
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct device` whose reference count can not drop to zero
    /// for the duration of `'a`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::Device;
    ///
    /// fn reborrow(dev: &Device) -> &Device {
    ///     // SAFETY: `dev` is valid and counted while borrowed, which bounds the result.
    ///     unsafe { Device::as_ref(dev.as_raw()) }
    /// }
    /// ```
    pub unsafe fn as_ref<'a>(ptr: *mut bindings::device) -> &'a Self {
        // SAFETY: By the caller's contract `ptr` is valid for `'a`; `Device` is a transparent
        // wrapper of `struct device`.
        unsafe { Self::from_raw(ptr) }
    }
}

impl<Ctx: DeviceContext> Device<Ctx> {
    /// Borrows an existing `struct device` in context `Ctx`.
    ///
    /// This is how bus glue hands a device to a driver's callbacks.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct device` whose reference count can not drop to zero for
    /// the duration of `'a`, and for the whole of `'a` the guarantees of `Ctx` must hold (see the
    /// type invariants): a driver of these bindings is bound, with its driver data installed, for
    /// [`Bound`], and in addition the device lock is held for [`Core`], by the current task or by
    /// one that waits for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::{Bound, Core, Device};
    ///
    /// fn to_bound(dev: &Device<Core>) -> &Device<Bound> {
    ///     // SAFETY: A core reference guarantees all that a bound one does, for as long.
    ///     unsafe { Device::<Bound>::from_raw(dev.as_raw()) }
    /// }
    /// ```
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::device) -> &'a Self {
        // INVARIANT: The caller guarantees validity and the context for `'a`.
        // SAFETY: `Device<Ctx>` is a transparent wrapper of `Opaque<bindings::device>` (plus a
        // zero-sized marker), which has the layout of `struct device`.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct device` pointer.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::Device;
    ///
    /// fn same_device(a: &Device, b: &Device) -> bool {
    ///     a.as_raw() == b.as_raw()
    /// }
    /// ```
    pub fn as_raw(&self) -> *mut bindings::device {
        self.0.get()
    }

    /// Returns the name of the device, as `dev_name()` does.
    ///
    /// To print a message about the device, use [`dev_info!`] and friends instead: the C code
    /// reads the name there.
    ///
    /// # Safety
    ///
    /// The device must not be renamed while the returned string is used: `device_rename()`
    /// (through `kobject_rename()`) frees the old name, with no lock that a reader could take.
    /// Devices of a bus that never renames them (PCI, platform) satisfy this.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::Device;
    ///
    /// fn log_name(dev: &Device) {
    ///     // SAFETY: The caller's devices are PCI devices, which are never renamed.
    ///     kernel::pr_info!("device {}\n", unsafe { dev.name() });
    /// }
    /// ```
    ///
    /// [`dev_info!`]: crate::dev_info
    pub unsafe fn name(&self) -> &CStr {
        // SAFETY: `self.as_raw()` is valid (type invariant); `dev_name()` returns the kobject's
        // name, a valid C string that is freed with the device, whose count `&self` holds, or by
        // a rename, which the caller rules out.
        unsafe { CStr::from_char_ptr(bindings::dev_name(self.as_raw())) }
    }

    /// Prints a message through the C `dev_printk()`; prefer the [`dev_info!`] family of macros.
    ///
    /// `level` is one of the `KERN_*` prefixes (for example [`bindings::KERN_INFO`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::Device;
    ///
    /// fn greet(dev: &Device) {
    ///     dev.printk(kernel::bindings::KERN_INFO, format_args!("hello\n"));
    /// }
    /// ```
    ///
    /// [`dev_info!`]: crate::dev_info
    pub fn printk(&self, level: &[u8; 3], args: fmt::Arguments<'_>) {
        #[cfg(not(CONFIG_PRINTK))]
        let _ = (level, args);

        #[cfg(CONFIG_PRINTK)]
        // SAFETY: `level` is a NUL-terminated `KERN_*` prefix and the device is valid (type
        // invariant); `%pA` consumes the one argument, a `fmt::Arguments` alive across the call.
        unsafe {
            bindings::_dev_printk(
                level.as_ptr().cast(),
                self.as_raw(),
                crate::c_str!("%pA").as_char_ptr(),
                ptr::from_ref(&args).cast::<core::ffi::c_void>(),
            )
        };
    }
}

impl Device<Bound> {
    /// Returns the parent of the device, if it has one.
    ///
    /// This is only offered on a bound device: the reference that a device holds on its parent
    /// is dropped by `device_del()`, so on a zombie the parent pointer may dangle. While a driver
    /// is bound the device has not been deleted.
    ///
    /// # Safety
    ///
    /// The device must not be moved to another parent while the returned reference is used:
    /// `device_move()` drops the old parent's reference holding only the PM lock, not the device
    /// lock, and a driver may be bound meanwhile. Devices of a bus that never moves them (PCI,
    /// platform) satisfy this.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::device::{Bound, Device};
    ///
    /// fn log_parent(dev: &Device<Bound>) {
    ///     // SAFETY: The caller's devices are PCI devices, which are never moved.
    ///     if let Some(parent) = unsafe { dev.parent() } {
    ///         kernel::dev_info!(parent, "child bound\n");
    ///     }
    /// }
    /// ```
    pub unsafe fn parent(&self) -> Option<&Device> {
        // SAFETY: By the type invariant `self.as_raw()` is valid; the field is only written when
        // the device is added, while no driver is bound, or moved, which the caller rules out.
        let parent = unsafe { (*self.as_raw()).parent };
        if parent.is_null() {
            None
        } else {
            // `device_add()` took a reference on the parent that `device_del()` drops, or
            // `device_move()`, which the caller rules out.
            // SAFETY: A driver is bound while `&self` lives, so the device is not deleted.
            Some(unsafe { Device::as_ref(parent) })
        }
    }
}

impl Deref for Device<Core> {
    type Target = Device<Bound>;

    fn deref(&self) -> &Self::Target {
        // SAFETY: A core reference guarantees everything a bound one does; both are transparent
        // wrappers of the same `struct device`.
        unsafe { Device::from_raw(self.as_raw()) }
    }
}

impl Deref for Device<Bound> {
    type Target = Device;

    fn deref(&self) -> &Self::Target {
        // SAFETY: A bound reference guarantees everything a normal one does; both are
        // transparent wrappers of the same `struct device`.
        unsafe { Device::from_raw(self.as_raw()) }
    }
}

// SAFETY: `get_device()` and `put_device()` are the reference count of `struct device`; the type
// invariant guarantees a non-zero count while `&self` exists. Only `Device<Normal>` is counted:
// bound and core references must not outlive the callback that created them.
unsafe impl AlwaysRefCounted for Device {
    fn inc_ref(&self) {
        // SAFETY: The existence of a shared reference guarantees that the refcount is non-zero.
        unsafe { bindings::get_device(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: ptr::NonNull<Self>) {
        // SAFETY: The safety requirements guarantee that the refcount is non-zero.
        unsafe { bindings::put_device(obj.cast().as_ptr()) }
    }
}

// SAFETY: A normal device can be used from any thread: its release function can be called from
// any thread (type invariant) and its methods only use the synchronisation of `struct device`.
unsafe impl Send for Device {}

// SAFETY: The safe methods of a normal device only use what `struct device` synchronises itself
// (the reference count, `dev_printk()`); reading the name is `unsafe` (see `Device::name`).
unsafe impl Sync for Device {}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the name: a rename may free it meanwhile (see `Device::name`).
        write!(f, "Device({:p})", self.as_raw())
    }
}

/// A bus device type that has an underlying `struct device`.
///
/// Generic subsystems take `&impl RawDevice` to accept any bus's device.
///
/// # Safety
///
/// Implementers must return from [`RawDevice::raw_device`] a pointer to a valid `struct device`
/// that is the device `self` represents, and whose reference count stays non-zero for as long as
/// `self` is borrowed.
///
/// # Examples
///
/// ```
/// use kernel::device::RawDevice;
///
/// fn log_any(dev: &impl RawDevice) {
///     kernel::dev_info!(dev, "hello from {:?}\n", dev.as_device());
/// }
/// ```
pub unsafe trait RawDevice {
    /// Returns the underlying `struct device`.
    fn raw_device(&self) -> *mut bindings::device;

    /// Returns the underlying device as a [`Device`] in the normal context.
    fn as_device(&self) -> &Device {
        // SAFETY: By the trait's contract the pointer is valid and counted while `self` is
        // borrowed, which bounds the returned lifetime.
        unsafe { Device::as_ref(self.raw_device()) }
    }
}

// SAFETY: `as_raw()` is the device itself, valid while `self` is borrowed by the type invariant.
unsafe impl<Ctx: DeviceContext> RawDevice for Device<Ctx> {
    fn raw_device(&self) -> *mut bindings::device {
        self.as_raw()
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! dev_printk {
    ($level:ident, $dev:expr, $($f:tt)*) => {
        $crate::device::RawDevice::as_device($dev)
            .printk($crate::bindings::$level, ::core::format_args!($($f)*))
    };
}

/// Prints an emergency-level message (level 0) prefixed with the device's driver and name.
///
/// `$dev` is a reference to anything that implements [`RawDevice`].
///
/// # Examples
///
/// ```
/// # use kernel::device::Device;
/// fn f(dev: &Device) {
///     kernel::dev_emerg!(dev, "system is unusable: {}\n", 0);
/// }
/// ```
#[macro_export]
macro_rules! dev_emerg {
    ($dev:expr, $($f:tt)*) => { $crate::dev_printk!(KERN_EMERG, $dev, $($f)*) };
}

/// Prints an alert-level message (level 1) prefixed with the device's driver and name.
///
/// # Examples
///
/// ```
/// # use kernel::device::Device;
/// fn f(dev: &Device) {
///     kernel::dev_alert!(dev, "act now\n");
/// }
/// ```
#[macro_export]
macro_rules! dev_alert {
    ($dev:expr, $($f:tt)*) => { $crate::dev_printk!(KERN_ALERT, $dev, $($f)*) };
}

/// Prints a critical-level message (level 2) prefixed with the device's driver and name.
///
/// # Examples
///
/// ```
/// # use kernel::device::Device;
/// fn f(dev: &Device) {
///     kernel::dev_crit!(dev, "critical\n");
/// }
/// ```
#[macro_export]
macro_rules! dev_crit {
    ($dev:expr, $($f:tt)*) => { $crate::dev_printk!(KERN_CRIT, $dev, $($f)*) };
}

/// Prints an error-level message (level 3) prefixed with the device's driver and name.
///
/// # Examples
///
/// ```
/// # use kernel::device::Device;
/// fn f(dev: &Device) {
///     kernel::dev_err!(dev, "failed: {:?}\n", kernel::error::code::EIO);
/// }
/// ```
#[macro_export]
macro_rules! dev_err {
    ($dev:expr, $($f:tt)*) => { $crate::dev_printk!(KERN_ERR, $dev, $($f)*) };
}

/// Prints a warning-level message (level 4) prefixed with the device's driver and name.
///
/// # Examples
///
/// ```
/// # use kernel::device::Device;
/// fn f(dev: &Device) {
///     kernel::dev_warn!(dev, "odd value {}\n", 3);
/// }
/// ```
#[macro_export]
macro_rules! dev_warn {
    ($dev:expr, $($f:tt)*) => { $crate::dev_printk!(KERN_WARNING, $dev, $($f)*) };
}

/// Prints a notice-level message (level 5) prefixed with the device's driver and name.
///
/// # Examples
///
/// ```
/// # use kernel::device::Device;
/// fn f(dev: &Device) {
///     kernel::dev_notice!(dev, "notice\n");
/// }
/// ```
#[macro_export]
macro_rules! dev_notice {
    ($dev:expr, $($f:tt)*) => { $crate::dev_printk!(KERN_NOTICE, $dev, $($f)*) };
}

/// Prints an info-level message (level 6) prefixed with the device's driver and name.
///
/// # Examples
///
/// ```
/// # use kernel::device::Device;
/// fn f(dev: &Device) {
///     kernel::dev_info!(dev, "ready\n");
/// }
/// ```
#[macro_export]
macro_rules! dev_info {
    ($dev:expr, $($f:tt)*) => { $crate::dev_printk!(KERN_INFO, $dev, $($f)*) };
}

/// Prints a debug-level message (level 7) prefixed with the device's driver and name.
///
/// Like `pr_debug!`, it compiles to nothing unless debug assertions are enabled.
///
/// # Examples
///
/// ```
/// # use kernel::device::Device;
/// fn f(dev: &Device) {
///     kernel::dev_dbg!(dev, "state {}\n", 1);
/// }
/// ```
#[macro_export]
macro_rules! dev_dbg {
    ($dev:expr, $($f:tt)*) => {
        if cfg!(debug_assertions) {
            $crate::dev_printk!(KERN_DEBUG, $dev, $($f)*)
        }
    };
}
