// SPDX-License-Identifier: GPL-2.0

//! DMA pools: many small blocks of coherent memory of one size, as `dma_pool_create()` makes.
//!
//! A [`DmaPool<T>`] is created from a bound device and hands out [`PoolObject<T>`]s, blocks of
//! one `T` each that carry their device address and go back to the pool when dropped. The pool
//! outlives every object (each object holds a reference to it), and it is destroyed when the
//! driver is unbound at the latest, objects still alive then included: the unbind returns every
//! live block to the pool first, since C's `dma_pool_destroy()` would only log "busy" and leak
//! them, and an object dropped afterwards finds its block returned and frees nothing twice.
//!
//! The CPU reaches an object's memory through [`PoolObject::access`], given the bound device,
//! which proves that the unbind has not returned the block; the view reads and writes it with
//! volatile accesses ([`dma_read!`] and [`dma_write!`] name a field, at index 0).
//!
//! Allocating takes the caller's GFP flags for every allocation it makes, and dropping an object
//! does not sleep, so both work in interrupt context. Creating and destroying a pool may sleep.
//!
//! C header: [`include/linux/dmapool.h`](srctree/include/linux/dmapool.h)
//!
//! [`dma_read!`]: crate::dma_read
//! [`dma_write!`]: crate::dma_write

use super::DmaAddress;
use crate::{
    alloc::{flags::*, Flags, KBox},
    bindings,
    device::{Bound, Device},
    devres::Devres,
    error::{code::*, Result},
    init::InPlaceInit,
    new_spinlock_irq,
    str::CStr,
    sync::{Arc, SpinLockIrq},
    types::{AsBytes, FromBytes},
};
use core::{
    cell::Cell,
    ffi::c_void,
    marker::PhantomData,
    mem::ManuallyDrop,
    ptr::{null_mut, NonNull},
};

/// The bookkeeping of one allocated block, linked on its pool's list while the block is
/// allocated. It is owned by its [`PoolObject`]; the links are guarded by the pool's lock.
struct Node {
    vaddr: NonNull<c_void>,
    dma: DmaAddress,
    prev: Cell<*mut Node>,
    next: Cell<*mut Node>,
    linked: Cell<bool>,
}

/// What the pool's lock guards.
///
/// # Invariants
///
/// - `pool` is the C pool until the release destroys it, null afterwards.
/// - `head` starts a doubly linked list of the nodes of every block allocated from `pool` and
///   not yet returned, `live` of them; a node is on it exactly when its `linked` is set. Every
///   node on it is alive: its object unlinks it before freeing it.
struct State {
    pool: *mut bindings::dma_pool,
    head: *mut Node,
    live: usize,
}

impl State {
    /// Puts `node` on the list.
    ///
    /// # Safety
    ///
    /// `node` must be alive, not on the list, and stay alive until it is unlinked.
    unsafe fn link(&mut self, node: &Node) {
        node.prev.set(null_mut());
        node.next.set(self.head);
        if !self.head.is_null() {
            // SAFETY: Nodes on the list are alive (type invariant).
            unsafe { (*self.head).prev.set(core::ptr::from_ref(node).cast_mut()) };
        }
        self.head = core::ptr::from_ref(node).cast_mut();
        node.linked.set(true);
        self.live += 1;
    }

    /// Takes `node` off the list and returns its block to the pool, if it is still on the list.
    fn free(&mut self, node: &Node) -> bool {
        if !node.linked.get() {
            return false;
        }
        let (prev, next) = (node.prev.get(), node.next.get());
        // SAFETY: Nodes on the list are alive (type invariant), and `node` is on it, so are its
        // neighbours.
        unsafe {
            if prev.is_null() {
                self.head = next;
            } else {
                (*prev).next.set(next);
            }
            if !next.is_null() {
                (*next).prev.set(prev);
            }
        }
        node.linked.set(false);
        self.live -= 1;
        // SAFETY: The block was allocated from `pool` (type invariant: the node was on the list,
        // so the pool is not destroyed) and is returned once, as the node leaves the list.
        unsafe { bindings::dma_pool_free(self.pool, node.vaddr.as_ptr(), node.dma) };
        true
    }
}

// SAFETY: The pointers are to a C pool and to nodes that any task may use and free under the
// lock that guards the state.
unsafe impl Send for State {}

