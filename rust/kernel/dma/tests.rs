// SPDX-License-Identifier: GPL-2.0

//! KUnit suite for the DMA abstractions, against a real bound device.
//!
//! A test PCI driver binds QEMU's `edu` devices; its `probe` runs the checks that need a bound
//! device and records every failure, and the cases then unbind the device to see that what was
//! still alive is released at unbind. `CONFIG_DMA_API_DEBUG` reports leaked or mismatched
//! mappings at unbind, which the test runner finds in the kernel log.

use crate::{
    alloc::flags::{GFP_ATOMIC, GFP_KERNEL, __GFP_NOWARN},
    bindings, c_str,
    device::{Bound, Core, Device},
    devres::Devres,
    dma::{
        attrs, Attrs, CoherentAllocation, CpuView, DataDirection, DeviceOnlyAllocation, DmaMask,
        StreamingMapping,
    },
    dma_read, dma_write,
    error::code::*,
    kunit::Test,
    pci::{
        self,
        testing::{register_or_fail, Checks, DevRef, TestRegistration, EDU},
    },
    prelude::*,
    sync::Arc,
};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering::SeqCst};

const MASK_BITS: u32 = 28;
/// The number of `probe_check!` calls that a successful probe makes.
const CHECKS_PER_PROBE: usize = 32;

/// Streaming mappings made by the checks, and how many of them have a bus address other than the
/// buffer's physical one (swiotlb bounced it, or an IOMMU translates it).
static STREAMING: AtomicUsize = AtomicUsize::new(0);
static BOUNCED: AtomicUsize = AtomicUsize::new(0);
/// Probed devices whose DMA goes through an IOMMU (`use_dma_iommu()`).
static IOMMU_DEVICES: AtomicUsize = AtomicUsize::new(0);
/// Maps for a 24-bit mask: refused with `EIO`, and succeeded (the buffer was reachable).
static UNREACHABLE: AtomicUsize = AtomicUsize::new(0);
static REACHABLE: AtomicUsize = AtomicUsize::new(0);

/// How many streaming mappings the unbind has unmapped, counted by the binding.
pub(crate) static STREAMING_RELEASED: AtomicUsize = AtomicUsize::new(0);

/// How many coherent allocations have been freed (`dma_free_attrs()`), counted by the binding.
pub(crate) static COHERENT_FREED: AtomicUsize = AtomicUsize::new(0);

static PROBES: AtomicUsize = AtomicUsize::new(0);
static CHECKS: Checks = Checks::new();
static PDEV: DevRef = DevRef::new();
/// A coherent allocation kept past unbind (from `Arc::into_raw`).
static KEPT_ALLOC: AtomicPtr<Devres<CoherentAllocation<u32>>> =
    AtomicPtr::new(core::ptr::null_mut());
/// A streaming mapping kept past unbind (from `KBox::into_raw`).
static KEPT_MAP: AtomicPtr<StreamingMapping<u8>> = AtomicPtr::new(core::ptr::null_mut());
/// Many streaming mappings kept past unbind (from `KBox::into_raw`).
static KEPT_MANY: AtomicPtr<KVec<StreamingMapping<u8>>> = AtomicPtr::new(core::ptr::null_mut());
/// How many mappings [`KEPT_MANY`] holds.
const MANY: usize = 1000;
/// A streaming-mapped buffer in the CPU's hands kept past unbind (from `KBox::into_raw`).
static KEPT_VIEW: AtomicPtr<CpuView<u8>> = AtomicPtr::new(core::ptr::null_mut());

macro_rules! probe_check {
    ($cond:expr) => {
        crate::pci::testing::probe_check!(CHECKS, $cond)
    };
}

