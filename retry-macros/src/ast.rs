//! The function under `#[retry]`: what it is, and how each argument reaches every attempt.

use proc_macro2::{Span, TokenStream};
use quote::format_ident;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    Attribute, Block, FnArg, Ident, Item, Pat, PatIdent, ReturnType, Signature, Type,
    TypeReference, Visibility,
};

/// A function `#[retry]` can wrap.
pub struct RetryFn {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    /// The signature as emitted: owned arguments renamed or stripped of `mut` where needed.
    pub sig: Signature,
    pub block: Box<Block>,
    /// The declared return type (the attribute requires one).
    pub output: Type,
    /// What each attempt re-binds before running the body.
    pub rebinds: Vec<Rebind>,
}

/// How one argument is made available to each attempt.
pub enum Rebind {
    /// An owned value: each attempt gets a clone, the last the original.
    Owned {
        holder: Ident,
        source: Ident,
        pat: Box<Pat>,
        ty: Box<Type>,
    },
    /// A `&mut T` argument: each attempt gets a fresh reborrow, so the body may move it.
    Reborrow { ident: Ident, mutable: bool },
}

impl RetryFn {
    /// Reads the item the attribute is on; rejects what can never be retried.
    pub fn parse(item: TokenStream) -> syn::Result<RetryFn> {
        // A method declared in a trait without a body (`fn f(&self) -> R;`) is not an `Item`.
        if let Ok(decl) = syn::parse2::<syn::TraitItemFn>(item.clone())
            && decl.default.is_none()
        {
            return Err(syn::Error::new(
                decl.semi_token
                    .map_or_else(|| decl.sig.ident.span(), |semi| semi.span),
                format!(
                    "`#[retry]` needs the body of `{}` to retry it; put the attribute on the method in each `impl` of the trait, or give this declaration a default body",
                    decl.sig.ident
                ),
            ));
        }
        if let Ok(expr) = syn::parse2::<syn::Expr>(item.clone()) {
            let what = match expr {
                syn::Expr::Closure(_) => {
                    "a closure; for a closure, call `retry_core::retry_fn(policy, on, || async { ... })`"
                }
                _ => "an expression; put it on the `fn` that does the fallible work",
            };
            return Err(syn::Error::new(
                expr_span(&item),
                format!("`#[retry]` goes on a function, not on {what}"),
            ));
        }
        let item: Item = syn::parse2(item).map_err(|_| {
            syn::Error::new(
                Span::call_site(),
                "`#[retry]` goes on a function with a body",
            )
        })?;
        let func = match item {
            Item::Fn(func) => func,
            other => {
                return Err(syn::Error::new(
                    item_span(&other),
                    format!("`#[retry]` goes on a function, not on {}", describe(&other)),
                ));
            }
        };
        let mut sig = func.sig;
        check_signature(&sig)?;
        let output = match &sig.output {
            ReturnType::Type(_, ty) => (**ty).clone(),
            // Pointed at the parentheses, where `-> Result<...>` goes.
            ReturnType::Default => {
                return Err(syn::Error::new(
                    sig.paren_token.span.close(),
                    format!(
                        "`#[retry]` needs a function that returns a `Result`, but `{}` returns nothing; only an `Err` can be retried: add `-> Result<(), YourError>`",
                        sig.ident
                    ),
                ));
            }
        };
        check_output(&output, sig.asyncness.is_some())?;
        if certainly_not_result(&output) {
            return Err(syn::Error::new_spanned(
                &output,
                format!(
                    "`#[retry]` needs a function that returns a `Result`, but `{}` returns `{ty}`; only an `Err` can be retried: return `Result<{ty}, YourError>`",
                    sig.ident,
                    ty = type_text(&output),
                ),
            ));
        }
        let rebinds = plan_arguments(&mut sig)?;
        Ok(RetryFn {
            attrs: func.attrs,
            vis: func.vis,
            sig,
            block: func.block,
            output,
            rebinds,
        })
    }

    pub fn is_async(&self) -> bool {
        self.sig.asyncness.is_some()
    }
}

/// The first token of an expression (a closure's `|`, or its `move`/`async`).
fn expr_span(tokens: &TokenStream) -> Span {
    tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span())
}

