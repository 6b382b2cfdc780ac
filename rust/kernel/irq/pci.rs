// SPDX-License-Identifier: GPL-2.0

//! Interrupt vectors of a PCI device: its legacy INTx line, MSI or MSI-X.
//!
//! [`pci::Device::alloc_irq_vectors`] allocates them in `probe` (`pci_alloc_irq_vectors()`);
//! [`IrqVectors::vector`] hands out one as an [`Irq`] for a [`Registration`]. The vectors are
//! held in a [`Devres`] that every [`Irq`] of theirs shares: they are freed
//! (`pci_free_irq_vectors()`) when the last holder lets go, at unbind at the latest, and always
//! after every registration on them (a registration made on a vector of an earlier binding is
//! refused).
//!
//! [`Registration`]: super::Registration

use super::{Irq, Keep};
use crate::{
    bindings,
    device::{Bound, Core, Device},
    devres::Devres,
    error::{code::*, Error, Result},
    pci,
    prelude::*,
    sync::Arc,
    types::ARef,
};
use core::mem::ManuallyDrop;

/// The kinds of vectors an allocation may use (`PCI_IRQ_*`).
///
/// # Examples
///
/// ```
/// use kernel::irq::pci::IrqTypes;
///
/// // MSI-X if the device has it, else MSI, else the INTx line.
/// let any = IrqTypes::MSIX | IrqTypes::MSI | IrqTypes::INTX;
/// assert_eq!(any, IrqTypes::ALL);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqTypes(u32);

impl IrqTypes {
    /// The legacy INTx line (`PCI_IRQ_INTX`).
    pub const INTX: IrqTypes = IrqTypes(bindings::PCI_IRQ_INTX);
    /// MSI (`PCI_IRQ_MSI`).
    pub const MSI: IrqTypes = IrqTypes(bindings::PCI_IRQ_MSI);
    /// MSI-X (`PCI_IRQ_MSIX`).
    pub const MSIX: IrqTypes = IrqTypes(bindings::PCI_IRQ_MSIX);
    /// Any of them (`PCI_IRQ_ALL_TYPES`).
    pub const ALL: IrqTypes = IrqTypes(bindings::PCI_IRQ_ALL_TYPES);
}

impl core::ops::BitOr for IrqTypes {
    type Output = IrqTypes;

    fn bitor(self, rhs: IrqTypes) -> IrqTypes {
        IrqTypes(self.0 | rhs.0)
    }
}

/// The kind of vectors an allocation got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqType {
    /// The legacy INTx line.
    Intx,
    /// MSI.
    Msi,
    /// MSI-X.
    MsiX,
}

/// Allocated vectors, freed when dropped.
///
/// # Invariants
///
/// `count` vectors were allocated on `pdev` with `pci_alloc_irq_vectors()` and are freed only in
/// `drop`.
struct Vectors {
    pdev: ARef<pci::Device>,
    count: u32,
    kind: IrqType,
}

impl Drop for Vectors {
    fn drop(&mut self) {
        // SAFETY: Allocated on `pdev` (type invariant); every registration on them has been
        // freed, since each holds the vectors' `Devres` and is freed before it at unbind.
        unsafe { bindings::pci_free_irq_vectors(self.pdev.as_raw()) };
    }
}

// SAFETY: The vectors stay allocated until `Vectors` is dropped, which its `Devres` does when
// the binding that made them is unbound at the latest, after every devres action added later;
// `access(dev)` succeeds only with that binding's bound device.
unsafe impl Keep for Devres<Vectors> {
    fn valid_for(&self, dev: &Device<Bound>) -> bool {
        self.access(dev).is_ok()
    }
}

/// The interrupt vectors of a PCI device; see the [module documentation](self).
///
/// # Examples
///
/// ```
/// use kernel::{device::Core, irq::pci::{IrqTypes, IrqVectors}, pci};
///
/// fn vectors(pdev: &pci::Device<Core>) -> Result<IrqVectors> {
///     // Nothing to free by hand: the vectors go at unbind, after the handlers on them.
///     pdev.alloc_irq_vectors(1, 4, IrqTypes::MSI | IrqTypes::INTX)
/// }
/// ```
///
/// # Invariants
///
/// The field is dropped exactly once, by `IrqVectors`'s `Drop`.
pub struct IrqVectors(ManuallyDrop<Arc<Devres<Vectors>>>);

// The field's drop is compiled once, here, rather than in every module that drops the vectors.
impl Drop for IrqVectors {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: The field is dropped here and nowhere else, and `self` is not used after its
        // drop: exactly once (type invariant).
        unsafe { ManuallyDrop::drop(&mut self.0) };
    }
}

