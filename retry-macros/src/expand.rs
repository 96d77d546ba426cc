//! Generating the retry loop around the function body.
//!
//! The expansion keeps the signature (owned arguments aside), runs the body once per attempt
//! inside an `async` block (or a closure for a sync fn) so that its `return` and `?` end the
//! attempt rather than the call, and hands every decision to `retry_core::Retrier`. Every
//! trait bound it needs is checked through a `retry_core::__private` trait whose function is
//! called at a [`Site`], the user's tokens that caused the bound, so errors point there.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{Ident, Path, parse_quote};

use crate::ast::{Rebind, RetryFn};
use crate::attr::{On, Options};
use crate::returns;
use crate::site::{self, Site};

/// Identifiers of the expansion's own locals: `mixed_site` hygiene keeps them out of the
/// body's sight, so a user variable named like them can neither shadow nor see them.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

pub fn expand(options: Options, func: RetryFn) -> TokenStream {
    let user_krate: Path = options
        .krate
        .clone()
        .unwrap_or_else(|| parse_quote!(::retry_core));
    let krate = site::krate();
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
    let limit = local("__retry_limit");

    let name = {
        let ident = sig.ident.to_string();
        quote!(::core::concat!(::core::module_path!(), "::", #ident))
    };
    // The retrier borrows its policy (a smaller future): a `const` policy is promoted to a
    // `&'static`, a run-time one lives in a local of the call.
    let (policy_local, policy) = policy(&options, &krate);

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
            // A missing `Clone` is reported at the argument's type.
            let take = Site::of(ty).qualified_call(
                site::nameable(ty),
                quote!(#krate::__private::RetryClone),
                "for_attempt",
                quote!(&mut #holder, #last),
            );
            quote!(let #pat = #take;)
        }
        Rebind::Reborrow { ident, mutable } => {
            let mutability = mutable.then(|| quote!(mut));
            quote!(let #mutability #ident = &mut *#ident;)
        }
    });

    let (on_error, on_timeout) = failures(&options, &krate, &error, output);

    let hook = match &options.on_retry {
        Some(path) => {
            let details = local("__retry_details");
            let site = Site::of(path);
            let reference = site.place(quote!(&));
            let call = site.call(
                quote!(#krate::__private::RetryHook::on_retry),
                quote!(#reference #path, #details),
            );
            quote!(|#details: &#krate::RetryDetails| #call)
        }
        None => quote!(|_: &#krate::RetryDetails| {}),
    };

    // A return type that is not a `Result` is reported at the return type.
    let output_site = Site::of(output);
    let is_result = |func: &str, arg: TokenStream| {
        let trait_path = quote!(#krate::__private::IsResult);
        output_site.qualified_call(quote!(#output), trait_path, func, arg)
    };
    let into_result = |arg: TokenStream| is_result("into_result", arg);
    let from_result = |arg: TokenStream| is_result("from_result", arg);
    let ok = quote!(::core::result::Result::Ok);
    let err = quote!(::core::result::Result::Err);

    let attempt = if is_async {
        let body = returns::typed_body(block, output, &local("__retry_return"));
        quote!(#krate::__private::typed::<#output, _>(async #body))
    } else {
        quote!(#krate::__private::typed_sync::<#output, _>(|| #block)())
    };

    // The attempt's error, and the failure the retrier is told about.
    let timeout = if is_async {
        timeout_source(&options, &krate, output)
    } else {
        None
    };
    let into_value = into_result(quote!(#value));
    let from_ok = from_result(quote!(#ok(#value)));
    let from_err = from_result(quote!(#err(#error)));
    let classify_attempt = match timeout {
        Some(timeout) => quote! {
            let #limit = #timeout;
            let #outcome =
                #krate::__private::run_with_timeout(&mut #state, #limit, #attempt).await;
            let (#error, #failure) = match #outcome {
                #krate::__private::Outcome::Done(#value) => match #into_value {
                    #ok(#value) => return #from_ok,
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
            // The deadline's clock starts when an async attempt first waits, or before a sync
            // one (a call that succeeds at once never reads the clock).
            let run = if is_async {
                quote!(#state.clocked(#attempt).await)
            } else {
                quote!({ #state.start(); #attempt })
            };
            let into_run = into_result(run);
            quote! {
                let #error = match #into_run {
                    #ok(#value) => return #from_ok,
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

    // `crate = path` is resolved once, and reported at the user's path if it is wrong.
    let krate_use = match &options.krate {
        Some(path) => Site::of(path).place(quote!(as #krate)),
        None => quote!(as #krate),
    };

    quote! {
        #(#attrs)*
        #vis #sig {
            use #user_krate #krate_use;
            #(#holders)*
            #policy_local
            let mut #state = #krate::Retrier::new(#policy);
            loop {
                let #last = #state.is_last_attempt();
                #(#per_attempt)*
                #classify_attempt
                match #state.record(#name, &#failure, #hook) {
                    #krate::Decision::Retry(#delay) => {
                        // Not kept across the sleep: a large error would grow the future.
                        #krate::__private::discard(#error);
                        #sleep
                    }
                    #krate::Decision::GiveUp(_) => return #from_err,
                }
            }
        }
    }
}

/// The `&Policy` the retrier borrows, and the statement that holds it when it is the user's
/// `policy = EXPR`; for the knobs, a `const` that the reference promotes to `'static`.
fn policy(options: &Options, krate: &Ident) -> (TokenStream, TokenStream) {
    // `.budget(&PATH)` through a typed `const`: a path that is not a `static RetryBudget` is
    // reported at the path, "expected `&RetryBudget`", with no note into retry-core.
    let budget = options.budget.as_ref().map(|path| {
        let site = Site::of(path);
        let ty = site.place(quote!(&'static #krate::RetryBudget));
        let reference = site.place(quote!(&));
        quote!(.budget({
            const __RETRY_BUDGET: #ty = #reference #path;
            __RETRY_BUDGET
        }))
    });
    if let Some(expr) = &options.policy {
        // A value of another type is reported at the expression, "expected `Policy`".
        let ty = Site::of(expr).place(quote!(#krate::Policy));
        let policy = local("__retry_policy");
        let with_budget = budget.map(|budget| quote!(let #policy = #policy #budget;));
        return (
            quote!(let #policy: #ty = #expr; #with_budget),
            quote!(&#policy),
        );
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
    for (method, value) in [
        ("initial", &options.initial),
        ("max_delay", &options.max_delay),
        ("deadline", &options.deadline),
        ("attempt_timeout", &options.attempt_timeout),
    ] {
        if let Some(d) = value {
            let method = Ident::new(method, Span::call_site());
            let d = nanos(d.value);
            knobs.extend(quote!(.#method(#d)));
        }
    }
    knobs.extend(budget);
    (
        TokenStream::new(),
        quote!({
            const __RETRY_POLICY: #krate::Policy = #krate::Policy::#constructor() #knobs;
            &__RETRY_POLICY
        }),
    )
}

/// The failure of an attempt that returned `error`, and of one that timed out.
fn failures(
    options: &Options,
    krate: &Ident,
    error: &Ident,
    output: &syn::Type,
) -> (TokenStream, TokenStream) {
    // The verdict is bound before the probe picks its method, so that the error type is as
    // known as it will be: when the return type is not a `Result` (already reported), a
    // predicate then still decides it, and the probe does not report it again.
    let probe = |retry: TokenStream| {
        let verdict = local("__retry_verdict");
        quote!({
            #[allow(unused_imports)]
            use #krate::__private::{ViaClassify as _, ViaNothing as _};
            let #verdict: bool = #retry;
            (&&#krate::__private::Probe(&#error)).failure(#verdict)
        })
    };
    match options.on.as_ref().map(|on| &on.value) {
        Some(On::Predicate(path)) => {
            let site = Site::of(path);
            let reference = site.place(quote!(&));
            let verdict = site.call(
                quote!(#krate::__private::RetryPredicate::should_retry),
                quote!(&#error, #reference #path),
            );
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
            // An error type without `Classify` is reported at the error type.
            let (err_ty, site) = site::error_type(output, krate);
            let classify = quote!(#krate::Classify);
            let class =
                site.qualified_call(err_ty.clone(), classify.clone(), "class", quote!(&#error));
            let hint = site.qualified_call(err_ty, classify, "retry_after", quote!(&#error));
            // Whether a limiter holds the call, and how long it waited there, come from the
            // probe: no second report for an error type without `Classify`.
            let limiter = local("__retry_limiter");
            (
                quote!({
                    #[allow(unused_imports)]
                    use #krate::__private::{ViaClassify as _, ViaNothing as _};
                    let #limiter = (&&#krate::__private::Probe(&#error)).limiter();
                    #krate::__private::classified(#class, #hint, #limiter, #set)
                }),
                quote!(#krate::__private::timed_out(#set)),
            )
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
fn timeout_source(options: &Options, krate: &Ident, output: &syn::Type) -> Option<TokenStream> {
    let state = local("__retry_state");
    let limit = local("__retry_limit");
    let convert = local("__retry_convert");
    if let Some(timeout) = &options.attempt_timeout {
        // An error type without `From<Elapsed>` is reported at the `attempt_timeout` value.
        let from_elapsed =
            Site::at(timeout.span).place(quote!(#krate::__private::FromElapsed::from_elapsed));
        return Some(
            quote!(#state.attempt_timeout().map(|#limit| (#limit, #from_elapsed as fn(_) -> _))),
        );
    }
    options.policy.as_ref()?;
    // A run-time policy may or may not carry a timeout: apply it when the error type can
    // stand for a timed-out attempt.
    let output_site = Site::of(output);
    let err_ty = site::err_of(output, krate);
    let probe_type = output_site.place(quote!(#krate::__private::ElapsedProbe::<));
    let probe_new = output_site.place(quote!(>::NEW));
    Some(quote!({
        #[allow(unused_imports)]
        use #krate::__private::{ElapsedVia as _, ElapsedNone as _};
        (&&#probe_type #err_ty #probe_new)
            .converter()
            .and_then(|#convert| #state.attempt_timeout().map(|#limit| (#limit, #convert)))
    }))
}

impl ToTokens for crate::attr::Spanned<String> {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        Literal::string(&self.value).to_tokens(tokens);
    }
}