fn item_span(item: &Item) -> Span {
    match item {
        Item::Struct(s) => s.struct_token.span,
        Item::Enum(e) => e.enum_token.span,
        Item::Const(c) => c.const_token.span,
        Item::Static(s) => s.static_token.span,
        Item::Impl(i) => i.impl_token.span,
        Item::Trait(t) => t.trait_token.span,
        Item::Mod(m) => m.mod_token.span,
        Item::Type(t) => t.type_token.span,
        other => other.span(),
    }
}

/// What the item is, and where the attribute should go instead.
fn describe(item: &Item) -> &'static str {
    match item {
        Item::Struct(_) => "a struct; put it on the `fn` that does the fallible work",
        Item::Enum(_) => "an enum; put it on the `fn` that does the fallible work",
        Item::Union(_) => "a union; put it on the `fn` that does the fallible work",
        Item::Const(_) => "a const; put it on the `fn` that does the fallible work",
        Item::Static(_) => "a static; put it on the `fn` that does the fallible work",
        Item::Impl(_) => "an impl block; put it on each method inside that should be retried",
        Item::Trait(_) => {
            "a trait; put it on the methods of the trait's `impl` blocks that should be retried"
        }
        Item::Mod(_) => "a module; put it on the `fn` that does the fallible work",
        Item::Type(_) => "a type alias; put it on the `fn` that does the fallible work",
        Item::Use(_) => "a use declaration; put it on the `fn` that does the fallible work",
        Item::ExternCrate(_) => "an extern crate; put it on the `fn` that does the fallible work",
        Item::ForeignMod(_) => {
            "an extern block: a foreign function has no body to retry; wrap the call in a Rust `fn` and put it there"
        }
        Item::Macro(_) => "a macro invocation; put it on the `fn` that does the fallible work",
        Item::TraitAlias(_) => "a trait alias; put it on the `fn` that does the fallible work",
        _ => "this item; put it on the `fn` that does the fallible work",
    }
}

fn check_signature(sig: &Signature) -> syn::Result<()> {
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "`#[retry]` cannot go on a `const fn`: retrying sleeps between attempts, which a const fn cannot; remove `const`",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new(
            abi.span(),
            "`#[retry]` cannot go on an `extern` fn: wrap the retried work in a plain Rust fn and call it from the `extern` one",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new(
            variadic.span(),
            "`#[retry]` cannot go on a variadic function",
        ));
    }
    Ok(())
}

/// The return type must be nameable (it is written out in the expansion) and, for a sync fn,
/// not a hand-written future.
fn check_output(output: &Type, is_async: bool) -> syn::Result<()> {
    if !is_async && let Type::ImplTrait(imp) = output {
        return Err(syn::Error::new(
            imp.impl_token.span,
            "`#[retry]` cannot retry a function that returns `impl Trait`; if it returns a future, write it as an `async fn` returning a `Result`",
        ));
    }
    struct FindImpl(Option<Span>);
    impl Visit<'_> for FindImpl {
        fn visit_type_impl_trait(&mut self, imp: &syn::TypeImplTrait) {
            self.0.get_or_insert(imp.impl_token.span);
        }
    }
    let mut find = FindImpl(None);
    find.visit_type(output);
    match find.0 {
        Some(span) => Err(syn::Error::new(
            span,
            "`#[retry]` cannot retry a function whose `Result` contains `impl Trait`: name the type, or box it",
        )),
        None => Ok(()),
    }
}

