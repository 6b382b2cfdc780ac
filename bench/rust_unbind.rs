// SPDX-License-Identifier: GPL-2.0

//! Unbind time of a binding that holds `Devres` values, the counterpart of `c_unbind.c`.
//!
//! A PCI driver for QEMU's `edu` device (1234:11e8) whose probe allocates [`COUNTS`]`[k]` values
//! of 64 bytes, each in a [`Devres`], and keeps them in its driver data, as a driver keeps its
//! resources. Every one of them is revoked and dropped when the driver is unbound.
//!
//! The module's init registers the driver (which binds the one `edu` device whose
//! `driver_override` names it) and then, for each count `n` of [`COUNTS`]: rebinds once, untimed,
//! so that the binding holds `n` values, and [`REPS`] times unbinds the device
//! (`device_release_driver()`, timed) and binds it again (`device_attach()`, untimed). For every
//! count it prints one line
//!
//! ```text
//! BENCH rust unbind_devres_<n> n=<n> reps=<reps> median=<ns> min=<ns> max=<ns> ns/op
//! ```
//!
//! whose times are those of one whole unbind (not per value), and at the end
//! `BENCH-DONE rust-unbind` (or `BENCH-FAILED rust-unbind: <error>`, and init fails).
//! `c_unbind.c` does the same with `devm_kzalloc()`; `scripts/bench.sh` compares the two.

use core::{
    ptr::NonNull,
    sync::atomic::{AtomicPtr, AtomicUsize, Ordering},
};
use kernel::{
    bindings, c_str,
    device::{Core, Device, RawDevice},
    device_id::IdArray,
    devres::Devres,
    driver::Registration,
    pci,
    prelude::*,
    time::Ktime,
    types::ARef,
};

/// Timed unbinds per count.
const REPS: usize = 7;

/// The numbers of values a binding holds, one benchmark line each; `c_unbind.c` uses the same.
const COUNTS: [usize; 3] = [1, 10, 100];

/// One value: 64 bytes, the size of `c_unbind.c`'s allocations.
type Value = [u64; 8];

/// The number of values the next probe allocates; set by module init before each rebind.
static COUNT: AtomicUsize = AtomicUsize::new(1);

/// The device of the first probe, with a reference (from [`ARef::into_raw`]) that the module
/// drops when it is unloaded; NULL before that probe.
static DEVICE: AtomicPtr<pci::Device> = AtomicPtr::new(core::ptr::null_mut());

/// The driver data: the binding's values.
struct RustUnbind {
    _values: KVec<Devres<Value>>,
}

static ID_TABLE: IdArray<pci::DeviceId, (), 1> =
    IdArray::new([(pci::DeviceId::from_id(0x1234, 0x11e8), ())]);

impl pci::Driver for RustUnbind {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &ID_TABLE;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        let dev: &Device<Core> = pdev.as_ref();
        let n = COUNT.load(Ordering::Relaxed);
        let mut values = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            values.push(Devres::new(dev, [0u64; 8], GFP_KERNEL)?, GFP_KERNEL)?;
        }
        if DEVICE.load(Ordering::Acquire).is_null() {
            let this: ARef<pci::Device> = (&***pdev).into();
            let raw = ARef::into_raw(this).as_ptr();
            if DEVICE
                .compare_exchange(
                    core::ptr::null_mut(),
                    raw,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_err()
            {
                // SAFETY: `raw` holds the reference that `ARef::into_raw` gave up just above;
                // it was not published, so it is still this function's to drop.
                drop(unsafe { ARef::from_raw(NonNull::new_unchecked(raw)) });
            }
        }
        Ok(KBox::pin(RustUnbind { _values: values }, GFP_KERNEL)?)
    }
}

// Binding and unbinding from module init: `device_release_driver()` and `device_attach()` are
// what the driver core's sysfs `unbind` attribute and a bus rescan call. They take the device
// lock themselves and need only a valid, registered device, which the reference in `DEVICE`
// guarantees (the device is never removed from its bus here).

