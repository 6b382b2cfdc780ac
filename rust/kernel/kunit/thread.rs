// SPDX-License-Identifier: GPL-2.0

//! Kernel threads for tests that need concurrency.
//!
//! [`spawn`] runs a closure on a new kernel thread; [`Thread::join`] (or dropping the handle)
//! waits until the closure has returned and the thread has exited.
//!
//! C header: [`include/linux/kthread.h`](srctree/include/linux/kthread.h)

use crate::{
    alloc::{flags::GFP_KERNEL, KBox},
    bindings, c_str,
    error::{from_err_ptr, Result},
    types::Opaque,
};
use core::ffi::{c_int, c_void};

/// A kernel thread running a closure; dropping the handle waits for it.
///
/// # Invariants
///
/// `task` is a kernel thread created by [`spawn`], woken up, and with a task reference held by
/// this handle; it completes `*done` after its closure has returned and touches nothing of this
/// handle afterwards.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicU32, Ordering};
/// use kernel::kunit::thread;
///
/// static RAN: AtomicU32 = AtomicU32::new(0);
/// let t = thread::spawn(|| {
///     RAN.fetch_add(1, Ordering::SeqCst);
/// })?;
/// t.join();
/// assert_eq!(RAN.load(Ordering::SeqCst), 1);
/// # Ok::<(), Error>(())
/// ```
pub struct Thread {
    task: *mut bindings::task_struct,
    done: KBox<Opaque<bindings::completion>>,
}

struct Start<F> {
    f: F,
    done: *const Opaque<bindings::completion>,
}

/// # Safety
///
/// `data` must be a `Start<F>` box leaked by [`spawn`] for this thread.
unsafe extern "C" fn trampoline<F: FnOnce() + Send + 'static>(data: *mut c_void) -> c_int {
    // SAFETY: `data` is the box that `spawn` leaked for this thread, reclaimed only here.
    let start = unsafe { KBox::from_raw(data.cast::<Start<F>>()) };
    let Start { f, done } = KBox::into_inner(start);
    f();
    // SAFETY: `done` is alive until the handle has seen the completion (type invariant of
    // `Thread`); `complete()` does not touch it after releasing its lock.
    unsafe { bindings::complete((*done).get()) };
    0
}

/// Runs `f` on a new kernel thread.
///
/// # Examples
///
/// ```
/// use core::sync::atomic::{AtomicBool, Ordering};
/// use kernel::{kunit::thread, sync::Arc};
///
/// let flag = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
/// let f = flag.clone();
/// thread::spawn(move || f.store(true, Ordering::Release))?.join();
/// assert!(flag.load(Ordering::Acquire));
/// # Ok::<(), Error>(())
/// ```
pub fn spawn<F: FnOnce() + Send + 'static>(f: F) -> Result<Thread> {
    let done = KBox::new(Opaque::<bindings::completion>::uninit(), GFP_KERNEL)?;
    // SAFETY: `done` is allocated and not yet shared.
    unsafe { bindings::init_completion(done.get()) };
    let start = KBox::new(Start { f, done: &*done }, GFP_KERNEL)?;
    let data = KBox::into_raw(start);
    // SAFETY: The thread function matches the data, which the thread owns from now on; the name
    // format is a static C string with no conversion.
    let task = unsafe {
        bindings::kthread_create_on_node(
            Some(trampoline::<F>),
            data.cast(),
            bindings::NUMA_NO_NODE,
            c_str!("rust_kunit").as_char_ptr(),
        )
    };
    let task = match from_err_ptr(task) {
        Ok(task) => task,
        Err(e) => {
            // SAFETY: The thread was not created, so the box is still ours.
            drop(unsafe { KBox::from_raw(data) });
            return Err(e);
        }
    };
    // SAFETY: `task` is a new, valid kernel thread; the reference keeps it for `kthread_stop`,
    // and waking it starts the closure.
    unsafe {
        bindings::get_task_struct(task);
        bindings::wake_up_process(task);
    }
    // INVARIANT: Created, woken, and referenced; the completion outlives the thread's use.
    Ok(Thread { task, done })
}

impl Thread {
    /// Waits until the closure has returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::sync::atomic::{AtomicUsize, Ordering};
    /// use kernel::kunit::thread;
    ///
    /// static DONE: AtomicUsize = AtomicUsize::new(0);
    /// fn work() {
    ///     DONE.fetch_add(1, Ordering::Relaxed);
    /// }
    ///
    /// let (a, b) = (thread::spawn(work)?, thread::spawn(work)?);
    /// a.join();
    /// b.join();
    /// assert_eq!(DONE.load(Ordering::Relaxed), 2);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn join(self) {}
}

/// Lets other tasks run on this processor, as a call to `schedule()` from a running task does.
///
/// Tests that wait for another thread in a loop call it, so that they also make progress on a
/// single processor without preemption.
///
/// # Examples
///
/// ```
/// kernel::kunit::thread::yield_now();
/// ```
pub fn yield_now() {
    // SAFETY: The task is running (not preparing to sleep), so `schedule()` only gives up the
    // processor and returns; calling it in atomic context is a bug the kernel reports.
    unsafe { bindings::schedule() };
}

impl Drop for Thread {
    fn drop(&mut self) {
        // SAFETY: By the type invariant the closure runs and then completes `done`; waiting for
        // that first ensures `kthread_stop()` can not keep the closure from running. The
        // reference taken in `spawn` is dropped by `kthread_stop_put()`.
        unsafe {
            bindings::wait_for_completion(self.done.get());
            bindings::kthread_stop_put(self.task);
        }
    }
}
