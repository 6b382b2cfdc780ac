// SPDX-License-Identifier: GPL-2.0
//! Turning the PCI device of probe into a counted reference with `ARef::from`.
// expect: E0277
// expect-message: pci::Device<Core>: AlwaysRefCounted` is not satisfied

use kernel::{device::Core, pci, types::ARef};

/// Keeps the PCI device in its core context.
pub fn keep(pdev: &pci::Device<Core>) -> ARef<pci::Device<Core>> {
    ARef::from(pdev)
}
