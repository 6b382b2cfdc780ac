// SPDX-License-Identifier: GPL-2.0

//! Resources of a binding that its unbind releases, each added and taken off in O(1).
//!
//! A managed resource of the driver core (`devres`) costs an allocation of its own, and taking
//! one off the device's list walks the list under a spinlock: O(n) in the resources the binding
//! holds. A resource that a driver makes and drops at a high rate, a streaming DMA mapping for
//! each request, instead links a node of its own onto the binding's [`UnbindList`], which the
//! bus's driver data holds: linking and unlinking is O(1), under an interrupt-safe spinlock, so
//! an interrupt handler may do both. When the driver is unbound, the list is released with the
//! driver data, after every other managed resource of the binding: each node still on it is
//! released, under the lock, and the list is closed.
//!
//! An owner that tears the resource down itself takes its node off the list and releases it
//! under the list's lock ([`UnbindList::remove_then`]); if the node was off the list already, the
//! unbind has released it, completely, since that happens under the same lock. So an unbind never
//! returns while an owner's release of a resource of the binding is under way.

use crate::{
    device::{Bound, Device},
    error::{code::*, Result},
    init::PinInit,
    new_spinlock_irq,
    sync::{Arc, SpinLockIrq},
};
use core::{cell::Cell, pin::Pin, ptr};
use macros::pin_data;

// The DMA mappings use the list: in a tree without them, as at the earlier steps of the patch
// series, nothing uses the items marked with this.

/// A resource's link on its binding's [`UnbindList`].
///
/// It is the first field of a `#[repr(C)]` resource, which its `release` function reaches by
/// casting the node's address.
///
/// # Invariants
///
/// `prev`, `next` and `linked` are only accessed with the lock of the list the node is (or was)
/// on held; `linked` is set exactly while the node is on it.
#[allow(dead_code)]
pub(crate) struct UnbindNode {
    prev: Cell<*const UnbindNode>,
    next: Cell<*const UnbindNode>,
    linked: Cell<bool>,
    release: unsafe fn(&UnbindNode),
}

// SAFETY: The links are only accessed under the list's lock (type invariant); `release` is a
// plain function.
unsafe impl Send for UnbindNode {}

// SAFETY: As above.
unsafe impl Sync for UnbindNode {}

#[allow(dead_code)]
impl UnbindNode {
    /// A node that the unbind releases with `release`, called with the list's lock held (it must
    /// not sleep).
    ///
    /// # Safety
    ///
    /// The node must be the first field of a `#[repr(C)]` type that `release` expects.
    pub(crate) const unsafe fn new(release: unsafe fn(&UnbindNode)) -> Self {
        Self {
            prev: Cell::new(ptr::null()),
            next: Cell::new(ptr::null()),
            linked: Cell::new(false),
            release,
        }
    }
}

/// What the list's lock guards.
///
/// # Invariants
///
/// `head` starts a doubly linked list of pinned, live nodes whose `linked` is set; once `closed`
/// it stays empty.
struct ListState {
    head: *const UnbindNode,
    closed: bool,
}

// SAFETY: The nodes are `Sync` and only reached under the lock.
unsafe impl Send for ListState {}

/// The resources of a binding that its unbind releases; see the [module documentation](self).
#[pin_data]
pub(crate) struct UnbindList {
    #[pin]
    state: SpinLockIrq<ListState>,
}

impl UnbindList {
    /// An empty list.
    pub(crate) fn new() -> impl PinInit<Self> {
        crate::pin_init!(Self {
            state <- new_spinlock_irq!(
                ListState {
                    head: ptr::null(),
                    closed: false,
                },
                "UnbindList"
            ),
        })
    }

    /// Returns the list of the binding of `dev`.
    #[allow(dead_code)]
    pub(crate) fn of(dev: &Device<Bound>) -> &Arc<UnbindList> {
        // SAFETY: A driver of these bindings is bound while `dev` lives, with a header
        // installed as its driver data (type invariants of `Device<Bound>`), which lives until
        // the unbind has ended.
        let header = unsafe { &*(*dev.as_raw()).driver_data.cast::<super::DriverData>() };
        &header.unbind
    }

    /// Puts `node` on the list; [`ENXIO`] if the list was released already (after the unbind).
    ///
    /// # Safety
    ///
    /// `node` must not be on a list, and must stay pinned and alive until it is off the list:
    /// its owner calls [`UnbindList::remove`] before it frees it.
    #[allow(dead_code)]
    pub(crate) unsafe fn add(&self, node: Pin<&UnbindNode>) -> Result {
        let node = node.get_ref();
        let mut state = self.state.lock();
        if state.closed {
            return Err(ENXIO);
        }
        node.prev.set(ptr::null());
        node.next.set(state.head);
        if !state.head.is_null() {
            // SAFETY: Nodes on the list are live (type invariant of `ListState`).
            unsafe { (*state.head).prev.set(node) };
        }
        // INVARIANT: Pinned and live (the caller's guarantee), linked.
        state.head = node;
        node.linked.set(true);
        Ok(())
    }

    /// Takes `node` off the list and, if it was on it, runs `release` with the list's lock still
    /// held (it must not sleep); returns whether it was. If it was not, the unbind released it:
    /// completely, since it does so under the same lock. Either way the resource is released
    /// before an unbind that overlaps this call returns.
    #[allow(dead_code)]
    pub(crate) fn remove_then(&self, node: &UnbindNode, release: impl FnOnce()) -> bool {
        let mut state = self.state.lock();
        let linked = Self::unlink(&mut state, node);
        if linked {
            release();
        }
        linked
    }

    fn unlink(state: &mut ListState, node: &UnbindNode) -> bool {
        if !node.linked.get() {
            return false;
        }
        let (prev, next) = (node.prev.get(), node.next.get());
        // SAFETY: Nodes on the list are live (type invariant of `ListState`), `node` is on it, so
        // are its neighbours.
        unsafe {
            if prev.is_null() {
                state.head = next;
            } else {
                (*prev).next.set(next);
            }
            if !next.is_null() {
                (*next).prev.set(prev);
            }
        }
        node.linked.set(false);
        true
    }

    /// Releases every node still on the list, under the lock, and closes the list; returns how
    /// many it released.
    pub(crate) fn release_all(&self) -> usize {
        let mut state = self.state.lock();
        state.closed = true;
        let mut n = 0;
        while !state.head.is_null() {
            // SAFETY: Nodes on the list are live (type invariant of `ListState`).
            let node = unsafe { &*state.head };
            Self::unlink(&mut state, node);
            // SAFETY: The node is the first field of the type its `release` expects (the
            // contract of `UnbindNode::new`), alive: its owner takes this lock before it frees it.
            unsafe { (node.release)(node) };
            n += 1;
        }
        n
    }
}
