// SPDX-License-Identifier: GPL-2.0

//! Interrupt lines of a platform device.
//!
//! [`platform::Device::irq`] looks up line `index` of a bound platform device, as
//! `platform_get_irq_optional()` does: from its firmware node (OF, or ACPI `GpioInt`) or its
//! `IORESOURCE_IRQ` resources, without printing anything when there is none. The line is the
//! device's for as long as the device is registered, beyond any one binding, but the [`Irq`] is
//! valid only for registrations of the binding that looked it up, as on PCI: a line kept past an
//! unbind is refused by [`Registration::new`] in the next binding. An OF or ACPI line is a
//! mapping in the interrupt domain of another device (an interrupt or GPIO controller), which
//! may be undone and redone between two bindings of this one, with another number; looking the
//! line up again in each binding gets the current one.
//!
//! [`Registration::new`]: crate::irq::Registration::new

use crate::{
    bindings,
    device::{Bound, Device},
    devres::Devres,
    error::{Error, Result},
    irq::{Irq, Keep},
    platform,
    prelude::*,
    sync::Arc,
};

/// The binding a line was looked up in; its [`Devres`] is released at that binding's unbind.
struct Binding;

// SAFETY: `access(dev)` succeeds only for the bound device of the binding that made the `Devres`,
// until that binding's devres list is released. The lines it keeps are lines of that device
// (`platform_get_irq_optional()` returned them), which stay allocated for as long as the device
// is registered (its resources, or the OF and ACPI mappings made for it, which are not undone
// while it is bound), so past the release of the binding's devres list and of every devres
// action added to it, as `devm_request_irq()` relies on in C.
unsafe impl Keep for Devres<Binding> {
    fn valid_for(&self, dev: &Device<Bound>) -> bool {
        self.access(dev).is_ok()
    }
}

impl platform::Device<Bound> {
    /// Returns interrupt line `index` of the device, for a [`Registration`] of this binding.
    ///
    /// Fails with [`ENXIO`] if the device has no such line (the C code's answer, which it gives
    /// silently, unlike `platform_get_irq()`), with [`EPROBE_DEFER`] if its interrupt controller
    /// is not ready yet, with [`EINVAL`] if firmware describes line 0 (the C code warns of it),
    /// and with [`ENOMEM`]. May sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, device::{Bound, Device}, devres::Devres, irq, platform};
    ///
    /// struct Quiet;
    ///
    /// impl irq::Handler for Quiet {
    ///     fn handle(&self, _dev: &Device<Bound>) -> irq::IrqReturn {
    ///         irq::IrqReturn::None
    ///     }
    /// }
    ///
    /// fn listen(pdev: &platform::Device<Bound>) -> Result<Devres<irq::Registration<Quiet>>> {
    ///     let line = pdev.irq(0)?;
    ///     irq::Registration::new(pdev.as_ref(), line, irq::Flags::NONE, c_str!("sample"), Quiet)
    /// }
    /// ```
    ///
    /// [`Registration`]: crate::irq::Registration
    pub fn irq(&self, index: u32) -> Result<Irq> {
        // An OF line is mapped under the interrupt domain's mutex.
        crate::might_sleep!();
        // SAFETY: `self.as_raw()` is a valid platform device; the function only reads it.
        let irq = unsafe { bindings::platform_get_irq_optional(self.as_raw(), index) };
        let irq = u32::try_from(irq).map_err(|_| Error::from_errno(irq))?;
        let dev: &Device<Bound> = self.as_ref();
        let keep = Arc::new(Devres::new(dev, Binding, GFP_KERNEL)?, GFP_KERNEL)?;
        // SAFETY: `irq` is a line of `dev` for as long as the device is registered, which it is
        // for as long as `keep` says so, that is while this binding lasts (see `Keep` above).
        Ok(unsafe { Irq::new(dev, irq, keep) })
    }
}
