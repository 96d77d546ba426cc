//! Generating the retry loop around the function body.
//!
//! The expansion keeps the signature (owned arguments aside), runs the body once per attempt
//! inside an `async` block (or a closure for a sync fn) so that its `return` and `?` end the
//! attempt rather than the call, and hands every decision to `retry_core::Retrier`. Every
//! trait bound it needs is checked through a `retry_core::__private` helper spanned at the
//! user's token that caused it, so errors point at the user's code.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Path, parse_quote};

use crate::ast::{Rebind, RetryFn};
use crate::attr::{On, Options};

/// Identifiers of the expansion's own locals: `mixed_site` hygiene keeps them out of the
/// body's sight, so a user variable named like them can neither shadow nor see them.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

pub fn expand(options: Options, func: RetryFn) -> TokenStream {
    let krate: Path = options
        .krate
        .clone()
        .unwrap_or_else(|| parse_quote!(::retry_core));
    let RetryFn {
        attrs,
        vis,
        sig,
        block,
        output,
        rebinds,
    } = &func;
    let is_async = func.is_async();

    let state = local("__retry_state");
    let last = local("__retry_last");
    let error = local("__retry_error");
    let failure = local("__retry_failure");
    let value = local("__retry_value");
    let delay = local("__retry_delay");
    let outcome = local("__retry_outcome");

    let name = {
        let ident = sig.ident.to_string();
        quote!(::core::concat!(::core::module_path!(), "::", #ident))
    };
    let policy = policy(&options, &krate);

    let holders = rebinds.iter().filter_map(|rebind| match rebind {
        Rebind::Owned { holder, source, .. } => {
            Some(quote!(let mut #holder = #krate::__private::Owned::new(#source);))
        }
        Rebind::Reborrow { .. } => None,
    });
    let per_attempt = rebinds.iter().map(|rebind| match rebind {
        Rebind::Owned {
            holder, pat, ty, ..
        } => {
            let take =
                quote_spanned!(ty.span()=> #krate::__private::for_attempt(&mut #holder, #last));
            quote!(let #pat = #take;)
        }
        Rebind::Reborrow { ident, mutable } => {
            let mutability = mutable.then(|| quote!(mut));
            quote!(let #mutability #ident = &mut *#ident;)
        }
    });

    let output_span = output.span();
    let set_span = options.on.as_ref().map_or(output_span, |on| on.span);
    let (on_error, on_timeout) = failures(&options, &krate, &error, set_span);

    let hook = match &options.on_retry {
        Some(path) => {
            let details = local("__retry_details");
            let call = quote_spanned!(path.span()=> #krate::__private::hook(&#path, #details));
            quote!(|#details: &#krate::RetryDetails| #call)
        }
        None => quote!(|_: &#krate::RetryDetails| {}),
    };

    let into_result = quote_spanned!(output_span=> #krate::__private::IsResult::into_result);
    let from_result = quote_spanned!(output_span=> #krate::__private::IsResult::from_result);
    let ok = quote!(::core::result::Result::Ok);
    let err = quote!(::core::result::Result::Err);

    let attempt = if is_async {
        quote!(#krate::__private::typed::<#output, _>(async #block))
    } else {
        quote!(#krate::__private::typed_sync::<#output, _>(|| #block)())
    };

    // The attempt's error, and the failure the retrier is told about.
    let timeout = if is_async {
        timeout_source(&options, &krate, output)
    } else {
        None
    };
    let classify_attempt = match timeout {
        Some(timeout) => quote! {
            let #outcome = #krate::__private::run_with_timeout(#timeout, #attempt).await;
            let (#error, #failure) = match #outcome {
                #krate::__private::Outcome::Done(#value) => match #into_result(#value) {
                    #ok(#value) => return #from_result(#ok(#value)),
                    #err(#error) => {
                        let #failure = #on_error;
                        (#error, #failure)
                    }
                },
                #krate::__private::Outcome::TimedOut(#error) => {
                    let #failure = #on_timeout;
                    (#error, #failure)
                }
            };
        },
        None => {
            let run = if is_async {
                quote!(#attempt.await)
            } else {
                attempt
            };
            quote! {
                let #error = match #into_result(#run) {
                    #ok(#value) => return #from_result(#ok(#value)),
                    #err(#error) => #error,
                };
                let #failure = #on_error;
            }
        }
    };

    let sleep = if is_async {
        quote!(#krate::__private::sleep(#delay).await)
    } else {
        quote!(#krate::__private::sleep_blocking(#delay))
    };

    quote! {
        #(#attrs)*
        #vis #sig {
            #(#holders)*
            let mut #state = #krate::Retrier::new(#policy);
            loop {
                let #last = #state.is_last_attempt();
                #(#per_attempt)*
                #classify_attempt
                match #state.record(#name, &#failure, #hook) {
                    #krate::Decision::Retry(#delay) => #sleep,
                    #krate::Decision::GiveUp(_) => return #from_result(#err(#error)),
                }
            }
        }
    }
}

/// The `Policy` expression: the user's `policy = EXPR`, or a `const` built from the knobs.
fn policy(options: &Options, krate: &Path) -> TokenStream {
    if let Some(expr) = &options.policy {
        return quote_spanned!(expr.span()=> { let __retry_policy: #krate::Policy = #expr; __retry_policy });
    }
    let constructor = Ident::new(
        options
            .backoff
            .as_ref()
            .map_or("exponential", |b| b.value.as_str()),
        Span::call_site(),
    );
    let nanos = |n: u64| quote!(::core::time::Duration::from_nanos(#n));
    let mut knobs = TokenStream::new();
    if let Some(attempts) = &options.attempts {
        let n = attempts.value;
        knobs.extend(quote!(.attempts(#n)));
    }
    if let Some(initial) = &options.initial {
        let d = nanos(initial.value);
        knobs.extend(quote!(.initial(#d)));
    }
    if let Some(max) = &options.max_delay {
        let d = nanos(max.value);
        knobs.extend(quote!(.max_delay(#d)));
    }
    if let Some(factor) = &options.factor {
        let f = Literal::f64_suffixed(factor.value);
        knobs.extend(quote!(.factor(#f)));
    }
    if let Some(jitter) = &options.jitter {
        let variant = Ident::new(
            match jitter.value.as_str() {
                "full" => "Full",
                "equal" => "Equal",
                _ => "None",
            },
            Span::call_site(),
        );
        knobs.extend(quote!(.jitter(#krate::Jitter::#variant)));
    }
    if let Some(deadline) = &options.deadline {
        let d = nanos(deadline.value);
        knobs.extend(quote!(.deadline(#d)));
    }
    if let Some(timeout) = &options.attempt_timeout {
        let d = nanos(timeout.value);
        knobs.extend(quote!(.attempt_timeout(#d)));
    }
    quote!({
        const __RETRY_POLICY: #krate::Policy = #krate::Policy::#constructor() #knobs;
        __RETRY_POLICY
    })
}

/// The failure of an attempt that returned `error`, and of one that timed out.
fn failures(
    options: &Options,
    krate: &Path,
    error: &Ident,
    set_span: Span,
) -> (TokenStream, TokenStream) {
    let probe = |retry: TokenStream| {
        quote!({
            #[allow(unused_imports)]
            use #krate::__private::{ViaClassify as _, ViaNothing as _};
            (&&#krate::__private::Probe(&#error)).failure(#retry)
        })
    };
    match options.on.as_ref().map(|on| &on.value) {
        Some(On::Predicate(path)) => {
            let verdict =
                quote_spanned!(path.span()=> #krate::__private::predicate(&#path, &#error));
            (
                probe(verdict.clone()),
                quote!(#krate::__private::timed_out_if(#verdict)),
            )
        }
        Some(On::Classes(classes)) if classes.iter().any(|c| c.value == "any") => (
            probe(quote!(true)),
            quote!(#krate::__private::timed_out_if(true)),
        ),
        classes => {
            let set = match classes {
                Some(On::Classes(classes)) => {
                    let mut names = classes.iter().map(|c| class_const(&c.value));
                    let first = names
                        .next()
                        .unwrap_or_else(|| Ident::new("TRANSIENT", Span::call_site()));
                    let rest = names.map(|n| quote!(.with(#krate::RetryOn::#n)));
                    quote!(#krate::RetryOn::#first #(#rest)*)
                }
                _ => quote!(#krate::RetryOn::TRANSIENT),
            };
            let classify = quote_spanned!(set_span=> #krate::__private::classify(&#error, #set));
            (classify, quote!(#krate::__private::timed_out(#set)))
        }
    }
}

fn class_const(name: &str) -> Ident {
    let constant = match name {
        "rate_limit" => "RATE_LIMIT",
        "overloaded" => "OVERLOADED",
        "server_error" => "SERVER_ERROR",
        "timeout" => "TIMEOUT",
        "connect" => "CONNECT",
        _ => "TRANSIENT",
    };
    Ident::new(constant, Span::call_site())
}

/// The `Option<(Duration, fn(Elapsed) -> E)>` that bounds each attempt, or `None` when the
/// expansion needs no timeout at all (the common case: a plain `.await`). Async fns only:
/// a sync attempt cannot be abandoned (`valid.rs` rejects the knob there).
fn timeout_source(options: &Options, krate: &Path, output: &syn::Type) -> Option<TokenStream> {
    let state = local("__retry_state");
    if let Some(timeout) = &options.attempt_timeout {
        let convert = quote_spanned!(timeout.span=> #krate::__private::from_elapsed);
        return Some(quote!(#state.attempt_timeout().map(|t| (t, #convert as fn(_) -> _))));
    }
    options.policy.as_ref()?;
    // A run-time policy may or may not carry a timeout: apply it when the error type can
    // stand for a timed-out attempt.
    Some(quote!({
        #[allow(unused_imports)]
        use #krate::__private::{ElapsedVia as _, ElapsedNone as _};
        (&&#krate::__private::ElapsedProbe::<<#output as #krate::__private::IsResult>::Err>::NEW)
            .converter()
            .and_then(|convert| #state.attempt_timeout().map(|t| (t, convert)))
    }))
}

impl ToTokens for crate::attr::Spanned<String> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        Literal::string(&self.value).to_tokens(tokens);
    }
}