/// The part of a pool that objects reach after the unbind: the list of live blocks, under an
/// interrupt-safe spinlock, since objects may be allocated and dropped in interrupt context.
type Shared = SpinLockIrq<State>;

/// The pool's managed resource: dropped at unbind at the latest, it returns the live blocks and
/// destroys the C pool.
///
/// # Invariants
///
/// `pool` is the C pool of `shared`, destroyed only in `drop`.
struct Release {
    shared: Arc<Shared>,
    pool: NonNull<bindings::dma_pool>,
}

// SAFETY: The C pool may be used and destroyed from any task.
unsafe impl Send for Release {}

// SAFETY: Shared access only allocates from the C pool, which has its own lock.
unsafe impl Sync for Release {}

impl Drop for Release {
    fn drop(&mut self) {
        // `dma_pool_destroy()` may sleep: it frees the pool's pages.
        crate::might_sleep!();
        let returned = {
            let mut state = self.shared.lock();
            let mut n = 0;
            while !state.head.is_null() {
                // SAFETY: Nodes on the list are alive (type invariant of `State`).
                let node = unsafe { &*state.head };
                state.free(node);
                n += 1;
            }
            // INVARIANT: The pool is destroyed below; objects find it gone.
            state.pool = null_mut();
            n
        };
        #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
        super::pool_tests::POOL_RETURNED.fetch_add(returned, core::sync::atomic::Ordering::SeqCst);
        let _ = returned;
        // SAFETY: Every block is back (above), and nothing can allocate any more: allocations
        // need the `Devres` that is dropping this.
        unsafe { bindings::dma_pool_destroy(self.pool.as_ptr()) };
    }
}

/// What every handle to one pool shares.
struct PoolInner {
    shared: Arc<Shared>,
    res: Devres<Release>,
}

/// A counted reference to a [`PoolInner`], whose drop is compiled once, here, rather than in
/// every module that drops a pool or an object.
///
/// # Invariants
///
/// The field is dropped exactly once, by `PoolRef`'s `Drop`.
#[derive(Clone)]
struct PoolRef(ManuallyDrop<Arc<PoolInner>>);

impl core::ops::Deref for PoolRef {
    type Target = PoolInner;

    fn deref(&self) -> &PoolInner {
        &self.0
    }
}

impl Drop for PoolRef {
    #[inline(never)]
    fn drop(&mut self) {
        // SAFETY: The field is dropped here and nowhere else, and `self` is not used after its
        // drop: exactly once (type invariant).
        unsafe { ManuallyDrop::drop(&mut self.0) };
    }
}

/// The body of [`DmaPool::new`], for blocks of `size` bytes aligned to `type_align` (those of
/// the pool's type) and to `align`: compiled once, here, rather than for every type.
#[inline(never)]
fn pool_new(
    dev: &Device<Bound>,
    name: &CStr,
    size: usize,
    type_align: usize,
    align: usize,
    boundary: usize,
) -> Result<PoolRef> {
    crate::might_sleep!();
    if size == 0 || size > i32::MAX as usize || (align != 0 && !align.is_power_of_two()) {
        return Err(EINVAL);
    }
    let align = align.max(type_align);
    let block = size.max(MIN_BLOCK).next_multiple_of(align);
    if boundary != 0 && (!boundary.is_power_of_two() || boundary < block) {
        return Err(EINVAL);
    }
    // SAFETY: `dev` is a bound device and `name` a C string, which the pool copies; the
    // arguments were checked above as the C function checks them.
    let pool = unsafe {
        bindings::dma_pool_create(name.as_char_ptr(), dev.as_raw(), size, align, boundary)
    };
    let pool = NonNull::new(pool).ok_or(ENOMEM)?;
    // INVARIANT: The pool is new: no block is allocated.
    let state = State {
        pool: pool.as_ptr(),
        head: null_mut(),
        live: 0,
    };
    let shared = Arc::pin_init(new_spinlock_irq!(state, "DmaPool"), GFP_KERNEL);
    let shared = match shared {
        Ok(shared) => shared,
        Err(e) => {
            // SAFETY: The pool was created above and nothing else has it.
            unsafe { bindings::dma_pool_destroy(pool.as_ptr()) };
            return Err(e);
        }
    };
    // INVARIANT: From here on, only `Release` destroys the pool; should a step below fail,
    // dropping it does.
    let release = Release {
        shared: shared.clone(),
        pool,
    };
    let res = Devres::new(dev, release, GFP_KERNEL)?;
    let inner = Arc::new(PoolInner { shared, res }, GFP_KERNEL)?;
    // INVARIANT: A new `Arc`, which only the drop of the result drops.
    Ok(PoolRef(ManuallyDrop::new(inner)))
}

