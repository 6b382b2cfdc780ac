// SPDX-License-Identifier: GPL-2.0

//! Field projection: volatile reads and writes of one field of one element of DMA memory.
//!
//! [`dma_read!`] and [`dma_write!`] name the element and the field as Rust code would,
//! `dma_read!(ring[i].status)` and `dma_write!(ring[i].addr = a)`. The compiler checks that the
//! field exists and that the value has its type; the index is checked at run time ([`EINVAL`]
//! past the end), and so is what the compiler can not see: the field's address is checked to lie
//! within the element and to be aligned for its type (a field of a packed struct may not be).
//! These checks are on the field's offset, a constant, and fold away.
//!
//! They work on every DMA memory made of elements that the CPU accesses with volatile
//! operations, the types that implement the sealed [`Elements`]: a [`CoherentAllocation`] and
//! the view of a DMA pool object ([`PoolView`], one element, index 0). The CPU's view of a
//! streaming mapping ([`CpuView`]) is ordinary memory that the CPU owns: index it as a slice.
//!
//! [`CoherentAllocation`]: super::CoherentAllocation
//! [`CpuView`]: super::CpuView
//! [`PoolView`]: super::PoolView
//! [`dma_read!`]: crate::dma_read
//! [`dma_write!`]: crate::dma_write

use crate::{
    error::{code::*, Result},
    types::{AsBytes, FromBytes},
};

mod private {
    pub trait Sealed {}
}

/// DMA memory made of elements of plain data that the CPU reaches with volatile accesses.
///
/// Sealed: the projection macros read and write through the pointers it returns, so only this
/// crate's types, whose pointers are valid, implement it.
///
/// # Examples
///
/// ```
/// use kernel::dma::{CoherentAllocation, Elements};
///
/// fn count<E: Elements>(e: &E) -> usize {
///     e.count()
/// }
/// fn ring_len(r: &CoherentAllocation<u32>) -> usize {
///     count(r)
/// }
/// ```
pub trait Elements: private::Sealed {
    /// The element type.
    type Elem: AsBytes + FromBytes;

    /// Returns the number of elements.
    fn count(&self) -> usize;

    /// Returns a pointer to element `i`, valid for volatile reads and writes of `Self::Elem`
    /// while `self` is borrowed; [`EINVAL`] if `i` is out of bounds.
    #[doc(hidden)]
    fn element_ptr(&self, i: usize) -> Result<*mut Self::Elem>;
}

impl<T: AsBytes + FromBytes> private::Sealed for super::CoherentAllocation<T> {}

impl<T: AsBytes + FromBytes> Elements for super::CoherentAllocation<T> {
    type Elem = T;

    fn count(&self) -> usize {
        self.count()
    }

    #[inline]
    fn element_ptr(&self, i: usize) -> Result<*mut T> {
        self.element(i)
    }
}

impl<T: AsBytes + FromBytes> private::Sealed for super::PoolView<'_, T> {}

impl<T: AsBytes + FromBytes> Elements for super::PoolView<'_, T> {
    type Elem = T;

    fn count(&self) -> usize {
        1
    }

    #[inline]
    fn element_ptr(&self, i: usize) -> Result<*mut T> {
        self.element(i)
    }
}

impl<E: Elements + ?Sized> private::Sealed for &E {}

impl<E: Elements + ?Sized> Elements for &E {
    type Elem = E::Elem;

    fn count(&self) -> usize {
        (**self).count()
    }

    #[inline]
    fn element_ptr(&self, i: usize) -> Result<*mut E::Elem> {
        (**self).element_ptr(i)
    }
}

