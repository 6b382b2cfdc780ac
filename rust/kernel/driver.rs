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
    alloc::{flags::GFP_KERNEL, Flags, KBox, KVec},
    bindings, c_str,
    device::{Bound, Device},
    error::{code::*, Error, Result},
    init::{self, InPlaceInit, PinInit},
    new_mutex,
    str::CStr,
    sync::{completion::Completion, Arc, Mutex},
    types::{ForeignOwnable, Opaque},
    ThisModule,
};
use core::{
    any::TypeId,
    ffi::c_void,
    marker::PhantomData,
    pin::Pin,
    ptr::{self, NonNull},
    sync::atomic::{AtomicPtr, AtomicU32, Ordering},
};
use macros::{pin_data, pinned_drop};

#[cfg(all(
    CONFIG_RUST_DRIVER_CORE_KUNIT_TEST,
    CONFIG_HAS_DMA,
    CONFIG_IOMMU_IO_PGTABLE
))]
pub(crate) mod generic_tests;
pub(crate) mod unbind;

pub(crate) use unbind::UnbindList;

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

/// The driver data of a device bound to a driver of these bindings: the type of the driver, and
/// the value its `probe` returned.
///
/// A bus adapter installs it ([`DriverData::install`]) as the device's C driver data, and as a
/// managed resource of the binding, before it calls the driver's `probe`; it publishes the value
/// that `probe` returns ([`DriverData::publish`]) and lends it to `remove`. Installed before
/// `probe` creates anything, it is released after everything the binding created: after every
/// interrupt registration and every bound work, whose code reads it through
/// [`Device::drvdata`], also those whose `Devres` the driver leaked or kept out of its data. So
/// the driver data is dropped last at unbind, after the driver's managed resources.
///
/// # Invariants
///
/// - `data` is NULL until the bus publishes the driver's value; from then on it is the result of
///   `into_foreign()` of a `Pin<KBox<T>>` with `TypeId::of::<T>() == type_id`, unchanged until
///   [`DriverData::release`] drops it.
/// - `drop_data` is `drop_data::<T>` for that `T`.
/// - `paths` holds the binding's data path; it is stopped ([`Paths::stop`]) before any managed
///   resource of the binding is released.
/// - `unbind` holds the binding's resources that are not managed resources of the driver core;
///   it is released with the header, after them.
pub(crate) struct DriverData {
    type_id: TypeId,
    data: AtomicPtr<c_void>,
    drop_data: unsafe fn(*mut c_void),
    paths: Arc<Paths>,
    unbind: Arc<UnbindList>,
}

// `kernel::irq` (interrupt registrations and bound work) makes the data paths: in a tree without
// it, as at the earlier steps of the patch series, nothing uses the items marked with this.

/// A [`DataPath`] is not on the list of its binding.
#[allow(dead_code)]
const UNLISTED: u32 = 0;
/// The path is on the list.
#[allow(dead_code)]
const LISTED: u32 = 1;
/// The bus took the path off the list to stop it; `done` is completed once it has.
const TAKEN: u32 = 2;

/// The data path of a binding: its interrupt registrations and bound work, which run with the
/// bound device outside the bus callbacks.
///
/// The bus stops all of it ([`Paths::stop`]) when `remove` has returned, or when probe failed,
/// before the device's managed resources are released: from then on no handler and no work of
/// the binding runs, and none is running. So for as long as a handler or a work runs with the
/// bound device, no managed resource of the binding has been released, also not one created
/// after the handler's registration (a buffer mapped by the handler, say).
#[pin_data]
pub(crate) struct Paths {
    #[pin]
    list: Mutex<PathList>,
}

/// The paths of a binding, newest last.
///
/// # Invariants
///
/// Every pointer is to a pinned, live [`DataPath`] whose state is [`LISTED`]; once `closed`,
/// nothing is added.
struct PathList {
    closed: bool,
    items: KVec<*const DataPath>,
}

// SAFETY: The pointers are only dereferenced under the lock, by the bus that stops the paths;
// the paths themselves are `Sync`.
unsafe impl Send for PathList {}