/// The bad inputs of coherent allocations and element access, each with its error.
fn coherent_checks(dev: &Device<Bound>) -> Result {
    let mask = dev.dma_coherent_mask();
    probe_check!(mask == DmaMask::new::<MASK_BITS>().value());
    probe_check!(dev.dma_mask() == Some(mask));

    let alloc = CoherentAllocation::<u32>::alloc_coherent(dev, 64, GFP_KERNEL)?;
    let a = alloc.access(dev)?;
    probe_check!(a.count() == 64 && a.size() == 256);
    // The whole buffer lies within the mask.
    probe_check!(a.dma_handle() + a.size() as u64 - 1 <= mask);
    probe_check!(a.dma_handle_of(1) == Ok(a.dma_handle() + 4));
    probe_check!(a.dma_handle_of(64) == Err(EINVAL));
    for i in 0..64 {
        a.write(i, 0x1000 + i as u32)?;
    }
    probe_check!((0..64).all(|i| a.read(i) == Ok(0x1000 + i as u32)));
    probe_check!(a.read(64) == Err(EINVAL));
    probe_check!(a.write(64, 0) == Err(EINVAL));
    probe_check!(a.read(usize::MAX) == Err(EINVAL));
    // SAFETY: Nothing writes the buffer while the slice exists.
    probe_check!(unsafe { a.as_slice(60, 4) }.map(|s| s[3]) == Ok(0x1000 + 63));
    // SAFETY: As above.
    probe_check!(unsafe { a.as_slice(61, 4) }.err() == Some(EINVAL));
    // SAFETY: As above.
    probe_check!(unsafe { a.as_slice(usize::MAX, 2) }.err() == Some(EINVAL));

    // Bad sizes: no elements, an overflowing count, a size no allocator can satisfy.
    probe_check!(
        CoherentAllocation::<u32>::alloc_coherent(dev, 0, GFP_KERNEL).err() == Some(EINVAL)
    );
    probe_check!(
        CoherentAllocation::<u64>::alloc_coherent(dev, usize::MAX / 4, GFP_KERNEL).err()
            == Some(EOVERFLOW)
    );
    probe_check!(
        CoherentAllocation::<u8>::alloc_attrs(
            dev,
            1 << 40,
            GFP_KERNEL | __GFP_NOWARN,
            attrs::DMA_ATTR_NO_WARN
        )
        .err()
            == Some(ENOMEM)
    );

    // Attributes: unknown bits are refused; no kernel mapping means no CPU access.
    probe_check!(Attrs::try_from_raw(1 << 31).err() == Some(EINVAL));
    probe_check!(Attrs::try_from_raw(bindings::DMA_ATTR_NO_KERNEL_MAPPING).err() == Some(EINVAL));
    let nomap = DeviceOnlyAllocation::alloc_attrs(dev, 8192, GFP_KERNEL, attrs::DMA_ATTR_NO_WARN)?;
    let n = nomap.access(dev)?;
    probe_check!(n.attrs() == attrs::DMA_ATTR_NO_WARN && n.size() == 8192 && n.dma_handle() != 0);
    let wc = CoherentAllocation::<u32>::alloc_attrs(dev, 16, GFP_KERNEL, attrs::DMA_ATTR_NO_WARN)?;
    probe_check!(wc.access(dev)?.write(15, 7).is_ok());

    // Field access: in bounds and aligned, or refused.
    #[derive(crate::types::FromBytes, crate::types::AsBytes)]
    #[repr(C)]
    struct Desc {
        addr: u64,
        len: u32,
        flags: u32,
    }
    let ring = CoherentAllocation::<Desc>::alloc_coherent(dev, 4, GFP_KERNEL)?;
    let r = ring.access(dev)?;
    probe_check!(dma_write!(r[3].len = 99).is_ok());
    probe_check!(dma_read!(r[3].len) == Ok(99));
    probe_check!(dma_read!(r[3]).map(|d| (d.addr, d.len)) == Ok((0, 99)));
    probe_check!(dma_read!(r[4].len) == Err(EINVAL));
    probe_check!(dma_write!(r[4].flags = 1) == Err(EINVAL));

    // Kept past unbind: released there.
    let kept = Arc::new(
        CoherentAllocation::<u32>::alloc_coherent(dev, 32, GFP_KERNEL)?,
        GFP_KERNEL,
    )?;
    let old = KEPT_ALLOC.swap(Arc::into_raw(kept).cast_mut(), SeqCst);
    if !old.is_null() {
        // SAFETY: The slot holds pointers from `Arc::into_raw` only.
        drop(unsafe { Arc::from_raw(old) });
    }
    Ok(())
}

