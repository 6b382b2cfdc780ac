// SPDX-License-Identifier: GPL-2.0

//! `#[derive(FromBytes)]` and `#[derive(AsBytes)]`, for the plain-data traits of
//! `kernel::types`.
//!
//! Both derives take a non-generic `#[repr(C)]` or `#[repr(transparent)]` struct, check every
//! field type against the trait (and, for `AsBytes`, that the struct has no padding), and
//! implement the trait. The input is parsed by hand, without `syn`; errors are reported with
//! `compile_error!` at the offending token instead of a panic.
//!
//! The generated code has three parts (shown for `struct Name { a: A, b: B }`):
//!
//! ```ignore
//! const _: () = {
//!     const fn __check<T: ?::core::marker::Sized + ::kernel::types::AsBytes>() {}
//!     __check::<A>();
//!     __check::<B>();
//! };
//! const _: () = ::core::assert!(
//!     ::core::mem::size_of::<Name>() == ::core::mem::size_of::<A>() + ::core::mem::size_of::<B>(),
//!     "`Name` has padding bytes: AsBytes needs every byte initialised",
//! );
//! // SAFETY: see `impl_as_bytes`.
//! unsafe impl ::kernel::types::AsBytes for Name {}
//! ```
//!
//! A field type that does not implement the trait is error E0277 at that type; padding is error
//! E0080 (the failed assertion, with its message). `FromBytes` has no padding check, since
//! padding may hold any value.
//!
//! `quote!` of this crate has no rule for `<`, `>`, `?`, `=` or literals, which this code needs,
//! so the fixed parts are parsed from strings (as `pin_data` does for its errors) and the tokens
//! of the input (the struct name and the field types) are put in between, keeping their spans.

use proc_macro::{Delimiter, Group, Ident, Literal, Spacing, Span, TokenStream, TokenTree};
use std::iter::Peekable;

/// One of the two derived traits.
#[derive(Clone, Copy)]
enum Plain {
    FromBytes,
    AsBytes,
}

impl Plain {
    /// The trait's name, as written in `#[derive(...)]`.
    const fn name(self) -> &'static str {
        match self {
            Self::FromBytes => "FromBytes",
            Self::AsBytes => "AsBytes",
        }
    }

    /// The absolute path of the trait, usable in the kernel crate (`extern crate self as kernel`)
    /// and in every crate that depends on it.
    const fn path(self) -> &'static str {
        match self {
            Self::FromBytes => "::kernel::types::FromBytes",
            Self::AsBytes => "::kernel::types::AsBytes",
        }
    }
}

/// A struct that the derives accept.
struct PlainStruct {
    /// The struct's name, with the span of the input.
    name: Ident,
    /// The type of each field, in order, as the tokens of the input.
    fields: Vec<Vec<TokenTree>>,
    /// `#[allow(...)]` for each `#[allow(...)]` or `#[expect(...)]` of the struct and its fields.
    ///
    /// The checks repeat the field types, outside of the struct: these attributes go on every
    /// generated item, so that a lint that the user allowed on a type (e.g. `deprecated`,
    /// `unused_parens`) stays allowed in the copies. Lints are only ever allowed (an `expect`
    /// becomes an `allow`, as the copies may or may not trigger it), never raised.
    allows: TokenStream,
}

/// Derives `FromBytes` (all bit patterns are valid, no interior mutability).
///
/// Accepts a struct with named fields, a tuple struct or a unit struct, with `#[repr(C)]` or
/// `#[repr(transparent)]` (other items may be in the same `repr`, e.g. `#[repr(C, packed)]` or
/// `#[repr(C, align(8))]`), whose field types all implement `FromBytes`. Padding is allowed.
/// Attributes (doc comments included) and visibilities of the struct and of its fields are
/// skipped.
///
/// Refuses, with a compile error: enums, unions, generic structs (type, lifetime or const
/// parameters, or a `where` clause), a struct without `#[repr(C)]` or `#[repr(transparent)]`,
/// and (error E0277, at the type) a field whose type does not implement `FromBytes`, such as
/// `bool`, `char`, a pointer or a reference.
pub(crate) fn derive_from_bytes(input: TokenStream) -> TokenStream {
    let plain = match parse_struct(input, Plain::FromBytes) {
        Ok(plain) => plain,
        Err(err) => return err,
    };
    let mut out = field_checks(&plain, Plain::FromBytes);
    out.extend(impl_from_bytes(&plain));
    out
}