impl Paths {
    /// Stops the paths until none is left, the bound work first and then the interrupt lines,
    /// newest first within each; nothing can be added after.
    ///
    /// The work goes first so that a work that waits for an interrupt (a command it started)
    /// still gets it; a handler that queues a disabled work only gets `false`. Sleeps until every
    /// handler and work of the binding has returned.
    pub(crate) fn stop(&self) {
        loop {
            let path = {
                let mut list = self.list.lock();
                list.closed = true;
                let n = list.items.len();
                // SAFETY: Listed paths are live (type invariant of `PathList`).
                let rank = |i: usize| unsafe { (*list.items[i]).rank };
                let Some(first) = (0..n).map(rank).min() else {
                    return;
                };
                // The newest path of the lowest rank.
                let Some(i) = (0..n).rev().find(|&i| rank(i) == first) else {
                    return;
                };
                let path = list.items[i];
                list.items.as_mut_slice().copy_within(i + 1..n, i);
                // SAFETY: Shortening a vector of plain pointers by the one removed.
                unsafe { list.items.set_len(n - 1) };
                // SAFETY: As above.
                unsafe { (*path).state.store(TAKEN, Ordering::Relaxed) };
                path
            };
            // SAFETY: A taken path stays alive until its owner's `DataPath::finish` has
            // returned, which waits for `done`; `stop` is the owner's function for it.
            unsafe {
                ((*path).stop)(path);
                (*path).done.complete();
            }
        }
    }
}

/// An interrupt registration or a bound work, as the bus stops it.
///
/// # Invariants
///
/// `state` changes only under the lock of `paths`: [`UNLISTED`] to [`LISTED`] in
/// [`DataPath::add`], back in [`DataPath::finish`], and [`LISTED`] to [`TAKEN`] in
/// [`Paths::stop`], which then runs `stop` and completes `done` once.
#[allow(dead_code)]
#[pin_data]
pub(crate) struct DataPath {
    paths: Arc<Paths>,
    state: AtomicU32,
    /// The bus stops the paths of the lowest rank first.
    rank: PathRank,
    stop: unsafe fn(*const DataPath),
    #[pin]
    done: Completion,
}

/// The kind of a [`DataPath`], in the order the bus stops them.
#[allow(dead_code)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PathRank {
    /// A bound work.
    Work,
    /// An interrupt line.
    Line,
}

#[allow(dead_code)]
impl DataPath {
    /// A path of `dev`'s binding, of kind `rank`, which the bus stops with `stop`.
    pub(crate) fn new(
        dev: &Device<Bound>,
        rank: PathRank,
        stop: unsafe fn(*const DataPath),
    ) -> impl PinInit<Self> {
        // SAFETY: A driver of these bindings is bound while `dev` lives, with a header
        // installed as its driver data (type invariants of `Device<Bound>`).
        let header = unsafe { &*(*dev.as_raw()).driver_data.cast::<DriverData>() };
        crate::pin_init!(Self {
            paths: header.paths.clone(),
            state: AtomicU32::new(UNLISTED),
            rank,
            stop,
            done <- Completion::new(),
        })
    }

    /// Starts the path with `start` and puts it on the binding's list, so that the bus stops it
    /// at unbind; fails with [`ENODEV`] once the bus is stopping the binding (or probe failed),
    /// with [`ENOMEM`], or with the error of `start`, having listed nothing. The list grows with
    /// `flags`. Sleeps.
    ///
    /// `start` runs under the list's lock (a mutex), so that the bus can not stop the binding
    /// between the start and the listing: nothing of the path runs unlisted.
    ///
    /// # Safety
    ///
    /// Once listed, the path must stay pinned and alive, and `stop` callable on it, until
    /// [`DataPath::finish`] has returned.
    pub(crate) unsafe fn start(&self, flags: Flags, start: impl FnOnce() -> Result) -> Result {
        let mut list = self.paths.list.lock();
        if list.closed {
            return Err(ENODEV);
        }
        list.items.reserve(1, flags)?;
        start()?;
        // Room was reserved above: this writes the entry and can not fail.
        let n = list.items.len();
        list.items.spare_capacity_mut()[0].write(ptr::from_ref(self));
        // SAFETY: The element at `n` was just written.
        unsafe { list.items.set_len(n + 1) };
        // INVARIANT: Listed, under the lock.
        self.state.store(LISTED, Ordering::Relaxed);
        Ok(())
    }

