// SPDX-License-Identifier: GPL-2.0

//! KUnit suites written in Rust.
//!
//! [`kunit_suite!`](crate::kunit_suite) turns a list of functions `fn(&mut Test)` into a KUnit
//! suite that the kernel runs with the C suites: built in, at boot; in a module, when it is
//! loaded. Inside a case, [`kunit_expect!`](crate::kunit_expect) and
//! [`kunit_expect_eq!`](crate::kunit_expect_eq) record failures without ending the case, so that
//! a case always reaches its clean-up code (unregistering drivers, freeing memory).
//!
//! # Examples
//!
//! ```ignore
//! use kernel::kunit::Test;
//!
//! fn adds(test: &mut Test) {
//!     kernel::kunit_expect_eq!(test, 1 + 1, 2);
//! }
//!
//! kernel::kunit_suite!(rust_example, [adds]);
//! ```

use crate::{bindings, str::CStr};

/// The running KUnit test case, as passed to each case function.
///
/// # Invariants
///
/// `self.0` is the valid `struct kunit` of the case that is running on the current task.
///
/// # Examples
///
/// ```
/// use kernel::kunit::Test;
///
/// // A case of a suite defined with `kunit_suite!`.
/// fn adds(test: &mut Test) {
///     kernel::kunit_expect_eq!(test, 1 + 1, 2);
/// }
/// ```
pub struct Test(*mut bindings::kunit);

impl Test {
    /// Wraps the test pointer that KUnit passes to a case.
    ///
    /// # Safety
    ///
    /// `ptr` must be the `struct kunit` of a case that is running, and the returned value must
    /// not outlive the case.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::kunit::Test;
    ///
    /// // SAFETY: A doctest runs as a KUnit case, which outlives `test`.
    /// let mut test = unsafe { Test::from_raw(kernel::bindings::kunit_get_current_test()) };
    /// let answer = 6 * 7;
    /// assert!(kernel::kunit_expect!(test, answer == 42));
    /// ```
    pub unsafe fn from_raw(ptr: *mut bindings::kunit) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(ptr)
    }

    /// Records a failed expectation at `file:line` if `ok` is false; returns `ok`.
    ///
    /// Use [`kunit_expect!`](crate::kunit_expect), which fills in the location.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, kunit::Test};
    ///
    /// // SAFETY: A doctest runs as a KUnit case, which outlives `test`.
    /// let mut test = unsafe { Test::from_raw(kernel::bindings::kunit_get_current_test()) };
    /// assert!(test.expect(2 > 1, c_str!(file!()), line!(), c_str!("2 > 1")));
    /// ```
    pub fn expect(
        &mut self,
        ok: bool,
        file: &'static CStr,
        line: u32,
        condition: &'static CStr,
    ) -> bool {
        if ok {
            return true;
        }
        let loc = bindings::kunit_loc {
            file: file.as_char_ptr(),
            line: line as _,
        };
        let assert = bindings::kunit_unary_assert {
            assert: bindings::kunit_assert {},
            condition: condition.as_char_ptr(),
            expected_true: true,
        };
        // SAFETY: `self.0` is the running case (type invariant); `loc` and `assert` live across
        // the call, which formats the failure into the case's log before returning; the format
        // function matches the assertion type; a NULL message format is allowed.
        unsafe {
            bindings::__kunit_do_failed_assertion(
                self.0,
                &loc,
                bindings::kunit_assert_type_KUNIT_EXPECTATION,
                &assert.assert,
                Some(bindings::kunit_unary_assert_format),
                core::ptr::null(),
            )
        };
        false
    }

    /// Marks the case as skipped, for `reason`, which the results show: for a case whose device
    /// the machine does not have. What the case records after still counts.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{c_str, kunit::Test};
    ///
    /// fn needs_device(test: &mut Test, present: bool) {
    ///     if !present {
    ///         test.skip(c_str!("no such device on this machine"));
    ///     }
    /// }
    /// # // SAFETY: A doctest runs as a KUnit case, which outlives `test`.
    /// # let mut test = unsafe { Test::from_raw(kernel::bindings::kunit_get_current_test()) };
    /// # needs_device(&mut test, true);
    /// ```
    pub fn skip(&mut self, reason: &CStr) {
        let reason = reason.as_bytes();
        // SAFETY: `self.0` is the running case (type invariant), whose status and comment only
        // the case's own task writes while it runs; KUnit reads them when the case has ended.
        unsafe {
            let comment = &mut (*self.0).status_comment;
            let n = reason.len().min(comment.len() - 1);
            for (dst, &src) in comment.iter_mut().zip(&reason[..n]) {
                *dst = src as _;
            }
            comment[n] = 0;
            (*self.0).status = bindings::kunit_status_KUNIT_SKIPPED;
        }
    }
}