/// Streaming mappings: ownership round trip and bad inputs.
fn streaming_checks(dev: &Device<Bound>) -> Result {
    let mask = dev.dma_mask().unwrap_or(0);
    let mut buf = KVec::new();
    for i in 0..256u32 {
        buf.push(i as u8, GFP_KERNEL)?;
    }
    // SAFETY: `buf` is a kmalloc'ed buffer; this only computes its physical address.
    let phys = unsafe { bindings::virt_to_phys(buf.as_mut_ptr().cast()) };
    let mapped = StreamingMapping::map(dev, buf, DataDirection::Bidirectional)?;
    STREAMING.fetch_add(1, SeqCst);
    // Without an IOMMU the bus address is the physical one, unless swiotlb bounced the buffer;
    // behind one it is an I/O virtual address.
    if mapped.dma_handle() != phys {
        BOUNCED.fetch_add(1, SeqCst);
    }
    probe_check!(mapped.len() == 256);
    probe_check!(mapped.dma_handle() + 255 <= mask);
    let mut cpu = mapped.sync_for_cpu();
    probe_check!(cpu[255] == 255);
    cpu[0] = 0xaa;
    let mapped = cpu.sync_for_device();
    let buf = mapped.unmap();
    probe_check!(buf.len() == 256 && buf[0] == 0xaa && buf[1] == 1);

    probe_check!(
        StreamingMapping::<u8>::map(dev, KVec::new(), DataDirection::ToDevice).err()
            == Some(EINVAL)
    );

    // Kept past unbind in the CPU's hands, and written by the CPU: the unmap at unbind must not
    // write into it (with swiotlb, a synchronisation would copy the bounce buffer, which holds
    // 0x11, over the CPU's 0x22).
    let fresh = KVec::from_elem(0x11u8, 256, GFP_KERNEL)?;
    let mut view = StreamingMapping::map(dev, fresh, DataDirection::Bidirectional)?.sync_for_cpu();
    view.fill(0x22);
    let old = KEPT_VIEW.swap(KBox::into_raw(KBox::new(view, GFP_KERNEL)?), SeqCst);
    if !old.is_null() {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        drop(unsafe { KBox::from_raw(old) });
    }

    // Allocations that take flags honour them in every allocation: with `GFP_ATOMIC` inside an
    // RCU read-side section (atomic on non-preemptible RCU) nothing may sleep, which the debug
    // kernel would report.
    let guard = crate::sync::rcu::read_lock();
    let atomic = CoherentAllocation::<u8>::alloc_coherent(dev, 64, GFP_ATOMIC);
    let registered = crate::devres::register(dev, [0u8; 16], GFP_ATOMIC);
    drop(guard);
    probe_check!(atomic.is_ok() && registered.is_ok());
    drop(atomic);

    // Many kept past unbind, each unmapped there once.
    let mut many = KVec::with_capacity(MANY, GFP_KERNEL)?;
    for _ in 0..MANY {
        let b = KVec::from_elem(0u8, 64, GFP_KERNEL)?;
        many.push(
            StreamingMapping::map(dev, b, DataDirection::FromDevice)?,
            GFP_KERNEL,
        )?;
    }
    let old = KEPT_MANY.swap(KBox::into_raw(KBox::new(many, GFP_KERNEL)?), SeqCst);
    if !old.is_null() {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        drop(unsafe { KBox::from_raw(old) });
    }

    // Kept past unbind: unmapped there, and the buffer still comes back intact.
    let kept = StreamingMapping::map(dev, buf, DataDirection::ToDevice)?;
    let old = KEPT_MAP.swap(KBox::into_raw(KBox::new(kept, GFP_KERNEL)?), SeqCst);
    if !old.is_null() {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        drop(unsafe { KBox::from_raw(old) });
    }
    Ok(())
}