    /// Takes the path off the list before its owner tears it down; returns whether the bus had
    /// stopped it already (waiting for that to finish).
    pub(crate) fn finish(&self) -> bool {
        let mut list = self.paths.list.lock();
        match self.state.load(Ordering::Relaxed) {
            LISTED => {
                let me = ptr::from_ref(self);
                let n = list.items.len();
                if let Some(i) = list.items.iter().position(|&p| p == me) {
                    list.items.as_mut_slice().copy_within(i + 1..n, i);
                    // SAFETY: Shortening a vector of plain pointers by the one removed.
                    unsafe { list.items.set_len(n - 1) };
                }
                self.state.store(UNLISTED, Ordering::Relaxed);
                false
            }
            TAKEN => {
                drop(list);
                // The bus runs `stop` and completes `done` once, after taking the path.
                self.done.wait();
                true
            }
            _ => false,
        }
    }
}

/// Drops a published driver value of type `T`.
///
/// # Safety
///
/// `data` must come from `into_foreign()` of a `Pin<KBox<T>>` that nothing uses any more.
unsafe fn drop_data<T: 'static>(data: *mut c_void) {
    // SAFETY: By the function's contract.
    drop(unsafe { Pin::<KBox<T>>::from_foreign(data) });
}

impl DriverData {
    /// Installs the driver data of a binding of `dev` to a driver whose data is a `T`.
    ///
    /// Fails with [`ENOMEM`], having installed nothing.
    ///
    /// # Safety
    ///
    /// `dev` must be valid and be being bound (the bus calls the driver's probe, with the device
    /// lock held), and no bound or core reference to it may have been handed out yet for this
    /// binding. The bus must not call `remove` unless it published a value.
    pub(crate) unsafe fn install<T: Send + Sync + 'static>(
        dev: *mut bindings::device,
    ) -> Result<NonNull<DriverData>> {
        // SAFETY: `dev` as for this function; `drop_data::<T>` drops the `Pin<KBox<T>>` of the
        // type whose id is passed with it.
        unsafe { Self::install_raw(dev, TypeId::of::<T>(), drop_data::<T>) }
    }

    /// The body of [`DriverData::install`], without its type parameter: compiled once, here,
    /// rather than in every driver module.
    ///
    /// # Safety
    ///
    /// As for [`DriverData::install`]; `drop_data` must be `drop_data::<T>` for the `T` with
    /// `TypeId::of::<T>() == type_id`.
    #[inline(never)]
    unsafe fn install_raw(
        dev: *mut bindings::device,
        type_id: TypeId,
        drop_data: unsafe fn(*mut c_void),
    ) -> Result<NonNull<DriverData>> {
        let paths = Arc::pin_init(
            crate::pin_init!(Paths {
                list <- new_mutex!(PathList {
                    closed: false,
                    items: KVec::new(),
                }),
            }),
            GFP_KERNEL,
        )?;
        let unbind = Arc::pin_init(UnbindList::new(), GFP_KERNEL)?;
        // INVARIANT: `data` is NULL; `drop_data` is the drop of `type_id`'s type (caller's
        // guarantee).
        let header = KBox::new(
            DriverData {
                type_id,
                data: AtomicPtr::new(ptr::null_mut()),
                drop_data,
                paths,
                unbind,
            },
            GFP_KERNEL,
        )?;
        let header = KBox::into_raw(header);
        // SAFETY: `dev` is valid and being bound, so the action runs when probe fails or at
        // unbind; `release` takes the box made just above; the name is static.
        let ret = unsafe {
            bindings::__devm_add_action(
                dev,
                Some(Self::release),
                header.cast(),
                c_str!("rust driver data").as_char_ptr(),
            )
        };
        if ret != 0 {
            // SAFETY: The action was not added: the box is still ours, reclaimed once here.
            drop(unsafe { KBox::from_raw(header) });
            return Err(Error::from_errno(ret));
        }
        // SAFETY: `dev` is valid; nothing reads its driver data before a bound reference exists,
        // and there is none yet.
        unsafe { (*dev).driver_data = header.cast() };
        // SAFETY: `header` comes from a box.
        Ok(unsafe { NonNull::new_unchecked(header) })
    }

    /// Publishes `data`, the value that the driver's probe returned.
    ///
    /// # Safety
    ///
    /// `header` must have been installed for this `T` by [`DriverData::install`], in the probe
    /// that returned `data`, which is running; it must be published at most once.
    pub(crate) unsafe fn publish<T: Send + Sync + 'static>(
        header: NonNull<DriverData>,
        data: Pin<KBox<T>>,
    ) {
        // SAFETY: The header lives until its release, which runs after the bus's probe.
        let header = unsafe { header.as_ref() };
        // INVARIANT: Published once, a `Pin<KBox<T>>` of the header's type (caller's guarantee).
        // The release pairs with the acquire of `DriverData::get`, so that a handler of the
        // binding that finds the pointer also sees the value.
        header
            .data
            .store(data.into_foreign().cast_mut(), Ordering::Release);
    }

    /// Stops the data path of the binding of `dev`: its interrupt handlers and bound work.
    ///
    /// # Safety
    ///
    /// `dev` must be bound to a driver of these bindings whose bus adapter installed its driver
    /// data, and its `remove` must have returned, or its probe have failed; the device's managed
    /// resources must not have been released yet.
    pub(crate) unsafe fn stop_data_path(dev: *mut bindings::device) {
        // SAFETY: By the caller's contract the driver data is a live header.
        let header = unsafe { &*(*dev).driver_data.cast::<DriverData>() };
        header.paths.stop();
    }

    /// Returns the driver's value of `dev`, if it has been published and is a `T`.
    ///
    /// Fails with [`EINVAL`] if the driver data is not a `T`, and with [`ENOENT`] while the
    /// driver's probe has not returned it yet.
    ///
    /// # Safety
    ///
    /// `dev` must be bound to a driver of these bindings, whose driver data a bus adapter
    /// installed, for all of `'a`.
    pub(crate) unsafe fn get<'a, T: Send + Sync + 'static>(
        dev: *mut bindings::device,
    ) -> Result<Pin<&'a T>> {
        // SAFETY: By the caller's contract `dev` is valid and bound; its driver data was set at
        // install, before any bound reference existed, and is only cleared at release, after.
        let header = unsafe { (*dev).driver_data }.cast::<DriverData>();
        if header.is_null() {
            return Err(ENOENT);
        }
        // SAFETY: The header lives until it is released, after every user of the binding
        // (see the type's documentation), so for all of `'a`.
        let header = unsafe { &*header };
        if header.type_id != TypeId::of::<T>() {
            return Err(EINVAL);
        }
        let data = header.data.load(Ordering::Acquire);
        if data.is_null() {
            return Err(ENOENT);
        }
        // SAFETY: `data` is a published `Pin<KBox<T>>` (type invariant, and the type matched),
        // dropped only at the header's release, after `'a`.
        Ok(unsafe { <Pin<KBox<T>> as ForeignOwnable>::borrow(data) })
    }

    /// The managed action of the header: releases what is left on the binding's unbind list,
    /// drops the driver's value, if one was published, and the header.
    ///
    /// # Safety
    ///
    /// `header` must be a header installed by [`DriverData::install`]; the driver core calls this
    /// once, when probe failed or at unbind, after the binding's later managed resources.
    unsafe extern "C" fn release(header: *mut c_void) {
        // SAFETY: By the function's contract the box is ours, reclaimed once here.
        let header = unsafe { KBox::from_raw(header.cast::<DriverData>()) };
        header.unbind.release_all();
        let data = header.data.load(Ordering::Acquire);
        if !data.is_null() {
            // SAFETY: `data` is a published value of the header's type (type invariant); every
            // handler, work and callback of the binding that could borrow it has ended: their
            // resources were added after the header and are released before it.
            unsafe { (header.drop_data)(data) };
        }
    }
}