/// The body of [`DmaPool::alloc`], compiled once: allocates a block and its node, linked on the
/// pool's list; the caller owns the node (from [`KBox::leak`]) and must free it with
/// [`pool_free`] on the same pool, so that it leaves the list first.
#[inline(never)]
fn pool_alloc(inner: &PoolInner, dev: &Device<Bound>, gfp: Flags) -> Result<NonNull<Node>> {
    let release = inner.res.access(dev)?;
    let mut dma: DmaAddress = 0;
    // SAFETY: The pool is not destroyed while `dev` is borrowed: `access` succeeded, and the
    // release that destroys it can not run meanwhile. `dma` is a valid out pointer.
    let vaddr = unsafe {
        bindings::dma_pool_alloc(release.pool.as_ptr(), (gfp | __GFP_ZERO).as_raw(), &mut dma)
    };
    let vaddr = NonNull::new(vaddr).ok_or(ENOMEM)?;
    let node = Node {
        vaddr,
        dma,
        prev: Cell::new(null_mut()),
        next: Cell::new(null_mut()),
        linked: Cell::new(false),
    };
    let node = match KBox::new(node, gfp) {
        Ok(node) => NonNull::from(KBox::leak(node)),
        Err(_) => {
            // SAFETY: Allocated above from this pool, which is not destroyed (see above).
            unsafe { bindings::dma_pool_free(release.pool.as_ptr(), vaddr.as_ptr(), dma) };
            return Err(ENOMEM);
        }
    };
    // SAFETY: The node is new, and the caller's object unlinks it before it frees it (the
    // function's contract: through `pool_free`).
    unsafe { inner.shared.lock().link(node.as_ref()) };
    Ok(node)
}

/// The drop of a [`PoolObject`], compiled once: returns the block of `node` unless the unbind
/// has, and frees the node.
///
/// # Safety
///
/// `node` must be owned by the caller, from [`pool_alloc`] on `inner`, and not be used after
/// this.
#[inline(never)]
unsafe fn pool_free(inner: &PoolInner, node: NonNull<Node>) {
    // The block may have been returned by the unbind already: then this frees nothing.
    // SAFETY: The node is alive: the caller owns it.
    let freed = inner.shared.lock().free(unsafe { node.as_ref() });
    #[cfg(CONFIG_RUST_DRIVER_CORE_KUNIT_TEST)]
    if freed {
        super::unbind_tests::POOL_OWNER_FREED.fetch_add(1, core::sync::atomic::Ordering::SeqCst);
    }
    let _ = freed;
    // SAFETY: The node is the caller's, from `KBox::leak` (the function's contract), off the
    // list now, and freed once, here.
    drop(unsafe { KBox::from_raw(node.as_ptr()) });
}

/// A pool of blocks of coherent DMA memory, each holding one `T`; see the
/// [module documentation](self). Clones refer to the same pool.
///
/// # Examples
///
/// ```
/// use kernel::{c_str, device::{Bound, Device}, dma::DmaPool, dma_read, dma_write};
///
/// fn descriptors(dev: &Device<Bound>) -> Result {
///     let pool = DmaPool::<[u64; 4]>::new(dev, c_str!("descs"), 64, 0)?;
///     let desc = pool.alloc(dev, GFP_KERNEL)?;
///     assert_eq!(desc.dma_handle() % 64, 0);
///     let view = desc.access(dev)?;
///     dma_write!(view[0] = [1, 2, 3, 4])?;
///     assert_eq!(dma_read!(view[0])?[3], 4);
///     Ok(())
/// }
/// ```
pub struct DmaPool<T: AsBytes + FromBytes> {
    inner: PoolRef,
    _t: PhantomData<T>,
}

impl<T: AsBytes + FromBytes> Clone for DmaPool<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _t: PhantomData,
        }
    }
}

/// The size of the C pool's free-list entry, the smallest block it makes (`struct dma_block`).
const MIN_BLOCK: usize = core::mem::size_of::<*mut c_void>() + core::mem::size_of::<DmaAddress>();

