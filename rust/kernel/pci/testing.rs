// SPDX-License-Identifier: GPL-2.0

//! Support shared by the KUnit suites that bind test drivers to QEMU's `edu` devices.
//!
//! A suite registers a [`pci::Driver`] for the `edu` id (1234:11e8) with [`register`]. Checks
//! made inside driver callbacks, where no [`Test`] is at hand, are counted in a [`Checks`] and
//! reported by the case afterwards. [`DevRef`] keeps a probed device so that a case can unbind
//! and rebind it through the driver core.

use crate::{
    bindings, device_id::IdArray, driver::Registration, kunit::Test, pci, prelude::*, str::CStr,
    sync::Arc, ThisModule,
};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};

/// QEMU's `edu` device.
pub(crate) const EDU_VENDOR: u32 = 0x1234;
pub(crate) const EDU_DEVICE: u32 = 0x11e8;
/// What the identification register (BAR 0, offset 0) of QEMU's `edu` reads as.
pub(crate) const EDU_ID: u32 = 0x010000ed;

// SAFETY: Built-in code has no module; NULL is `THIS_MODULE` there.
pub(crate) static NO_MODULE: ThisModule = unsafe { ThisModule::from_ptr(core::ptr::null_mut()) };

/// An id table that matches the `edu` device, with no per-entry data.
pub(crate) static EDU: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(EDU_VENDOR, EDU_DEVICE), ())]);

/// A registered test driver; unregistered (every device unbound) when dropped.
pub(crate) type TestRegistration<T> = Pin<KBox<Registration<pci::Adapter<T>>>>;

/// Registers the test driver `T` as `name`; it probes every `edu` device before this returns.
pub(crate) fn register<T: pci::Driver>(name: &'static CStr) -> Result<TestRegistration<T>> {
    KBox::pin_init(Registration::new(name, &NO_MODULE), GFP_KERNEL)
}

/// Registers `T` as `name`, or fails the case and returns `None`.
pub(crate) fn register_or_fail<T: pci::Driver>(
    test: &mut Test,
    name: &'static CStr,
) -> Option<TestRegistration<T>> {
    match register::<T>(name) {
        Ok(reg) => Some(reg),
        Err(e) => {
            crate::kunit::err(format_args!("    registration failed: {:?}\n", e));
            crate::kunit_expect!(test, false);
            None
        }
    }
}

/// Checks made in driver callbacks, reported by the case that caused them.
pub(crate) struct Checks {
    made: AtomicUsize,
    failed: AtomicUsize,
    first_failed_line: AtomicUsize,
}

impl Checks {
    pub(crate) const fn new() -> Self {
        Self {
            made: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            first_failed_line: AtomicUsize::new(0),
        }
    }

    pub(crate) fn reset(&self) {
        self.made.store(0, SeqCst);
        self.failed.store(0, SeqCst);
        self.first_failed_line.store(0, SeqCst);
    }

    /// Records one check, made at `line`.
    pub(crate) fn record(&self, ok: bool, line: u32) {
        self.made.fetch_add(1, SeqCst);
        if !ok && self.failed.fetch_add(1, SeqCst) == 0 {
            self.first_failed_line.store(line as usize, SeqCst);
        }
    }

    pub(crate) fn made(&self) -> usize {
        self.made.load(SeqCst)
    }

    pub(crate) fn failed(&self) -> usize {
        self.failed.load(SeqCst)
    }

    /// Fails the case if any check failed (naming the line of the first) or fewer than `at_least`
    /// were made.
    pub(crate) fn report(&self, test: &mut Test, at_least: usize) {
        crate::kunit_expect_eq!(test, self.failed(), 0);
        crate::kunit_expect_eq!(test, self.first_failed_line.load(SeqCst), 0);
        crate::kunit_expect!(test, self.made() >= at_least);
    }
}

/// Records a check in a [`Checks`], with the line it is made at.
macro_rules! probe_check {
    ($checks:expr, $cond:expr) => {
        $checks.record($cond, line!())
    };
}
pub(crate) use probe_check;