/// The probe of a bus adapter, the part every bus shares: installs the driver data of a `T`,
/// calls `probe` and publishes what it returns. When `probe` fails, the data path of the
/// binding is stopped and `fence` called before the driver core releases the binding's managed
/// resources, as after `remove` ([`remove_device`]). Returns the C status for the bus.
///
/// `probe` makes the bus's `Device<Core>` and calls the driver: the driver data is installed by
/// then, so the device counts as bound for the call.
///
/// # Safety
///
/// `dev` must be the `struct device` that the bus is probing with its device lock held, with no
/// bound or core reference to it handed out yet for this binding; the bus must call
/// [`remove_device`] for `T` at unbind if and only if this returned 0.
pub(crate) unsafe fn probe_device<T: Send + Sync + 'static>(
    dev: *mut bindings::device,
    probe: impl FnOnce() -> Result<Pin<KBox<T>>>,
    fence: impl FnOnce(),
) -> core::ffi::c_int {
    crate::error::from_result(|| {
        // SAFETY: By the function's contract `dev` is being bound, locked, and no bound
        // reference exists yet.
        let header = unsafe { DriverData::install::<T>(dev) }?;
        match probe() {
            Ok(data) => {
                // SAFETY: Installed above for `T`, in this probe; published once. The bus calls
                // `remove` only after a successful probe (function's contract).
                unsafe { DriverData::publish(header, data) };
                Ok(0)
            }
            Err(e) => {
                // The driver core releases the managed resources when this returns: first no
                // handler or work may run any more, then the device stops its DMA. Each
                // `Devres` waits for its own grace period: the probe may run in a worker (PCI
                // probes on the device's NUMA node), not in the task that releases the list,
                // so no `devres::revoke_begin()` here.
                // SAFETY: Our driver data; probe failed, nothing is released yet.
                unsafe { DriverData::stop_data_path(dev) };
                fence();
                Err(e)
            }
        }
    })
}