struct TestDriver;

impl pci::Driver for TestDriver {
    type IdInfo = ();
    const ID_TABLE: pci::IdTable<()> = &EDU;

    fn probe(pdev: &pci::Device<Core>, _info: Option<&()>) -> Result<Pin<KBox<Self>>> {
        PROBES.fetch_add(1, SeqCst);
        let dev: &Device<Core> = pdev.as_ref();
        PDEV.keep_first(pdev);
        // SAFETY: `dev` is a valid device; this reads its DMA configuration.
        if unsafe { bindings::use_dma_iommu(dev.as_raw()) } {
            IOMMU_DEVICES.fetch_add(1, SeqCst);
        }
        // A mask below most of memory: a buffer the device can not reach, with no bounce pool
        // within the mask, is refused with `EIO` before the DMA layer would warn.
        dev.dma_set_mask(DmaMask::new::<24>())?;
        let buf = KVec::from_elem(0u8, 4096, GFP_KERNEL)?;
        match StreamingMapping::map(dev, buf, DataDirection::ToDevice) {
            Ok(mapped) => {
                REACHABLE.fetch_add(1, SeqCst);
                probe_check!(mapped.dma_handle() + 4095 <= DmaMask::new::<24>().value());
            }
            Err(e) => {
                UNREACHABLE.fetch_add(1, SeqCst);
                probe_check!(e == EIO);
            }
        }
        dev.dma_set_mask_and_coherent(DmaMask::new::<MASK_BITS>())?;
        pdev.set_master();
        if let Err(e) = coherent_checks(dev).and_then(|()| streaming_checks(dev)) {
            crate::pr_err!("dma test probe: {:?}\n", e);
            probe_check!(false);
        }
        Ok(KBox::pin(TestDriver, GFP_KERNEL)?)
    }
}

fn register(test: &mut Test) -> Option<TestRegistration<TestDriver>> {
    PROBES.store(0, SeqCst);
    IOMMU_DEVICES.store(0, SeqCst);
    CHECKS.reset();
    register_or_fail(test, c_str!("rust_dma_test"))
}

/// Every check made in probe passed, on every device.
fn probe_checks_pass(test: &mut Test) {
    let Some(reg) = register(test) else {
        return;
    };
    crate::kunit_expect!(test, PROBES.load(SeqCst) > 0);
    // Every check ran: none was skipped by an early return.
    crate::kunit_expect_eq!(test, CHECKS.made(), CHECKS_PER_PROBE * PROBES.load(SeqCst));
    CHECKS.report(test, 1);
    let (probes, streaming, bounced) = (
        PROBES.load(SeqCst),
        STREAMING.load(SeqCst),
        BOUNCED.load(SeqCst),
    );
    crate::pr_info!(
        "rust_dma: {} of {} streaming mappings bounced or translated; {} of {} devices behind an \
         IOMMU; 24-bit mask: {} refused, {} reachable\n",
        bounced,
        streaming,
        IOMMU_DEVICES.load(SeqCst),
        probes,
        UNREACHABLE.load(SeqCst),
        REACHABLE.load(SeqCst)
    );
    // The arm64 machine puts an SMMUv3 in front of PCI (scripts/lib.sh): every device's DMA goes
    // through it, and no DMA address that the checks saw was a physical address.
    if cfg!(CONFIG_ARM_SMMU_V3) {
        crate::kunit_expect_eq!(test, IOMMU_DEVICES.load(SeqCst), probes);
        crate::kunit_expect!(test, streaming > 0 && bounced == streaming);
    }
    drop(reg);
    cleanup();
}