impl<T: AsBytes + FromBytes> DmaPool<T> {
    /// Creates a pool of blocks for one `T` each, aligned to `align` bytes (at least `T`'s own
    /// alignment; 0 for just that) and, if `boundary` is not 0, none crossing a multiple of
    /// `boundary` bytes. `name` names the pool in the device's `pools` file in sysfs.
    ///
    /// Fails with [`EINVAL`] for a zero-sized `T` or one of more than `INT_MAX` bytes, an
    /// `align` that is not 0 or a power of two, or a `boundary` that is not 0 or a power of two
    /// at least as large as a block; [`ENOMEM`] if memory runs out. May sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, device::{Bound, Device}, dma::DmaPool};
    ///
    /// fn pools(dev: &Device<Bound>) -> Result {
    ///     // 4 KiB lists of 512 page addresses that never cross a page boundary.
    ///     let _lists = DmaPool::<[u64; 512]>::new(dev, c_str!("lists"), 4096, 4096)?;
    ///     assert_eq!(DmaPool::<u32>::new(dev, c_str!("bad"), 3, 0).err(), Some(EINVAL));
    ///     Ok(())
    /// }
    /// ```
    pub fn new(dev: &Device<Bound>, name: &CStr, align: usize, boundary: usize) -> Result<Self> {
        let inner = pool_new(
            dev,
            name,
            core::mem::size_of::<T>(),
            core::mem::align_of::<T>(),
            align,
            boundary,
        )?;
        Ok(Self {
            inner,
            _t: PhantomData,
        })
    }

    /// Allocates a zeroed block from the pool, for the bound device the pool was created for.
    ///
    /// Every allocation it makes honours `gfp`: with `GFP_ATOMIC` it does not sleep. Fails with
    /// [`EINVAL`] for another device, [`ENXIO`] if the pool belongs to an earlier binding and has
    /// been destroyed, [`ENOMEM`] if memory runs out.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::{DmaPool, PoolObject}};
    ///
    /// // From an interrupt handler, for instance.
    /// fn refill(dev: &Device<Bound>, pool: &DmaPool<u64>) -> Result<PoolObject<u64>> {
    ///     let obj = pool.alloc(dev, GFP_ATOMIC)?;
    ///     assert_eq!(obj.access(dev)?.read(), 0);
    ///     Ok(obj)
    /// }
    /// ```
    // Not inlined: one instance per type, rather than a copy at each call site.
    #[inline(never)]
    pub fn alloc(&self, dev: &Device<Bound>, gfp: Flags) -> Result<PoolObject<T>> {
        let node = pool_alloc(&self.inner, dev, gfp)?;
        // INVARIANT: `pool_alloc` linked the node, which the object owns.
        Ok(PoolObject {
            pool: self.clone(),
            node,
        })
    }

    /// Returns the number of blocks allocated from the pool and not returned yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::DmaPool};
    ///
    /// fn check(dev: &Device<Bound>, pool: &DmaPool<u32>) -> Result {
    ///     let before = pool.live();
    ///     let obj = pool.alloc(dev, GFP_KERNEL)?;
    ///     assert_eq!(pool.live(), before + 1);
    ///     drop(obj);
    ///     assert_eq!(pool.live(), before);
    ///     Ok(())
    /// }
    /// ```
    pub fn live(&self) -> usize {
        self.inner.shared.lock().live
    }
}

/// A block of a [`DmaPool`] holding one `T`, returned to the pool when dropped (which does not
/// sleep); see the [module documentation](self).
///
/// # Invariants
///
/// `node` is owned by this object (from [`KBox::leak`]) and was allocated from `pool`; it is on
/// the pool's list until this object is dropped or the pool's release returns its block.
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, dma::PoolObject, dma_write};
///
/// fn post(dev: &Device<Bound>, obj: &PoolObject<u64>, addr: u64) -> Result<u64> {
///     dma_write!(obj.access(dev)?[0] = addr)?;
///     // Hand the block's own address to the device.
///     Ok(obj.dma_handle())
/// }
/// ```
pub struct PoolObject<T: AsBytes + FromBytes> {
    pool: DmaPool<T>,
    node: NonNull<Node>,
}

// SAFETY: The node is only touched under the pool's lock, and the block holds plain data `T`.
unsafe impl<T: AsBytes + FromBytes + Send> Send for PoolObject<T> {}