/// Derives `AsBytes` (no uninitialised bytes, i.e. no padding, no interior mutability).
///
/// Accepts the same structs as [`derive_from_bytes`], whose field types all implement `AsBytes`
/// and are sized, and whose size is the sum of the sizes of its fields, i.e. without padding
/// between the fields or at the end (`#[repr(C, packed)]` has none; `#[repr(C, align(N))]` may
/// add some at the end).
///
/// Refuses, with a compile error: enums, unions, generic structs (type, lifetime or const
/// parameters, or a `where` clause), a struct without `#[repr(C)]` or `#[repr(transparent)]`, a
/// field whose type does not implement `AsBytes`, such as a pointer or a reference (error E0277,
/// at the type), and a struct with padding (error E0080, the failed assertion "`Name` has
/// padding bytes: ...").
pub(crate) fn derive_as_bytes(input: TokenStream) -> TokenStream {
    let plain = match parse_struct(input, Plain::AsBytes) {
        Ok(plain) => plain,
        Err(err) => return err,
    };
    let mut out = field_checks(&plain, Plain::AsBytes);
    out.extend(padding_check(&plain));
    out.extend(impl_as_bytes(&plain));
    out
}

/// Emits `unsafe impl ::kernel::types::FromBytes for Name {}`.
///
/// Why the impl is sound (the `SAFETY` argument, which cannot be a comment in the generated
/// tokens): it is emitted only together with [`field_checks`] and only for a non-generic struct,
/// so the program compiles only if the type of every field, the one instantiation there is,
/// implements `FromBytes`: every bit pattern is a valid value of each field, and no field has
/// interior mutability. The bytes of a struct are the bytes of its fields and its padding, which
/// may hold any value, so every bit pattern of the struct is valid too; and a struct has interior
/// mutability only through a field, so it has none. The layout is fixed by `repr(C)` or
/// `repr(transparent)`, so the meaning of the bytes is too.
fn impl_from_bytes(plain: &PlainStruct) -> TokenStream {
    unsafe_impl(plain, Plain::FromBytes)
}

/// Emits `unsafe impl ::kernel::types::AsBytes for Name {}`.
///
/// Why the impl is sound (the `SAFETY` argument, which cannot be a comment in the generated
/// tokens): it is emitted only together with [`field_checks`] and [`padding_check`] and only for
/// a non-generic struct, so the program compiles only if the type of every field implements
/// `AsBytes`, i.e. no field has uninitialised bytes or interior mutability, and the size of the
/// struct is the sum of the sizes of its fields. The fields of a struct do not overlap, so every
/// byte of the struct belongs to a field: there is no padding, and no byte is uninitialised. A
/// struct has interior mutability only through a field, so it has none.
fn impl_as_bytes(plain: &PlainStruct) -> TokenStream {
    unsafe_impl(plain, Plain::AsBytes)
}

/// Emits `unsafe impl <trait> for Name {}`; the callers hold the safety argument.
fn unsafe_impl(plain: &PlainStruct, derive: Plain) -> TokenStream {
    let mut out = plain.allows.clone();
    out.extend(code(&format!("unsafe impl {} for", derive.path())));
    out.extend([TokenTree::Ident(plain.name.clone())]);
    out.extend([braced(TokenStream::new())]);
    out
}

/// Emits the check that every field type implements the trait:
///
/// ```ignore
/// const _: () = {
///     const fn __check<T: ?::core::marker::Sized + Trait>() {}
///     __check::<F1>();
///     __check::<F2>();
/// };
/// ```
///
/// The function is `const` and called in the constant, so it is used (no `dead_code`); a field
/// type without the trait is error E0277 at the tokens of that type. `?Sized` lets a slice be
/// the last field (the trait is implemented for slices).
fn field_checks(plain: &PlainStruct, derive: Plain) -> TokenStream {
    let mut body = code(&format!(
        "const fn __check<T: ?::core::marker::Sized + {}>() {{}}",
        derive.path()
    ));
    for ty in &plain.fields {
        body.extend(code("__check::<"));
        body.extend(ty.iter().cloned());
        body.extend(code(">();"));
    }
    let mut out = plain.allows.clone();
    out.extend(code("const _: () ="));
    out.extend([braced(body)]);
    out.extend(code(";"));
    out
}