/// The remove of a bus adapter, the part every bus shares: lends the driver's data to `remove`,
/// then stops the data path of the binding (its interrupt handlers and bound work), calls
/// `fence` (for PCI, bus mastering off) and revokes every `Devres` of the binding with one
/// grace period ([`devres`](crate::devres#one-grace-period-per-unbind)), before the driver
/// core releases the binding's managed resources and then the driver data.
///
/// # Safety
///
/// `dev` must be the `struct device` of a device bound to `T` by [`probe_device`], which the bus
/// is unbinding, with its device lock held.
pub(crate) unsafe fn remove_device<T: Send + Sync + 'static>(
    dev: *mut bindings::device,
    remove: impl FnOnce(Pin<&T>),
    fence: impl FnOnce(),
) {
    {
        // SAFETY: By the function's contract the device is bound to `T` (by `probe_device`,
        // which installed its driver data) for the length of the call.
        let bound = unsafe { Device::<Bound>::from_raw(dev) };
        // `remove` only runs after a successful probe, which published the driver's value.
        if let Ok(data) = bound.drvdata::<T>() {
            remove(data);
        }
    }
    // Before anything is freed: no interrupt handler or bound work runs any more, then the
    // device stops its DMA, then every reader of a `Devres` is waited for, all at once.
    // SAFETY: Our driver data; `remove` has returned, nothing is released yet.
    unsafe { DriverData::stop_data_path(dev) };
    fence();
    // SAFETY: `dev` is valid and being unbound, its device lock held (function's contract);
    // the driver core calls a bus's remove from the task that then releases the devres list,
    // in process context, outside any read-side critical section.
    unsafe { crate::devres::revoke_begin(dev) };
}

impl Device<Bound> {
    /// Returns the driver's data, the value its `probe` returned, if it is a `T`.
    ///
    /// This is how an interrupt handler or a bound work reaches the driver's data. The data
    /// lives until the end of the unbind, after every handler and work of the binding; it is
    /// shared, so what a handler changes in it needs a lock or atomics.
    ///
    /// Fails with [`EINVAL`] if the driver's data is not a `T`, and with [`ENOENT`] while `probe`
    /// runs (its value does not exist yet).
    ///
    /// # Examples
    ///
    /// ```
    /// use core::sync::atomic::{AtomicU32, Ordering};
    /// use kernel::device::{Bound, Device};
    ///
    /// struct MyDriver {
    ///     events: AtomicU32,
    /// }
    ///
    /// // Called from an interrupt handler of the driver, for instance.
    /// fn count_event(dev: &Device<Bound>) -> Result {
    ///     dev.drvdata::<MyDriver>()?.events.fetch_add(1, Ordering::Relaxed);
    ///     Ok(())
    /// }
    /// ```
    pub fn drvdata<T: Send + Sync + 'static>(&self) -> Result<Pin<&T>> {
        // SAFETY: A driver of these bindings is bound for as long as `&self` lives, and its
        // driver data is a bus adapter's header (type invariants of `Device<Bound>`).
        unsafe { DriverData::get(self.as_raw()) }
    }
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