/// Return types that are not a `Result` whatever the aliases in scope: rejected here with one
/// clear error. Any other type (a path that may be an alias) is checked by the compiler
/// through `retry_core::__private::IsResult`, whose message says the same.
fn certainly_not_result(ty: &Type) -> bool {
    const NOT_RESULTS: &[&str] = &[
        "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32",
        "i64", "i128", "isize", "f32", "f64", "String", "Option", "Vec", "Box",
    ];
    match ty {
        Type::Tuple(_)
        | Type::Reference(_)
        | Type::Array(_)
        | Type::Slice(_)
        | Type::Never(_)
        | Type::Ptr(_)
        | Type::BareFn(_)
        | Type::TraitObject(_) => true,
        Type::Paren(inner) => certainly_not_result(&inner.elem),
        Type::Path(path) if path.qself.is_none() => {
            let segments = &path.path.segments;
            let from_std = match segments.first() {
                Some(first) if segments.len() > 1 => {
                    first.ident == "std" || first.ident == "core" || first.ident == "alloc"
                }
                _ => path.path.leading_colon.is_none(),
            };
            from_std
                && segments
                    .last()
                    .is_some_and(|last| NOT_RESULTS.iter().any(|name| last.ident == name))
        }
        _ => false,
    }
}

/// A type as a user would write it (`Option<u32>`, not `Option < u32 >`).
fn type_text(ty: &Type) -> String {
    let mut text = quote::ToTokens::to_token_stream(ty).to_string();
    for (spaced, tight) in [
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ::", "::"),
        (":: ", "::"),
        (" ,", ","),
        ("& ", "&"),
        ("( ", "("),
        (" )", ")"),
    ] {
        text = text.replace(spaced, tight);
    }
    text
}

/// Decides, argument by argument, how each attempt gets it, rewriting the signature where an
/// owned argument must be held under another name.
fn plan_arguments(sig: &mut Signature) -> syn::Result<Vec<Rebind>> {
    let mut rebinds = Vec::new();
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                let by_reference =
                    receiver.reference.is_some() || matches!(&*receiver.ty, Type::Reference(_));
                if !by_reference {
                    return Err(syn::Error::new(
                        receiver.self_token.span,
                        "`#[retry]` cannot retry a method that takes `self` by value: the first attempt would consume it; take `&self` or `&mut self`",
                    ));
                }
            }
            FnArg::Typed(typed) => match &*typed.ty {
                // Shared references are `Copy`: every attempt uses the argument as it is.
                Type::Reference(TypeReference {
                    mutability: None, ..
                }) => {}
                Type::Reference(TypeReference {
                    mutability: Some(_),
                    ..
                }) => {
                    let Pat::Ident(PatIdent {
                        ident,
                        mutability,
                        by_ref: None,
                        subpat: None,
                        ..
                    }) = &mut *typed.pat
                    else {
                        return Err(syn::Error::new(
                            typed.pat.span(),
                            "`#[retry]` cannot re-bind this pattern for each attempt: a `&mut` argument must be a plain name, such as `buf: &mut Vec<u8>`; destructure it inside the body",
                        ));
                    };
                    rebinds.push(Rebind::Reborrow {
                        ident: ident.clone(),
                        mutable: mutability.is_some(),
                    });
                    // The outer binding is only reborrowed; `mut` moves to the inner one.
                    *mutability = None;
                }
                ty => {
                    if matches!(&*typed.pat, Pat::Wild(_)) {
                        continue;
                    }
                    let ty = ty.clone();
                    let holder =
                        format_ident!("__retry_owned_{}", index, span = Span::mixed_site());
                    let (source, pat) = match &mut *typed.pat {
                        // A plain name keeps its name in the signature (and in rustdoc).
                        Pat::Ident(PatIdent {
                            by_ref,
                            mutability,
                            subpat: None,
                            ident,
                            ..
                        }) => {
                            let pat = Pat::Ident(PatIdent {
                                attrs: Vec::new(),
                                by_ref: *by_ref,
                                mutability: *mutability,
                                ident: ident.clone(),
                                subpat: None,
                            });
                            *by_ref = None;
                            *mutability = None;
                            (ident.clone(), pat)
                        }
                        other => {
                            let pat = other.clone();
                            let source = format_ident!("__retry_arg_{}", index);
                            *other = Pat::Ident(PatIdent {
                                attrs: Vec::new(),
                                by_ref: None,
                                mutability: None,
                                ident: source.clone(),
                                subpat: None,
                            });
                            (source, pat)
                        }
                    };
                    rebinds.push(Rebind::Owned {
                        holder,
                        source,
                        pat: Box::new(pat),
                        ty: Box::new(ty),
                    });
                }
            },
        }
    }
    Ok(rebinds)
}