/// Emits the check that the struct has no padding:
///
/// ```ignore
/// const _: () = ::core::assert!(
///     ::core::mem::size_of::<Name>() == ::core::mem::size_of::<F1>() + ...,
///     "`Name` has padding bytes: AsBytes needs every byte initialised",
/// );
/// ```
///
/// A struct without fields is compared with `0` (a sum starting at `0 +` would be clippy's
/// `identity_op`). A failed assertion is error E0080 with the message.
fn padding_check(plain: &PlainStruct) -> TokenStream {
    let mut args = size_of(&[TokenTree::Ident(plain.name.clone())]);
    args.extend(code("=="));
    if plain.fields.is_empty() {
        args.extend(code("0"));
    }
    for (i, ty) in plain.fields.iter().enumerate() {
        if i > 0 {
            args.extend(code("+"));
        }
        args.extend(size_of(ty));
    }
    args.extend(code(","));
    args.extend([TokenTree::Literal(Literal::string(&format!(
        "`{}` has padding bytes: AsBytes needs every byte initialised",
        plain.name
    )))]);
    let mut out = plain.allows.clone();
    out.extend(code("const _: () = ::core::assert!"));
    out.extend([TokenTree::Group(Group::new(Delimiter::Parenthesis, args))]);
    out.extend(code(";"));
    out
}

/// Emits `::core::mem::size_of::<ty>()`.
fn size_of(ty: &[TokenTree]) -> TokenStream {
    let mut out = code("::core::mem::size_of::<");
    out.extend(ty.iter().cloned());
    out.extend(code(">()"));
    out
}

/// Parses fixed code (no input tokens in it) into tokens.
///
/// The code needs only balanced `()`, `[]` and `{}`, so it may end within `<...>`.
fn code(src: &str) -> TokenStream {
    src.parse()
        .expect("the fixed code of the plain-data derives should be valid tokens")
}

/// Returns `{ inner }`.
fn braced(inner: TokenStream) -> TokenTree {
    TokenTree::Group(Group::new(Delimiter::Brace, inner))
}

/// Returns `::core::compile_error!("msg");`, every token with the given span, so that the error
/// points at the offending token.
fn error(span: Span, msg: &str) -> TokenStream {
    code(&format!("::core::compile_error!({msg:?});"))
        .into_iter()
        .map(|mut tt| {
            tt.set_span(span);
            tt
        })
        .collect()
}

/// Parses the derive input into the struct's name and field types, or returns the compile error
/// to emit instead.
fn parse_struct(input: TokenStream, derive: Plain) -> Result<PlainStruct, TokenStream> {
    let what = derive.name();
    let mut toks = input.into_iter().peekable();
    let mut has_repr = false;
    let mut allows = TokenStream::new();
    let keyword = parse_keyword(&mut toks, what, &mut has_repr, &mut allows)?;
    let name = match toks.next() {
        Some(TokenTree::Ident(name)) => name,
        Some(tt) => return Err(error(tt.span(), "expected the name of the struct")),
        None => return Err(error(keyword.span(), "expected the name of the struct")),
    };
    let fields = parse_fields(&mut toks, &name, what, &mut allows)?;
    if !has_repr {
        return Err(error(
            name.span(),
            &format!(
                "`#[derive({what})]` needs `#[repr(C)]` or `#[repr(transparent)]` on `{name}`: \
                 the layout of a `repr(Rust)` struct is unspecified"
            ),
        ));
    }
    Ok(PlainStruct {
        name,
        fields,
        allows,
    })
}

