// SPDX-License-Identifier: GPL-2.0

//! Generic support for registering drivers with a bus.
//!
//! Each bus (for example [`crate::pci`]) implements [`RegistrationOps`] for its C driver
//! structure; [`Registration`] then owns one registered C driver and unregisters it when dropped.
//! After unregistration returns, the bus has unbound every device from the driver and calls none
//! of its callbacks any more.
//!
//! C header: [`include/linux/device/driver.h`](srctree/include/linux/device/driver.h)

use crate::{
    error::Result,
    init::{self, PinInit},
    str::CStr,
    types::Opaque,
    ThisModule,
};
use core::{marker::PhantomData, pin::Pin};
use macros::{pin_data, pinned_drop};

/// The bus-specific operations behind a [`Registration`].
///
/// # Safety
///
/// - [`RegistrationOps::register`] must, on success, register the C driver in `reg` so that the
///   bus calls its callbacks only between the call and the end of the matching
///   [`RegistrationOps::unregister`]; on failure it must leave nothing registered.
/// - [`RegistrationOps::unregister`] must not return before every device is unbound from the
///   driver and no callback of it runs any more.
///
/// # Examples
///
/// Buses implement this trait; drivers use it through [`Registration`] and the bus's module
/// macro, for example [`crate::module_pci_driver!`].
///
/// ```
/// use kernel::{driver::RegistrationOps, pci};
///
/// fn is_ops<T: RegistrationOps>() {}
/// # struct Nothing;
/// # impl pci::Driver for Nothing {
/// #     type IdInfo = ();
/// #     const ID_TABLE: pci::IdTable<()> = &TABLE;
/// #     fn probe(
/// #         _d: &pci::Device<kernel::device::Core>,
/// #         _i: Option<&()>,
/// #     ) -> Result<Pin<KBox<Self>>> {
/// #         Err(ENODEV)
/// #     }
/// # }
/// # static TABLE: kernel::device_id::IdArray<pci::DeviceId, (), 1> =
/// #     kernel::device_id::IdArray::new([(pci::DeviceId::from_id(0xffff, 0xffff), ())]);
/// is_ops::<pci::Adapter<Nothing>>();
/// ```
pub unsafe trait RegistrationOps {
    /// The C driver structure of the bus, for example `struct pci_driver`.
    type RegType: Default;

    /// Fills in and registers the C driver.
    ///
    /// # Safety
    ///
    /// `reg` must point to a zero-initialised (default) C driver structure that stays pinned
    /// and untouched until [`RegistrationOps::unregister`] is called on it, which the caller must
    /// do before the memory goes away if this function succeeded.
    unsafe fn register(
        reg: &Opaque<Self::RegType>,
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> Result;

    /// Unregisters a C driver registered with [`RegistrationOps::register`].
    ///
    /// # Safety
    ///
    /// `reg` must have been registered successfully by [`RegistrationOps::register`] and not yet
    /// unregistered.
    unsafe fn unregister(reg: &Opaque<Self::RegType>);
}

/// A registered driver; dropping it unregisters the driver.
///
/// # Invariants
///
/// `reg` has been registered successfully with `T::register` and is unregistered only in
/// `drop`.
///
/// # Examples
///
/// ```
/// use kernel::{driver::Registration, pci};
///
/// fn keep_registered<T: pci::Driver>(
///     module: &'static kernel::ThisModule,
/// ) -> Result<Pin<KBox<Registration<pci::Adapter<T>>>>> {
///     KBox::pin_init(Registration::new(kernel::c_str!("sample"), module), GFP_KERNEL)
/// }
/// ```
#[pin_data(PinnedDrop)]
pub struct Registration<T: RegistrationOps> {
    #[pin]
    reg: Opaque<T::RegType>,
    _ops: PhantomData<T>,
}

// SAFETY: After registration the C driver structure is only read and written by the driver core
// under its own locks; `Registration` offers no access to it.
unsafe impl<T: RegistrationOps> Send for Registration<T> {}

// SAFETY: `Registration` has no methods that take `&self`.
unsafe impl<T: RegistrationOps> Sync for Registration<T> {}

impl<T: RegistrationOps> Registration<T> {
    /// Registers a driver named `name` on behalf of `module`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{driver::Registration, pci};
    ///
    /// fn register_briefly<T: pci::Driver>(module: &'static ThisModule) -> Result {
    ///     let init = Registration::<pci::Adapter<T>>::new(kernel::c_str!("sample"), module);
    ///     let reg = KBox::pin_init(init, GFP_KERNEL)?;
    ///     // Dropping the registration unregisters the driver, unbinding its devices first.
    ///     drop(reg);
    ///     Ok(())
    /// }
    /// ```
    pub fn new(
        name: &'static CStr,
        module: &'static ThisModule,
    ) -> impl PinInit<Self, crate::error::Error> {
        // SAFETY: The closure initialises all of `Self` or returns an error having initialised
        // nothing that needs dropping; `slot` is pinned, so the registered C structure does not
        // move until `drop` unregisters it.
        unsafe {
            init::pin_init_from_closure(move |slot: *mut Self| {
                let reg = core::ptr::addr_of_mut!((*slot).reg);
                // `Opaque<X>` has the layout of `X`.
                reg.cast::<T::RegType>().write(T::RegType::default());
                // INVARIANT: The registration is the last step, so `drop` only ever runs on a
                // registered structure.
                T::register(&*reg, name, module)?;
                core::ptr::addr_of_mut!((*slot)._ops).write(PhantomData);
                Ok(())
            })
        }
    }
}

#[pinned_drop]
impl<T: RegistrationOps> PinnedDrop for Registration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariant `reg` is registered and not yet unregistered.
        unsafe { T::unregister(&self.reg) };
    }
}

/// Declares a kernel module that registers one driver of a bus for as long as it is loaded.
///
/// Buses wrap this macro in their own (for example [`crate::module_pci_driver!`]), naming their
/// [`RegistrationOps`] adapter.
///
/// # Examples
///
/// ```ignore
/// kernel::module_driver!(<T>, kernel::pci::Adapter<T>, {
///     type: MyDriver,
///     name: "my_driver",
///     license: "GPL",
/// });
/// ```
#[macro_export]
macro_rules! module_driver {
    (<$gen:ident>, $adapter:ty, { type: $type:ty, name: $name:tt, $($f:tt)* }) => {
        type __DriverOps<$gen> = $adapter;

        struct __DriverModule {
            _reg: ::core::pin::Pin<
                $crate::alloc::KBox<$crate::driver::Registration<__DriverOps<$type>>>,
            >,
        }

        impl $crate::Module for __DriverModule {
            fn init(module: &'static $crate::ThisModule) -> $crate::error::Result<Self> {
                Ok(Self {
                    _reg: <$crate::alloc::KBox<_> as $crate::init::InPlaceInit<_>>::try_pin_init(
                        $crate::driver::Registration::new($crate::c_str!($name), module),
                        $crate::alloc::flags::GFP_KERNEL,
                    )?,
                })
            }
        }

        $crate::prelude::module! {
            type: __DriverModule,
            name: $name,
            $($f)*
        }
    };
}