// SAFETY: Shared access reads the node's constant fields and accesses the block with volatile
// operations only.
unsafe impl<T: AsBytes + FromBytes + Sync> Sync for PoolObject<T> {}

impl<T: AsBytes + FromBytes> PoolObject<T> {
    fn node(&self) -> &Node {
        // SAFETY: The node is owned by this object (type invariant).
        unsafe { self.node.as_ref() }
    }

    /// Returns the device address of the block.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::PoolObject;
    ///
    /// fn aligned(obj: &PoolObject<[u8; 64]>) -> bool {
    ///     obj.dma_handle() % 8 == 0
    /// }
    /// ```
    pub fn dma_handle(&self) -> DmaAddress {
        self.node().dma
    }

    /// Returns the CPU's view of the block, given the bound device the pool was created for;
    /// [`EINVAL`] for another device, [`ENXIO`] if the pool belongs to an earlier binding (its
    /// blocks were returned at that unbind).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::PoolObject};
    ///
    /// fn status(dev: &Device<Bound>, obj: &PoolObject<u32>) -> Result<u32> {
    ///     Ok(obj.access(dev)?.read())
    /// }
    /// ```
    pub fn access<'a>(&'a self, dev: &'a Device<Bound>) -> Result<PoolView<'a, T>> {
        self.pool.inner.res.access(dev)?;
        // INVARIANT: The pool's release can not run while `dev` is borrowed (`access` succeeded,
        // and see `Devres::access`), and this object can not be dropped while it is borrowed,
        // so the block stays allocated for `'a`.
        Ok(PoolView {
            ptr: self.node().vaddr.cast(),
            _p: PhantomData,
        })
    }
}

impl<T: AsBytes + FromBytes> Drop for PoolObject<T> {
    fn drop(&mut self) {
        // SAFETY: The node is owned by this object, allocated from this pool (type invariant),
        // and not used after this.
        unsafe { pool_free(&self.pool.inner, self.node) };
    }
}

/// The CPU's view of a [`PoolObject`], from [`PoolObject::access`]: volatile reads and writes of
/// its `T`, and field projection with [`dma_read!`] and [`dma_write!`] at index 0.
///
/// # Invariants
///
/// `ptr` points to a block of the pool that stays allocated for `'a`, aligned for `T`.
///
/// [`dma_read!`]: crate::dma_read
/// [`dma_write!`]: crate::dma_write
///
/// # Examples
///
/// ```
/// use kernel::{device::{Bound, Device}, dma::PoolObject, dma_read, types::{AsBytes, FromBytes}};
///
/// #[derive(FromBytes, AsBytes)]
/// #[repr(C)]
/// struct Cmd {
///     opcode: u32,
///     len: u32,
/// }
///
/// fn len(dev: &Device<Bound>, cmd: &PoolObject<Cmd>) -> Result<u32> {
///     let view = cmd.access(dev)?;
///     dma_read!(view[0].len)
/// }
/// ```
pub struct PoolView<'a, T: AsBytes + FromBytes> {
    ptr: NonNull<T>,
    _p: PhantomData<&'a T>,
}

impl<T: AsBytes + FromBytes> PoolView<'_, T> {
    #[inline]
    pub(super) fn element(&self, i: usize) -> Result<*mut T> {
        if i != 0 {
            return Err(EINVAL);
        }
        Ok(self.ptr.as_ptr())
    }

    /// Reads the block with a volatile read.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::PoolObject};
    ///
    /// fn done(dev: &Device<Bound>, obj: &PoolObject<u32>) -> Result<bool> {
    ///     Ok(obj.access(dev)?.read() != 0)
    /// }
    /// ```
    pub fn read(&self) -> T {
        // SAFETY: The block is allocated and aligned for `T` (type invariant); `T: FromBytes`
        // accepts whatever the device wrote.
        unsafe { self.ptr.as_ptr().read_volatile() }
    }

    /// Writes the block with a volatile write.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::PoolObject};
    ///
    /// fn arm(dev: &Device<Bound>, obj: &PoolObject<u32>) -> Result {
    ///     obj.access(dev)?.write(1);
    ///     Ok(())
    /// }
    /// ```
    pub fn write(&self, value: T) {
        // SAFETY: As for `read`; the memory is only accessed with volatile operations.
        unsafe { self.ptr.as_ptr().write_volatile(value) };
    }
}
