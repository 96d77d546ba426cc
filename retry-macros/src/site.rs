//! Where the expansion's errors are reported: each bound the generated code needs is placed
//! at the user's tokens that caused it, never at the attribute as a whole.

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::Ident;

/// Where a generated expression is reported: the first and last tokens of the user's code
/// that caused it (rustc underlines from one to the other).
#[derive(Clone, Copy)]
pub struct Site {
    first: Span,
    last: Span,
}

impl Site {
    pub fn of(tokens: &impl ToTokens) -> Site {
        let mut tokens = tokens.to_token_stream().into_iter();
        let first = tokens.next().map_or_else(Span::call_site, |t| t.span());
        let last = tokens.last().map_or(first, |t| t.span());
        Site { first, last }
    }

    pub fn at(span: Span) -> Site {
        Site {
            first: span,
            last: span,
        }
    }

    /// `tokens` (a path or a type, never a local variable) at this site. Each token takes the
    /// user's span whole, hygiene included: rustc reports an error in tokens that keep the
    /// macro's own hygiene at the whole attribute (they come from an external macro), and a
    /// path has nothing to hide from the user's code.
    pub fn place(self, tokens: TokenStream) -> TokenStream {
        let count = tokens.clone().into_iter().count();
        let place = |(i, token)| {
            let to = if i + 1 == count {
                self.last
            } else {
                self.first
            };
            respan(token, to)
        };
        tokens.into_iter().enumerate().map(place).collect()
    }

    /// `<qself as path>::func(args)` at this site. When the type does not implement the trait,
    /// rustc points at `qself`: pass the user's own tokens for it (rustc then underlines all
    /// of them), or tokens placed at this site. `args` keep their spans (they hold the
    /// expansion's locals).
    pub fn qualified_call(
        self,
        qself: TokenStream,
        path: TokenStream,
        func: &str,
        args: TokenStream,
    ) -> TokenStream {
        let func = Ident::new(func, Span::call_site());
        let open = self.place(quote!(<));
        let rest = Site::at(self.first).place(quote!(as #path>::#func));
        let mut parens = Group::new(Delimiter::Parenthesis, args);
        parens.set_span(self.last);
        quote!(#open #qself #rest #parens)
    }

    /// `path(args)` with the callee at this site and `args` as given: rustc blames an
    /// argument whose type fails a bound, so an argument made of the user's tokens is
    /// underlined whole.
    pub fn call(self, path: TokenStream, args: TokenStream) -> TokenStream {
        let callee = self.place(path);
        let mut parens = Group::new(Delimiter::Parenthesis, args);
        parens.set_span(self.last);
        quote!(#callee #parens)
    }
}

fn respan(token: TokenTree, to: Span) -> TokenTree {
    match token {
        TokenTree::Group(group) => {
            let inner = group.stream().into_iter().map(|t| respan(t, to)).collect();
            let mut moved = Group::new(group.delimiter(), inner);
            moved.set_span(to);
            TokenTree::Group(moved)
        }
        mut other => {
            other.set_span(to);
            other
        }
    }
}

/// The generated code's one name for `retry_core` (or the `crate = path` the user gave): a
/// `use` at the top of the body resolves that path once, so a wrong `crate = path` is
/// reported once at the user's path, and every other use can be placed at any [`Site`].
pub fn krate() -> Ident {
    Ident::new("__retry_core", Span::call_site())
}

/// The type `E` of the function's `Result<T, E>`, as a `qself` for [`Site::qualified_call`]
/// and the site to report it at: the user's `E` when the return type is spelt
/// `Result<T, E>`, or else (an alias such as `io::Result<T>`) `<R as IsResult>::Err` placed
/// over the whole return type.
pub fn error_type(output: &syn::Type, krate: &Ident) -> (TokenStream, Site) {
    if let syn::Type::Path(path) = output
        && path.qself.is_none()
        && let Some(last) = path.path.segments.last()
        && last.ident == "Result"
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && args.args.len() == 2
        && let Some(syn::GenericArgument::Type(error)) = args.args.last()
    {
        return (error.to_token_stream(), Site::of(error));
    }
    (err_of(output, krate), Site::of(output))
}

/// `<R as IsResult>::Err`, the error type of the return type `R`. Only the tokens around `R`
/// are placed at it, so that a return type that is not a `Result` is reported at `R` exactly
/// as the expansion's other uses of it are, and rustc shows the error once.
pub fn err_of(output: &syn::Type, krate: &Ident) -> TokenStream {
    let site = Site::of(output);
    let open = site.place(quote!(<));
    let rest = site.place(quote!(as #krate::__private::IsResult>::Err));
    quote!(#open #output #rest)
}

/// The type itself when it can be named in an expression, or `_` at its site when it holds
/// an `impl Trait` (an argument `x: impl Clone`).
pub fn nameable(ty: &syn::Type) -> TokenStream {
    fn has_impl(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Ident(ident) => ident == "impl",
            TokenTree::Group(group) => has_impl(group.stream()),
            _ => false,
        })
    }
    let tokens = ty.to_token_stream();
    if has_impl(tokens.clone()) {
        Site::of(ty).place(quote!(_))
    } else {
        tokens
    }
}
