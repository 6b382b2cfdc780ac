// SPDX-License-Identifier: GPL-2.0

//! The debug kernel reports a sleep inside an RCU read-side critical section.
//!
//! A sleeping function of the bindings announces that it may sleep (`might_sleep!()`), so that
//! on the debug kernel (non-preemptible RCU, `CONFIG_DEBUG_ATOMIC_SLEEP`) a call from inside a
//! `RevocableGuard` is reported where it happens. The type system refuses revoking a value
//! under one's own guard, but not every sleep under a guard, and not a leaked guard
//! (`core::mem::forget` is safe): this module commits both misuses on purpose, between the
//! markers `SLEEP-REPORT: begin` and `SLEEP-REPORT: end`, and `scripts/stress.sh` checks that
//! the kernel reported each of them (and that nothing else in the run reported anything).
//!
//! 1. `Revocable::wait_revoked()` (a function that may sleep) while a guard is held.
//! 2. The same after a guard was leaked: the section it opened is still open.
//!
//! The function announces that it may sleep on every call and sleeps only while a revocation
//! is in progress, so nothing really sleeps here: a real sleep in atomic context would make the
//! scheduler reset the preemption count, and the kernel would not go on sane.

use kernel::{delay::msleep, prelude::*, revocable::Revocable};

struct SleepReport;

impl kernel::Module for SleepReport {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let value = KBox::pin_init(Revocable::new(7u32), GFP_KERNEL)?;
        pr_info!("SLEEP-REPORT: begin\n");

        // 1. A function that may sleep, under a guard.
        if let Some(guard) = value.try_access() {
            pr_info!("SLEEP-REPORT: may sleep under a guard of {}\n", *guard);
            value.wait_revoked();
        }

        // The kernel reports a sleep in atomic context at most once a second.
        msleep(1100);

        // 2. The same after a leaked guard.
        core::mem::forget(value.try_access());
        pr_info!("SLEEP-REPORT: may sleep after a leaked guard\n");
        value.wait_revoked();
        // SAFETY: Closes the read-side critical section that the leaked guard opened on this
        // task (and nothing else), so that the kernel goes on sane.
        unsafe { kernel::bindings::rcu_read_unlock() };

        pr_info!("SLEEP-REPORT: end\n");
        Ok(SleepReport)
    }
}

module! {
    type: SleepReport,
    name: "rust_sleep_report",
    author: "Rust for Linux Contributors",
    description: "Sleeps under an RCU guard on purpose, for the debug kernel to report",
    license: "GPL v2",
}
