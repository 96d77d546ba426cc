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
        let item: Item = syn::parse2(item.clone()).map_err(|_| {
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
                    format!(
                        "`#[retry]` goes on a function, not on {}; put it on the `fn` that does the fallible work",
                        describe(&other)
                    ),
                ));
            }
        };
        let mut sig = func.sig;
        check_signature(&sig)?;
        let output = match &sig.output {
            ReturnType::Type(_, ty) => (**ty).clone(),
            ReturnType::Default => {
                return Err(syn::Error::new(
                    sig.ident.span(),
                    format!(
                        "`#[retry]` needs a function that returns a `Result`, but `{}` returns `()`; only an `Err` can be retried",
                        sig.ident
                    ),
                ));
            }
        };
        check_output(&output, sig.asyncness.is_some())?;
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

fn describe(item: &Item) -> &'static str {
    match item {
        Item::Struct(_) => "a struct",
        Item::Enum(_) => "an enum",
        Item::Union(_) => "a union",
        Item::Const(_) => "a const",
        Item::Static(_) => "a static",
        Item::Impl(_) => "an impl block (put it on a method inside)",
        Item::Trait(_) => "a trait (put it on a method of an impl)",
        Item::Mod(_) => "a module",
        Item::Type(_) => "a type alias",
        Item::Use(_) => "a use declaration",
        Item::ExternCrate(_) => "an extern crate",
        Item::ForeignMod(_) => "an extern block",
        Item::Macro(_) => "a macro invocation",
        Item::TraitAlias(_) => "a trait alias",
        _ => "this item",
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