/// Skips the outer attributes and the visibility of the item and returns its keyword, which must
/// be `struct`.
///
/// Sets `has_repr` if an attribute is `repr(C)` or `repr(transparent)` (see [`is_repr_c`]) and
/// adds the lint attributes to `allows` (see [`PlainStruct::allows`]).
fn parse_keyword(
    toks: &mut Peekable<impl Iterator<Item = TokenTree>>,
    what: &str,
    has_repr: &mut bool,
    allows: &mut TokenStream,
) -> Result<Ident, TokenStream> {
    let keyword = loop {
        match toks.next() {
            Some(TokenTree::Punct(p)) if p.as_char() == '#' => {
                if let Some(TokenTree::Group(attr)) = toks.next() {
                    *has_repr |= is_repr_c(&attr);
                    allows.extend(lint_allow(&attr));
                }
            }
            Some(TokenTree::Ident(i)) if i.to_string() == "pub" => {
                if matches!(toks.peek(), Some(TokenTree::Group(g)) if is_restriction(g)) {
                    toks.next();
                }
            }
            Some(TokenTree::Ident(i)) => break i,
            tt => {
                let span = tt.map_or_else(Span::call_site, |tt| tt.span());
                return Err(error(
                    span,
                    &format!("`#[derive({what})]` expects a struct"),
                ));
            }
        }
    };
    let msg = match keyword.to_string().as_str() {
        "struct" => return Ok(keyword),
        "enum" => format!(
            "`#[derive({what})]` does not support enums (not every bit pattern is a valid \
             discriminant, and variants may have padding); use a struct"
        ),
        "union" => format!(
            "`#[derive({what})]` does not support unions; implement `{what}` by hand, with the \
             safety argument for every field"
        ),
        _ => format!("`#[derive({what})]` expects a struct"),
    };
    Err(error(keyword.span(), &msg))
}

/// Parses what follows the name of the struct: its fields (`{...}`, `(...);` or `;`), which may
/// not be preceded by generic parameters or followed by a `where` clause.
fn parse_fields(
    toks: &mut Peekable<impl Iterator<Item = TokenTree>>,
    name: &Ident,
    what: &str,
    allows: &mut TokenStream,
) -> Result<Vec<Vec<TokenTree>>, TokenStream> {
    let generics_error = |span| {
        Err(error(
            span,
            &format!(
                "`#[derive({what})]` does not support generic structs (generic parameters or a \
                 `where` clause); implement `{what}` by hand for each instantiation"
            ),
        ))
    };
    match toks.next() {
        Some(TokenTree::Punct(p)) if p.as_char() == '<' => generics_error(p.span()),
        Some(TokenTree::Ident(i)) if i.to_string() == "where" => generics_error(i.span()),
        Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Brace => {
            named_fields(body.stream(), allows)
        }
        Some(TokenTree::Group(body)) if body.delimiter() == Delimiter::Parenthesis => {
            match toks.peek() {
                Some(TokenTree::Ident(i)) if i.to_string() == "where" => generics_error(i.span()),
                _ => Ok(tuple_fields(body.stream(), allows)),
            }
        }
        Some(TokenTree::Punct(p)) if p.as_char() == ';' => Ok(Vec::new()),
        Some(tt) => Err(error(tt.span(), "expected the fields of the struct")),
        None => Err(error(name.span(), "expected the fields of the struct")),
    }
}

/// Returns whether the attribute (the `[...]` after `#`) is a `repr(...)` with `C` or
/// `transparent` among its items.
fn is_repr_c(attr: &Group) -> bool {
    let mut toks = attr.stream().into_iter();
    match (toks.next(), toks.next()) {
        (Some(TokenTree::Ident(repr)), Some(TokenTree::Group(items)))
            if repr.to_string() == "repr" && items.delimiter() == Delimiter::Parenthesis =>
        {
            items.stream().into_iter().any(|tt| match tt {
                TokenTree::Ident(i) => matches!(i.to_string().as_str(), "C" | "transparent"),
                _ => false,
            })
        }
        _ => false,
    }
}