/// Checks that the projection `f` of element `i` of `e` is a field: inside the element and
/// aligned for `F`.
///
/// The checks are on the field's offset in the element, which is a constant for a projection by
/// the macros (a field's address is the element's plus its offset), so they fold away; only the
/// element's index is checked at run time then. An address that the offset does not describe
/// (a projection through `Deref`) fails them.
#[inline(always)]
fn field<E: Elements + ?Sized, F>(
    e: &E,
    i: usize,
    f: impl FnOnce(*mut E::Elem) -> *mut F,
) -> Result<*mut F> {
    let p = e.element_ptr(i)?;
    let field = f(p);
    let offset = (field as usize).wrapping_sub(p as usize);
    // Below the element, the offset wraps to a huge value and fails this too.
    let inside = match core::mem::size_of::<E::Elem>().checked_sub(core::mem::size_of::<F>()) {
        Some(room) => offset <= room,
        None => false,
    };
    // The element is aligned for its type: where that covers `F`'s alignment, the offset
    // decides.
    let aligned = if core::mem::align_of::<F>() <= core::mem::align_of::<E::Elem>() {
        offset % core::mem::align_of::<F>() == 0
    } else {
        field as usize % core::mem::align_of::<F>() == 0
    };
    if !inside || !aligned {
        return Err(EINVAL);
    }
    Ok(field)
}

/// Reads the field that `f` projects element `i` of `e` to; used by [`dma_read!`].
///
/// [`dma_read!`]: crate::dma_read
#[doc(hidden)]
#[inline(always)]
pub fn __read<E: Elements + ?Sized, F: FromBytes>(
    e: &E,
    i: usize,
    f: impl FnOnce(*mut E::Elem) -> *mut F,
) -> Result<F> {
    let field = field(e, i, f)?;
    // SAFETY: `field` lies within element `i`, valid for volatile accesses while `e` is borrowed
    // (`Elements::element_ptr`), and is aligned for `F` (checked); `F: FromBytes` accepts the
    // bytes there, which the element type (`AsBytes`) keeps initialised.
    Ok(unsafe { field.read_volatile() })
}

/// A field of an element of DMA memory, checked by [`__field`], for [`dma_write!`]: the field's
/// type is known before the value is looked at, so a value of another type is reported as such.
///
/// # Invariants
///
/// `ptr` lies within an element of memory that stays valid for volatile accesses for `'a`, and
/// is aligned for `F`.
///
/// [`dma_write!`]: crate::dma_write
#[doc(hidden)]
pub struct Field<'a, F> {
    ptr: *mut F,
    _p: core::marker::PhantomData<&'a F>,
}

impl<F: AsBytes> Field<'_, F> {
    /// Writes `value` to the field with a volatile write.
    #[doc(hidden)]
    #[inline(always)]
    pub fn write(self, value: F) {
        // SAFETY: `ptr` is valid and aligned (type invariant); the element type is `FromBytes`,
        // so any bytes written into it leave a valid value, and the memory is only accessed with
        // volatile operations.
        unsafe { self.ptr.write_volatile(value) };
    }
}

/// Returns the field that `f` projects element `i` of `e` to; used by [`dma_write!`].
///
/// [`dma_write!`]: crate::dma_write
#[doc(hidden)]
#[inline(always)]
pub fn __field<E: Elements + ?Sized, F: AsBytes>(
    e: &E,
    i: usize,
    f: impl FnOnce(*mut E::Elem) -> *mut F,
) -> Result<Field<'_, F>> {
    // INVARIANT: `field` checks the bounds and the alignment, and the element stays valid while
    // `e` is borrowed (`Elements::element_ptr`).
    Ok(Field {
        ptr: field(e, i, f)?,
        _p: core::marker::PhantomData,
    })
}

