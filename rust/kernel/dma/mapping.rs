// SPDX-License-Identifier: GPL-2.0

//! The bookkeeping of a streaming mapping: a node on its binding's unbind list, so that the
//! unbind unmaps what the driver still has mapped, made and dropped in O(1).
//!
//! Who owns the buffer decides what an unmap may write into it. An unmap by the unbind may run
//! while the CPU owns the buffer (a [`CpuView`] is `Send`, and a work item may be writing it), so
//! it skips the CPU synchronisation (`DMA_ATTR_SKIP_CPU_SYNC`): it writes nothing into the buffer
//! (no bounce-buffer copy, no cache invalidation), and the device's last writes to a buffer it
//! owned at unbind may be lost, never the CPU's. The owner's unmap knows who owns the buffer and
//! synchronises when the device did.
//!
//! [`CpuView`]: super::CpuView

use super::DataDirection;
use crate::{
    alloc::{Flags, KBox},
    bindings,
    device::{Bound, Device},
    driver::{unbind::UnbindNode, UnbindList},
    error::Result,
    init::InPlaceInit,
    macros::{pin_data, pinned_drop},
    str::CStr,
    sync::{Arc, LockClassKey, SpinLockIrq},
};
use core::pin::Pin;

/// What a mapping maps, and how it is synchronised and unmapped.
///
/// # Safety
///
/// Implementations must synchronise and unmap only the mapping the value describes.
pub(super) unsafe trait MapKind: Send + 'static {
    /// Synchronises the mapping (or the part `range` of bytes) for the CPU or for the device.
    ///
    /// # Safety
    ///
    /// The mapping must be live, for `dev`.
    unsafe fn sync(&self, dev: *mut bindings::device, to_cpu: bool, range: (usize, usize));

    /// Unmaps, synchronising for the CPU first unless `skip_sync`.
    ///
    /// # Safety
    ///
    /// The mapping must be live, for `dev`; it is not afterwards.
    unsafe fn unmap(self, dev: *mut bindings::device, skip_sync: bool);

    /// Called when the unbind unmapped the mapping (for the tests' counts).
    fn released_at_unbind() {}

    /// Called when the owner unmapped the mapping (for the tests' counts).
    fn unmapped_by_owner() {}
}

/// A mapping of a binding, on the binding's unbind list.
///
/// # Invariants
///
/// - `link` is on `list` from [`MapNode::new`] until [`MapNode::finish`] or the list's release
///   takes it off.
/// - While `state` holds a kind, it is a live mapping for `dev`, which is bound; the kind is
///   taken out and unmapped, with the lock held, only by [`MapNode::finish`] or by the list's
///   release.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub(super) struct MapNode<K: MapKind> {
    /// The first field, so that the release function finds the node (`UnbindNode::new`).
    link: UnbindNode,
    #[pin]
    state: SpinLockIrq<Option<K>>,
    list: Arc<UnbindList>,
    dev: *mut bindings::device,
}

// SAFETY: `dev` is only used while the mapping is live, on a bound device; the rest is `Send`.
unsafe impl<K: MapKind> Send for MapNode<K> {}

// SAFETY: Shared access goes through the lock.
unsafe impl<K: MapKind> Sync for MapNode<K> {}

/// The name and lockdep class of every node's lock, whatever its kind.
///
/// Not at the lock's initialiser in the generic [`MapNode::new`]: that function is compiled into
/// each crate that maps (the kernel crate's scatter-gather core, a driver's streaming mappings),
/// and a name literal there would be one copy per crate, while the class, a `static` of a generic
/// function, is one for all. Lockdep compares a class's name by address, so the first lock of the
/// second crate would WARN ("found a different class ... with the same key"). Here both are this
/// crate's, once.
#[inline(never)]
fn state_lock_class() -> (&'static CStr, &'static LockClassKey) {
    (crate::c_str!("MapNode"), crate::static_lock_class!())
}

impl<K: MapKind> MapNode<K> {
    /// Allocates a node with `flags`, maps with `map`, and puts the mapping on the binding's
    /// unbind list. Nothing is left mapped on failure.
    ///
    /// # Safety
    ///
    /// `map` must return a live mapping for `dev` that nothing else unmaps.
    pub(super) unsafe fn new(
        dev: &Device<Bound>,
        flags: Flags,
        map: impl FnOnce() -> Result<K>,
    ) -> Result<Pin<KBox<Self>>> {
        let list = UnbindList::of(dev);
        let (name, class) = state_lock_class();
        let node = KBox::pin_init(
            crate::pin_init!(Self {
                // SAFETY: `link` is the first field of this `#[repr(C)]` type, which `release`
                // expects.
                link: unsafe { UnbindNode::new(Self::release) },
                state <- SpinLockIrq::new(None, name, class),
                list: list.clone(),
                dev: dev.as_raw(),
            }),
            flags,
        )?;
        // INVARIANT: A live mapping for `dev` (the caller's guarantee).
        *node.state.lock() = Some(map()?);
        #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
        super::unbind_tests::LIVE.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
        // SAFETY: The node is pinned in its box, not on a list, and its drop takes it off.
        if let Err(e) = unsafe { list.add(node.as_ref().map_unchecked(|n| &n.link)) } {
            // Off the list: unmap here.
            if let Some(kind) = node.state.lock().take() {
                // SAFETY: Live, and taken out: unmapped once.
                unsafe { kind.unmap(node.dev, true) };
                #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
                super::unbind_tests::LIVE.fetch_sub(1, core::sync::atomic::Ordering::SeqCst);
            }
            return Err(e);
        }
        Ok(node)
    }