/// Builds a case entry for [`kunit_suite!`](crate::kunit_suite).
#[doc(hidden)]
pub const fn case(
    name: &'static CStr,
    run: unsafe extern "C" fn(*mut bindings::kunit),
) -> bindings::kunit_case {
    // SAFETY: `struct kunit_case` is plain C data for which all zeroes is the empty entry.
    let mut case: bindings::kunit_case = unsafe { core::mem::zeroed() };
    case.run_case = Some(run);
    case.name = name.as_char_ptr();
    case
}

/// Builds the terminating case entry for [`kunit_suite!`](crate::kunit_suite).
#[doc(hidden)]
pub const fn case_end() -> bindings::kunit_case {
    // SAFETY: All zeroes is the terminator KUnit looks for.
    unsafe { core::mem::zeroed() }
}

/// Builds a suite for [`kunit_suite!`](crate::kunit_suite).
///
/// # Panics
///
/// Panics (at compile time, as it is used in a `static`) if the name does not fit.
#[doc(hidden)]
pub const fn suite(name: &'static CStr, cases: *mut bindings::kunit_case) -> bindings::kunit_suite {
    // SAFETY: `struct kunit_suite` is plain C data for which all zeroes means "no callbacks".
    let mut suite: bindings::kunit_suite = unsafe { core::mem::zeroed() };
    let bytes = name.as_bytes_with_nul();
    assert!(bytes.len() <= suite.name.len(), "KUnit suite name too long");
    let mut i = 0;
    while i < bytes.len() {
        suite.name[i] = bytes[i] as _;
        i += 1;
    }
    suite.test_cases = cases;
    suite
}

/// Defines a KUnit suite named `$suite` whose cases are the functions `fn(&mut Test)` listed.
///
/// # Examples
///
/// ```ignore
/// fn passes(test: &mut kernel::kunit::Test) {
///     kernel::kunit_expect!(test, true);
/// }
///
/// kernel::kunit_suite!(rust_example, [passes]);
/// ```
#[macro_export]
macro_rules! kunit_suite {
    ($suite:ident, [$($case:ident),+ $(,)?]) => {
        const _: () = {
            const __N: usize = [$(stringify!($case)),+].len();

            static mut __CASES: [$crate::bindings::kunit_case; __N + 1] = [
                $($crate::kunit::case($crate::c_str!(stringify!($case)), {
                    extern "C" fn __run(test: *mut $crate::bindings::kunit) {
                        // SAFETY: KUnit passes the running case, which outlives this call.
                        $case(&mut unsafe { $crate::kunit::Test::from_raw(test) })
                    }
                    __run
                }),)+
                $crate::kunit::case_end(),
            ];

            static mut __SUITE: $crate::bindings::kunit_suite = $crate::kunit::suite(
                $crate::c_str!(stringify!($suite)),
                (&raw mut __CASES).cast(),
            );

            // The section KUnit collects suites from, as `kunit_test_suites()` fills it in C.
            #[used]
            #[link_section = ".kunit_test_suites"]
            static mut __SUITE_PTR: *mut $crate::bindings::kunit_suite = &raw mut __SUITE;
        };
    };
}

/// Records a failure of the current case, without ending it, if `$cond` is false.
///
/// Evaluates to the value of `$cond`.
///
/// # Examples
///
/// ```ignore
/// fn case(test: &mut kernel::kunit::Test) {
///     kernel::kunit_expect!(test, 2 > 1);
/// }
/// ```
#[macro_export]
macro_rules! kunit_expect {
    ($test:expr, $cond:expr $(,)?) => {
        $test.expect(
            $cond,
            $crate::c_str!(::core::file!()),
            ::core::line!(),
            $crate::c_str!(::core::stringify!($cond)),
        )
    };
}

/// Records a failure of the current case, printing both values, if they differ.
///
/// # Examples
///
/// ```ignore
/// fn case(test: &mut kernel::kunit::Test) {
///     kernel::kunit_expect_eq!(test, 1 + 1, 2);
/// }
/// ```
#[macro_export]
macro_rules! kunit_expect_eq {
    ($test:expr, $left:expr, $right:expr $(,)?) => {{
        let (left, right) = (&$left, &$right);
        if !$crate::kunit_expect!($test, *left == *right) {
            $crate::kunit::err(::core::format_args!(
                "    {} == {:?}, expected {:?}\n",
                ::core::stringify!($left),
                left,
                right
            ));
        }
    }};
}