impl IrqVectors {
    /// Returns the number of vectors.
    pub fn count(&self) -> u32 {
        self.0.try_access_with(|v| v.count).unwrap_or(0)
    }

    /// Returns the kind of vectors, or `None` if they have been freed (at unbind).
    pub fn kind(&self) -> Option<IrqType> {
        self.0.try_access_with(|v| v.kind)
    }

    /// Returns vector `index` as a line for a [`Registration`](super::Registration).
    ///
    /// Fails with [`EINVAL`] for an index past the allocation or a device the vectors are not
    /// of, and with [`ENXIO`] once they have been freed. May sleep.
    pub fn vector(&self, dev: &Device<Bound>, index: u32) -> Result<Irq> {
        // `pci_irq_vector()` takes a mutex.
        crate::might_sleep!();
        let v = self.0.access(dev)?;
        if index >= v.count {
            return Err(EINVAL);
        }
        // SAFETY: `v.pdev` has vectors allocated (type invariant of `Vectors`), and `index` is
        // one of them.
        let irq = unsafe { bindings::pci_irq_vector(v.pdev.as_raw(), index) };
        let irq = u32::try_from(irq).map_err(|_| Error::from_errno(irq))?;
        // SAFETY: `irq` is a vector of `dev`, allocated until the `Devres` drops `Vectors`, and
        // `Keep::valid_for` says so until then.
        Ok(unsafe { Irq::new(dev, irq, Arc::clone(&self.0)) })
    }
}

/// Returns whether MSI and whether MSI-X vectors are allocated on `pdev`.
///
/// # Safety
///
/// `pdev` must be valid, and its device lock held.
unsafe fn enabled(pdev: *mut bindings::pci_dev) -> (bool, bool) {
    // SAFETY: By the caller's contract; the raw accessors read the bits without a reference to
    // the whole structure.
    unsafe {
        (
            bindings::pci_dev::msi_enabled_raw(pdev) != 0,
            bindings::pci_dev::msix_enabled_raw(pdev) != 0,
        )
    }
}

impl pci::Device<Core> {
    /// Allocates between `min` and `max` interrupt vectors of the kinds `types`, as
    /// `pci_alloc_irq_vectors()` does (MSI-X is tried before MSI, MSI before INTx).
    ///
    /// The vectors are freed at unbind at the latest, after every [`Registration`] on them.
    ///
    /// Fails with [`EINVAL`] for `min` zero or above `max`, no kind, or kinds the device does not
    /// have, [`EBUSY`] while MSI or MSI-X vectors of the device are allocated (a second
    /// allocation, which the C code warns of), [`ENOSPC`] if fewer than `min` can be had, and
    /// [`ENOMEM`]. May sleep.
    ///
    /// [`Registration`]: super::Registration
    pub fn alloc_irq_vectors(&self, min: u32, max: u32, types: IrqTypes) -> Result<IrqVectors> {
        crate::might_sleep!();
        if min == 0 || min > max || types.0 == 0 || types.0 & !IrqTypes::ALL.0 != 0 {
            return Err(EINVAL);
        }
        let pdev = self.as_raw();
        // SAFETY: `pdev` is valid; the device lock (held in the `Core` context) serialises the
        // changes of these bits, which only vector allocation and freeing make.
        let (msi, msix) = unsafe { enabled(pdev) };
        if msi || msix {
            return Err(EBUSY);
        }
        // SAFETY: `pdev` is valid, and no MSI or MSI-X vectors are allocated.
        let n = unsafe { bindings::pci_alloc_irq_vectors(pdev, min, max, types.0) };
        let count = u32::try_from(n).map_err(|_| Error::from_errno(n))?;
        // SAFETY: As above; the bits now say which kind the allocation got.
        let kind = match unsafe { enabled(pdev) } {
            (_, true) => IrqType::MsiX,
            (true, false) => IrqType::Msi,
            (false, false) => IrqType::Intx,
        };
        // INVARIANT: Allocated just now; should the `Devres` not be made, `Vectors` frees them.
        let normal: &pci::Device = self;
        let vectors = Vectors {
            pdev: normal.into(),
            count,
            kind,
        };
        let vectors = Arc::new(Devres::new(self.as_ref(), vectors, GFP_KERNEL)?, GFP_KERNEL)?;
        // INVARIANT: A new `Arc`, which only the drop of the result drops.
        Ok(IrqVectors(ManuallyDrop::new(vectors)))
    }
}