    /// Runs `f` with the mapping and its device, if the mapping is still live.
    pub(super) fn with_live(&self, f: impl FnOnce(&K, *mut bindings::device)) {
        if let Some(kind) = &*self.state.lock() {
            f(kind, self.dev);
        }
    }

    /// Synchronises the part `range` of the mapping for the CPU or the device, if it is live.
    pub(super) fn sync(&self, to_cpu: bool, range: (usize, usize)) {
        // SAFETY: Live while the state holds it (type invariant), under the lock.
        self.with_live(|kind, dev| unsafe { kind.sync(dev, to_cpu, range) });
    }

    /// Unmaps, synchronising for the CPU first unless `skip_sync`, if the unbind has not; takes
    /// the node off the list.
    pub(super) fn finish(&self, skip_sync: bool) {
        // Under the list's lock, so that an unbind does not return before this unmap is done:
        // the device stays bound until then. Off the list, the unbind unmapped it already (or
        // this ran before), under the same lock.
        self.list.remove_then(&self.link, || {
            if let Some(kind) = self.state.lock().take() {
                // SAFETY: Live (type invariant, under the lock), and taken out: unmapped once.
                unsafe { kind.unmap(self.dev, skip_sync) };
                K::unmapped_by_owner();
                #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
                super::unbind_tests::LIVE.fetch_sub(1, core::sync::atomic::Ordering::SeqCst);
            }
        });
    }

    /// The release function of the node: the unbind unmaps, writing nothing into the buffer.
    ///
    /// # Safety
    ///
    /// `link` must be the `link` of a `MapNode<K>`, taken off its list by the list's release.
    unsafe fn release(link: &UnbindNode) {
        // SAFETY: `link` is the first field of a `#[repr(C)]` `MapNode<K>` (caller's guarantee).
        let node = unsafe { &*core::ptr::from_ref(link).cast::<Self>() };
        if let Some(kind) = node.state.lock().take() {
            // SAFETY: Live (type invariant, under the lock), and taken out: unmapped once. The
            // binding is being released, so the device is still bound.
            unsafe { kind.unmap(node.dev, true) };
            K::released_at_unbind();
            #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
            super::unbind_tests::LIVE.fetch_sub(1, core::sync::atomic::Ordering::SeqCst);
        }
    }
}

#[pinned_drop]
impl<K: MapKind> PinnedDrop for MapNode<K> {
    fn drop(self: Pin<&mut Self>) {
        self.finish(true);
    }
}

/// The kind of a mapping of one contiguous buffer (`dma_map_single_attrs()`).
///
/// # Invariants
///
/// `addr` maps `size` bytes in direction `dir`.
pub(super) struct Single {
    pub(super) addr: bindings::dma_addr_t,
    pub(super) size: usize,
    pub(super) dir: DataDirection,
}

// SAFETY: The functions use the mapping only as their contracts allow.
unsafe impl MapKind for Single {
    unsafe fn sync(&self, dev: *mut bindings::device, to_cpu: bool, (start, len): (usize, usize)) {
        let addr = self.addr + start as bindings::dma_addr_t;
        // SAFETY: The mapping is live for `dev` (caller's guarantee); the range is within it
        // (the callers check it).
        unsafe {
            if to_cpu {
                bindings::dma_sync_single_for_cpu(dev, addr, len, self.dir.as_raw())
            } else {
                bindings::dma_sync_single_for_device(dev, addr, len, self.dir.as_raw())
            }
        }
    }

    unsafe fn unmap(self, dev: *mut bindings::device, skip_sync: bool) {
        let attrs = if skip_sync {
            bindings::DMA_ATTR_SKIP_CPU_SYNC
        } else {
            0
        };
        // SAFETY: The mapping is live for `dev` (caller's guarantee) and unmapped once.
        unsafe {
            bindings::dma_unmap_single_attrs(
                dev,
                self.addr,
                self.size,
                self.dir.as_raw(),
                attrs as _,
            )
        };
    }

    #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
    fn released_at_unbind() {
        super::tests::STREAMING_RELEASED.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
    }

    #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
    fn unmapped_by_owner() {
        super::unbind_tests::OWNER_UNMAPPED.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
    }
}