/// Reads an element, or a field of an element, of DMA memory with a volatile read.
///
/// `dma_read!(mem[i])` reads element `i`, `dma_read!(mem[i].a.b)` its field `a.b`; `mem` is any
/// expression of a type that implements [`Elements`] (or a reference to one). It evaluates to a
/// `Result` of the field's type: [`EINVAL`] if `i` is out of bounds or the field is not aligned
/// (in a packed struct). A field that does not exist, or a result used as another type, is a
/// compile error.
///
/// # Examples
///
/// ```
/// use kernel::{dma::CoherentAllocation, dma_read, dma_write, types::{AsBytes, FromBytes}};
///
/// #[derive(FromBytes, AsBytes)]
/// #[repr(C)]
/// struct Desc {
///     addr: u64,
///     len: u32,
///     status: u32,
/// }
///
/// fn complete(ring: &CoherentAllocation<Desc>, i: usize) -> Result<bool> {
///     let status: u32 = dma_read!(ring[i].status)?;
///     if status != 0 {
///         dma_write!(ring[i].status = 0)?;
///     }
///     assert_eq!(dma_read!(ring[ring.count()].len), Err(EINVAL));
///     Ok(status != 0)
/// }
/// ```
#[macro_export]
macro_rules! dma_read {
    ($($t:tt)*) => {
        $crate::__dma_project!(@read [] $($t)*)
    };
}

/// Writes an element, or a field of an element, of DMA memory with a volatile write.
///
/// `dma_write!(mem[i] = v)` writes element `i`, `dma_write!(mem[i].a.b = v)` its field `a.b`;
/// see [`dma_read!`]. It evaluates to a `Result<()>`: [`EINVAL`] if `i` is out of bounds or the
/// field is not aligned, in which case `v` is not evaluated. A field that does not exist, or a
/// value of another type than the field's, is a compile error.
///
/// # Examples
///
/// ```
/// use kernel::{dma::CoherentAllocation, dma_read, dma_write, types::{AsBytes, FromBytes}};
///
/// #[derive(FromBytes, AsBytes)]
/// #[repr(C)]
/// struct Desc {
///     addr: u64,
///     len: u32,
///     status: u32,
/// }
///
/// fn post(ring: &CoherentAllocation<Desc>, i: usize, addr: u64, len: u32) -> Result {
///     dma_write!(ring[i].addr = addr)?;
///     dma_write!(ring[i].len = len)?;
///     assert_eq!(dma_read!(ring[i].len)?, len);
///     Ok(())
/// }
/// ```
#[macro_export]
macro_rules! dma_write {
    ($($t:tt)*) => {
        $crate::__dma_project!(@write [] $($t)*)
    };
}

/// The parser of [`dma_read!`] and [`dma_write!`]: moves tokens into the receiver until the
/// rest is `[index]` followed by field names (and, for a write, `= value`).
#[doc(hidden)]
#[macro_export]
macro_rules! __dma_project {
    (@read [$($mem:tt)+] [$idx:expr] $(. $field:tt)*) => {
        $crate::dma::project::__read(&($($mem)+), $idx, |__elem| {
            // Compilers since 1.82 know that this needs no `unsafe`; older ones, which the kernel
            // supports, require it.
            #[allow(unused_unsafe)]
            // SAFETY: `__elem` points to an element in bounds; this only computes the address of
            // one of its fields, which `__read` checks again.
            let __field = unsafe { ::core::ptr::addr_of_mut!((*__elem) $(. $field)*) };
            __field
        })
    };
    (@write [$($mem:tt)+] [$idx:expr] $(. $field:tt)* = $value:expr) => {
        match $crate::dma::project::__field(&($($mem)+), $idx, |__elem| {
            #[allow(unused_unsafe)]
            // SAFETY: As for a read.
            let __field = unsafe { ::core::ptr::addr_of_mut!((*__elem) $(. $field)*) };
            __field
        }) {
            ::core::result::Result::Ok(__field) => {
                __field.write($value);
                ::core::result::Result::Ok(())
            }
            ::core::result::Result::Err(__e) => ::core::result::Result::Err(__e),
        }
    };
    (@$op:ident [$($mem:tt)*] $next:tt $($rest:tt)*) => {
        $crate::__dma_project!(@$op [$($mem)* $next] $($rest)*)
    };
}