/// Unbinds `dev` from its driver, if any.
fn unbind(dev: &pci::Device) {
    // SAFETY: See above: `dev` is valid and registered; the call takes the device lock.
    unsafe { bindings::device_release_driver(dev.raw_device()) };
}

/// Binds `dev`; fails if no driver took it ([`ENODEV`]) or with the probe's error.
fn attach(dev: &pci::Device) -> Result {
    // SAFETY: As for `unbind`.
    let r = unsafe { bindings::device_attach(dev.raw_device()) };
    match r {
        1 => Ok(()),
        0 => Err(ENODEV),
        _ => Err(Error::from_errno(r)),
    }
}

/// Nanoseconds of `CLOCK_MONOTONIC`.
fn now() -> u64 {
    Ktime::ktime_get().to_ns() as u64
}

/// Times [`REPS`] unbinds of `dev` bound with `n` values, and prints their median, minimum and
/// maximum.
fn measure(dev: &pci::Device, n: usize) -> Result {
    COUNT.store(n, Ordering::Relaxed);
    // The binding of the previous count goes; the one that follows holds `n` values.
    unbind(dev);
    attach(dev)?;
    let mut ns = [0u64; REPS];
    for slot in ns.iter_mut() {
        let t0 = now();
        unbind(dev);
        *slot = now() - t0;
        attach(dev)?;
    }
    // Insertion sort: a handful of values, and no panicking paths.
    for i in 1..REPS {
        let mut j = i;
        while j > 0 && ns[j - 1] > ns[j] {
            ns.swap(j - 1, j);
            j -= 1;
        }
    }
    pr_info!(
        "BENCH rust unbind_devres_{} n={} reps={} median={} min={} max={} ns/op\n",
        n,
        n,
        REPS,
        ns[REPS / 2],
        ns[0],
        ns[REPS - 1]
    );
    Ok(())
}

struct UnbindModule {
    reg: Option<Pin<KBox<Registration<pci::Adapter<RustUnbind>>>>>,
}

impl UnbindModule {
    /// Runs the benchmarks on the device of the first probe.
    fn run(&self) -> Result {
        let raw = DEVICE.load(Ordering::Acquire);
        if raw.is_null() {
            pr_info!("BENCH-FAILED rust-unbind: no edu device bound to rust_unbind\n");
            return Err(ENODEV);
        }
        // SAFETY: `DEVICE` holds a reference to the device, which `drop` gives up only after
        // this module is done with it.
        let dev = unsafe { &*raw };
        for n in COUNTS {
            if let Err(e) = measure(dev, n) {
                pr_info!("BENCH-FAILED rust-unbind: n={}: {:?}\n", n, e);
                return Err(e);
            }
        }
        pr_info!("BENCH-DONE rust-unbind\n");
        Ok(())
    }
}

impl kernel::Module for UnbindModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        COUNT.store(COUNTS[0], Ordering::Relaxed);
        let reg = KBox::pin_init(Registration::new(c_str!("rust_unbind"), module), GFP_KERNEL)?;
        // On an error, dropping `this` unregisters the driver and drops the device reference.
        let this = Self { reg: Some(reg) };
        this.run()?;
        Ok(this)
    }
}

impl Drop for UnbindModule {
    fn drop(&mut self) {
        // Unregister (unbinding the device) first: no probe can publish a device afterwards.
        drop(self.reg.take());
        if let Some(raw) = NonNull::new(DEVICE.swap(core::ptr::null_mut(), Ordering::AcqRel)) {
            // SAFETY: A non-NULL `DEVICE` holds the reference that the probe gave up with
            // `ARef::into_raw`; swapped out, it is this function's to drop.
            drop(unsafe { ARef::from_raw(raw) });
        }
    }
}

module! {
    type: UnbindModule,
    name: "rust_unbind",
    author: "Rust for Linux Contributors",
    description: "Unbind time of a binding holding Devres values, against C's devm_ resources",
    license: "GPL v2",
}