/// A value that a driver callback hands to the case (or the other way round): a slot for one
/// `Arc<T>`, empty or full.
///
/// # Invariants
///
/// The pointer is NULL or comes from `Arc::into_raw` of an `Arc<T>` that the slot owns.
pub(crate) struct ArcSlot<T>(AtomicPtr<T>);

impl<T> ArcSlot<T> {
    pub(crate) const fn new() -> Self {
        Self(AtomicPtr::new(core::ptr::null_mut()))
    }

    /// Puts `value` in the slot, dropping what it held.
    pub(crate) fn put(&self, value: Arc<T>) {
        // INVARIANT: The slot owns the reference from here on.
        drop(self.swap(Arc::into_raw(value).cast_mut()));
    }

    /// Takes what the slot holds, if anything.
    pub(crate) fn take(&self) -> Option<Arc<T>> {
        self.swap(core::ptr::null_mut())
    }

    fn swap(&self, new: *mut T) -> Option<Arc<T>> {
        let old = self.0.swap(new, SeqCst);
        // SAFETY: A non-NULL pointer of the slot is a reference from `Arc::into_raw` that the
        // slot owned (type invariant) and no longer holds.
        (!old.is_null()).then(|| unsafe { Arc::from_raw(old) })
    }
}

impl<T> Drop for ArcSlot<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// A counted reference to a PCI device, kept by a driver callback for the case to use.
pub(crate) struct DevRef(AtomicPtr<bindings::pci_dev>);

impl DevRef {
    pub(crate) const fn new() -> Self {
        Self(AtomicPtr::new(core::ptr::null_mut()))
    }

    /// Keeps `pdev` unless a device is kept already; returns whether it was kept.
    pub(crate) fn keep_first<Ctx: crate::device::DeviceContext>(
        &self,
        pdev: &pci::Device<Ctx>,
    ) -> bool {
        if !self.0.load(SeqCst).is_null() {
            return false;
        }
        // SAFETY: `pdev` is a valid device; the reference taken here is put by `put`.
        let raw = unsafe { bindings::pci_dev_get(pdev.as_raw()) };
        if self
            .0
            .compare_exchange(core::ptr::null_mut(), raw, SeqCst, SeqCst)
            .is_err()
        {
            // SAFETY: Taken just above and not stored.
            unsafe { bindings::pci_dev_put(raw) };
            return false;
        }
        true
    }

    /// Returns the kept device's `struct device`, or NULL.
    pub(crate) fn dev(&self) -> *mut bindings::device {
        let pdev = self.0.load(SeqCst);
        if pdev.is_null() {
            return core::ptr::null_mut();
        }
        // SAFETY: `pdev` is referenced until `put`.
        unsafe { &raw mut (*pdev).dev }
    }

    /// Unbinds the kept device from its driver.
    pub(crate) fn unbind(&self) {
        let dev = self.dev();
        if !dev.is_null() {
            // SAFETY: `dev` is referenced; unbinding takes the device lock itself.
            unsafe { bindings::device_release_driver(dev) };
        }
    }

    /// Binds the kept device to a driver; returns 1 if one bound, as `device_attach()` does.
    pub(crate) fn bind(&self) -> i32 {
        let dev = self.dev();
        if dev.is_null() {
            return 0;
        }
        // SAFETY: `dev` is referenced; binding takes the device lock itself.
        unsafe { bindings::device_attach(dev) }
    }

    /// Puts the kept reference.
    pub(crate) fn put(&self) {
        let pdev = self.0.swap(core::ptr::null_mut(), SeqCst);
        if !pdev.is_null() {
            // SAFETY: The reference was taken by `keep_first`.
            unsafe { bindings::pci_dev_put(pdev) };
        }
    }
}

/// Returns the number of `edu` devices present.
pub(crate) fn edu_count() -> usize {
    let mut pdev = core::ptr::null_mut();
    let mut count = 0;
    loop {
        // SAFETY: `pci_get_device` takes a reference to the next match and drops the one on
        // `pdev`, which is NULL or the previous match.
        pdev = unsafe { bindings::pci_get_device(EDU_VENDOR, EDU_DEVICE, pdev) };
        if pdev.is_null() {
            return count;
        }
        count += 1;
    }
}