/// Returns whether the group after `pub` is the restriction of the visibility: `(crate)`,
/// `(self)`, `(super)` or `(in path)`.
///
/// Any other parenthesis is a type: in `struct S(pub (u8, u16));` it is the field's type.
fn is_restriction(group: &Group) -> bool {
    let inner = group.stream().into_iter().collect::<Vec<_>>();
    group.delimiter() == Delimiter::Parenthesis
        && match inner.as_slice() {
            [TokenTree::Ident(i), ..] if i.to_string() == "in" => true,
            [TokenTree::Ident(i)] => matches!(i.to_string().as_str(), "crate" | "self" | "super"),
            _ => false,
        }
}

/// Returns `#[allow(lints)]` if the attribute (the `[...]` after `#`) is `allow(lints)` or
/// `expect(lints)`.
fn lint_allow(attr: &Group) -> Option<TokenStream> {
    let mut toks = attr.stream().into_iter();
    match (toks.next(), toks.next(), toks.next()) {
        (Some(TokenTree::Ident(level)), Some(TokenTree::Group(lints)), None)
            if matches!(level.to_string().as_str(), "allow" | "expect")
                && lints.delimiter() == Delimiter::Parenthesis =>
        {
            let mut allow = code("allow");
            allow.extend([TokenTree::Group(lints)]);
            let mut out = code("#");
            out.extend([TokenTree::Group(Group::new(Delimiter::Bracket, allow))]);
            Some(out)
        }
        _ => None,
    }
}

/// Skips the outer attributes (doc comments included) and the visibility at the start of a
/// field, adding its lint attributes to `allows` (see [`PlainStruct::allows`]).
fn skip_attrs_and_vis<'a>(mut field: &'a [TokenTree], allows: &mut TokenStream) -> &'a [TokenTree] {
    loop {
        field = match field {
            [TokenTree::Punct(p), TokenTree::Group(attr), rest @ ..] if p.as_char() == '#' => {
                allows.extend(lint_allow(attr));
                rest
            }
            [TokenTree::Ident(i), TokenTree::Group(g), rest @ ..]
                if i.to_string() == "pub" && is_restriction(g) =>
            {
                rest
            }
            [TokenTree::Ident(i), rest @ ..] if i.to_string() == "pub" => rest,
            _ => return field,
        };
    }
}

/// Returns the field types of the body `{ ... }` of a struct with named fields.
fn named_fields(
    body: TokenStream,
    allows: &mut TokenStream,
) -> Result<Vec<Vec<TokenTree>>, TokenStream> {
    split_fields(body)
        .iter()
        .map(|field| match skip_attrs_and_vis(field, allows) {
            [TokenTree::Ident(_), TokenTree::Punct(colon), ty @ ..]
                if colon.as_char() == ':' && !ty.is_empty() =>
            {
                Ok(ty.to_vec())
            }
            rest => Err(error(
                rest.first().map_or_else(Span::call_site, TokenTree::span),
                "expected a field `name: Type`",
            )),
        })
        .collect()
}

/// Returns the field types of the body `(...)` of a tuple struct.
fn tuple_fields(body: TokenStream, allows: &mut TokenStream) -> Vec<Vec<TokenTree>> {
    split_fields(body)
        .iter()
        .map(|field| skip_attrs_and_vis(field, allows).to_vec())
        .collect()
}

/// Splits the body of a struct at its top-level commas, dropping the empty piece after a
/// trailing comma.
///
/// A comma within `<...>` belongs to a type (`Foo<A, B>`), so the angle brackets are counted; the
/// `>` of `->` (a `>` right after a joint `-`, as in `fn(u8) -> u8`) closes none. Commas within
/// `(...)`, `[...]` and `{...}` are inside a group already.
fn split_fields(body: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut fields = Vec::new();
    let mut field: Vec<TokenTree> = Vec::new();
    let mut depth = 0usize;
    for tt in body {
        if let TokenTree::Punct(p) = &tt {
            let after_joint_minus = matches!(
                field.last(),
                Some(TokenTree::Punct(minus))
                    if minus.as_char() == '-' && minus.spacing() == Spacing::Joint
            );
            match p.as_char() {
                ',' if depth == 0 => {
                    fields.push(core::mem::take(&mut field));
                    continue;
                }
                '<' => depth += 1,
                '>' if !after_joint_minus => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        field.push(tt);
    }
    if !field.is_empty() {
        fields.push(field);
    }
    fields
}