/// What is still alive at unbind is released then: the coherent allocation is gone, the
/// streaming mapping is unmapped and its buffer intact.
fn released_at_unbind(test: &mut Test) {
    let Some(reg) = register(test) else {
        return;
    };
    let ptr = KEPT_ALLOC.swap(core::ptr::null_mut(), SeqCst);
    if !crate::kunit_expect!(test, !ptr.is_null()) {
        return;
    }
    // SAFETY: The slot holds pointers from `Arc::into_raw` only.
    let alloc = unsafe { Arc::from_raw(ptr) };
    crate::kunit_expect!(test, alloc.try_access().is_some());
    let kept_dev = alloc.device().as_raw();

    // Unbind the device the allocation belongs to.
    let released = STREAMING_RELEASED.load(SeqCst);
    // SAFETY: The device is referenced by `alloc`; unbinding takes the device lock itself.
    unsafe { bindings::device_release_driver(kept_dev) };
    crate::kunit_expect!(test, alloc.try_access().is_none());
    drop(alloc);
    // The kept mappings of that device: `MANY`, one the device owns and one the CPU owns.
    let after = STREAMING_RELEASED.load(SeqCst);
    let released = after - released;
    crate::pr_info!(
        "rust_dma: the unbind unmapped {} streaming mappings it found live\n",
        released
    );
    crate::kunit_expect_eq!(test, released, MANY + 2);
    let many = KEPT_MANY.swap(core::ptr::null_mut(), SeqCst);
    if crate::kunit_expect!(test, !many.is_null()) {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        let many = unsafe { KBox::from_raw(many) };
        // Dropping them now unmaps nothing again.
        drop(many);
        crate::kunit_expect_eq!(test, STREAMING_RELEASED.load(SeqCst), after);
    }

    let map = KEPT_MAP.swap(core::ptr::null_mut(), SeqCst);
    if crate::kunit_expect!(test, !map.is_null()) {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        let map = KBox::into_inner(unsafe { KBox::from_raw(map) });
        let buf = map.unmap();
        crate::kunit_expect!(test, buf.len() == 256 && buf[0] == 0xaa && buf[200] == 200);
    }
    // The CPU's writes to a buffer it owned at unbind are intact.
    let view = KEPT_VIEW.swap(core::ptr::null_mut(), SeqCst);
    if crate::kunit_expect!(test, !view.is_null()) {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        let view = KBox::into_inner(unsafe { KBox::from_raw(view) });
        let kept = view.iter().filter(|&&b| b == 0x22).count();
        crate::pr_info!(
            "rust_dma: {} of 256 bytes the CPU wrote kept at unbind\n",
            kept
        );
        crate::kunit_expect_eq!(test, kept, 256);
    }
    drop(reg);
    cleanup();
}

fn cleanup() {
    let ptr = KEPT_ALLOC.swap(core::ptr::null_mut(), SeqCst);
    if !ptr.is_null() {
        // SAFETY: The slot holds pointers from `Arc::into_raw` only.
        drop(unsafe { Arc::from_raw(ptr) });
    }
    let ptr = KEPT_MAP.swap(core::ptr::null_mut(), SeqCst);
    if !ptr.is_null() {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        drop(unsafe { KBox::from_raw(ptr) });
    }
    let ptr = KEPT_VIEW.swap(core::ptr::null_mut(), SeqCst);
    if !ptr.is_null() {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        drop(unsafe { KBox::from_raw(ptr) });
    }
    let ptr = KEPT_MANY.swap(core::ptr::null_mut(), SeqCst);
    if !ptr.is_null() {
        // SAFETY: The slot holds pointers from `KBox::into_raw` only.
        drop(unsafe { KBox::from_raw(ptr) });
    }
    PDEV.put();
}

crate::kunit_suite!(rust_dma, [probe_checks_pass, released_at_unbind]);
