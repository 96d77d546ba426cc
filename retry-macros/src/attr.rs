//! Parsing `#[retry(...)]`'s arguments into [`Options`]: syntax only, each value kept with its
//! span so that `valid.rs` can point at the exact token it rejects.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, Ident, LitFloat, LitInt, LitStr, Path, Token, bracketed};

use crate::duration::parse_duration;
use crate::suggest::{OPTIONS, did_you_mean, did_you_mean_option, example, list, quoted_list};

pub const BACKOFFS: &[&str] = &[
    "exponential",
    "constant",
    "linear",
    "fibonacci",
    "decorrelated",
];
pub const JITTERS: &[&str] = &["full", "equal", "none"];
pub const CLASSES: &[&str] = &[
    "rate_limit",
    "overloaded",
    "server_error",
    "timeout",
    "connect",
    "transient",
    "any",
];

/// A value and the span of the tokens it came from.
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// A duration option: nanoseconds, checked to fit a `Duration` built from a `u64`.
pub type Nanos = Spanned<u64>;

/// What `on = ...` names.
pub enum On {
    /// Class names (`"rate_limit"`, or a list); `"transient"` and `"any"` included.
    Classes(Vec<Spanned<String>>),
    /// A path to `fn(&E) -> bool`.
    Predicate(Path),
}

/// The parsed arguments. `None` is "not given".
#[derive(Default)]
pub struct Options {
    /// The `key` token of every option given, for "cannot be combined" errors.
    pub keys: Vec<Ident>,
    pub backoff: Option<Spanned<String>>,
    pub on: Option<Spanned<On>>,
    pub attempts: Option<Spanned<u32>>,
    pub initial: Option<Nanos>,
    pub max_delay: Option<Nanos>,
    pub factor: Option<Spanned<f64>>,
    pub jitter: Option<Spanned<String>>,
    pub deadline: Option<Nanos>,
    pub attempt_timeout: Option<Nanos>,
    pub on_retry: Option<Path>,
    pub budget: Option<Path>,
    pub policy: Option<Expr>,
    pub krate: Option<Path>,
}

impl Options {
    pub fn parse(args: TokenStream) -> syn::Result<Options> {
        let mut options = Options::default();
        let parser = |input: ParseStream| {
            while !input.is_empty() {
                options.parse_one(input)?;
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(())
        };
        parser.parse2(args)?;
        Ok(options)
    }

    fn parse_one(&mut self, input: ParseStream) -> syn::Result<()> {
        // `parse_any` so that the keyword `crate` is accepted as a key.
        let key = Ident::parse_any(input).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected an option of `#[retry]`, such as `attempts = 3`",
            )
        })?;
        let name = key.to_string();
        if !OPTIONS.contains(&name.as_str()) {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "unknown `#[retry]` option `{name}`{}",
                    did_you_mean_option(&name)
                        .unwrap_or_else(|| format!("; expected one of {}", list(OPTIONS))),
                ),
            ));
        }
        // One error, at the repeated key: a second error at the first key would read as a
        // second problem.
        if self.keys.contains(&key) {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "`#[retry]` option `{name}` is given twice; keep one `{name} = ...` and remove the other"
                ),
            ));
        }
        input.parse::<Token![=]>().map_err(|e| {
            // At the end of the arguments syn's span is the whole attribute: point at the key.
            let span = if input.is_empty() {
                key.span()
            } else {
                e.span()
            };
            syn::Error::new(
                span,
                format!("`{name}` needs a value: write `{}`", example(&name)),
            )
        })?;
        match name.as_str() {
            "backoff" => self.backoff = Some(choice(input, &name, BACKOFFS)?),
            "jitter" => self.jitter = Some(choice(input, &name, JITTERS)?),
            "on" => self.on = Some(parse_on(input)?),
            "attempts" => self.attempts = Some(parse_attempts(input)?),
            "initial" => self.initial = Some(duration(input, &name)?),
            "max_delay" => self.max_delay = Some(duration(input, &name)?),
            "deadline" => self.deadline = Some(duration(input, &name)?),
            "attempt_timeout" => self.attempt_timeout = Some(duration(input, &name)?),
            "factor" => self.factor = Some(parse_factor(input)?),
            "on_retry" => {
                self.on_retry = Some(path(
                    input,
                    "on_retry",
                    "a `fn(&retry_core::RetryDetails)`",
                )?)
            }
            "budget" => {
                self.budget = Some(path(
                    input,
                    "budget",
                    "a `static` `retry_core::RetryBudget`",
                )?)
            }
            "policy" => self.policy = Some(input.parse()?),
            "crate" => {
                self.krate = Some(path(
                    input,
                    "crate",
                    "`retry_core` under its other name, without quotes",
                )?)
            }
            _ => unreachable!("every name in OPTIONS has an arm"),
        }
        self.keys.push(key);
        Ok(())
    }
}

fn string(input: ParseStream, name: &str, what: &str) -> syn::Result<LitStr> {
    input
        .parse::<LitStr>()
        .map_err(|e| syn::Error::new(e.span(), format!("`{name}` takes a string: {what}")))
}

/// A string that must be one of `choices`.
fn choice(input: ParseStream, name: &str, choices: &[&str]) -> syn::Result<Spanned<String>> {
    // The likeliest slip, a value without its quotes: say exactly what to write.
    if let Ok(ident) = input.fork().parse::<Ident>()
        && choices.contains(&ident.to_string().as_str())
    {
        return Err(syn::Error::new(
            ident.span(),
            format!("`{name}` takes its value in quotes: write `{name} = \"{ident}\"`"),
        ));
    }
    let what = quoted_list(choices);
    let lit = string(input, name, &what)?;
    one_of(&lit, choices, |value| format!("unknown {name} \"{value}\""))
}

fn class(lit: &LitStr) -> syn::Result<Spanned<String>> {
    one_of(lit, CLASSES, |value| {
        format!("unknown class \"{value}\" for `on`")
    })
}

/// `lit`'s value if it is one of `choices`; else an error that says `unknown(value)` and
/// suggests the nearest choice, or lists them all.
fn one_of(
    lit: &LitStr,
    choices: &[&str],
    unknown: impl Fn(&str) -> String,
) -> syn::Result<Spanned<String>> {
    let value = lit.value();
    if !choices.contains(&value.as_str()) {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "{}{}",
                unknown(&value),
                did_you_mean(&value, choices, true)
                    .unwrap_or_else(|| format!("; expected {}", quoted_list(choices)))
            ),
        ));
    }
    Ok(Spanned {
        value,
        span: lit.span(),
    })
}

fn parse_on(input: ParseStream) -> syn::Result<Spanned<On>> {
    let span = input.span();
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        return Ok(Spanned {
            value: On::Classes(vec![class(&lit)?]),
            span: lit.span(),
        });
    }
    if input.peek(syn::token::Bracket) {
        let content;
        let brackets = bracketed!(content in input);
        let lits = Punctuated::<LitStr, Token![,]>::parse_terminated(&content).map_err(|e| {
            syn::Error::new(
                e.span(),
                "`on = [...]` lists class names in quotes, such as `[\"rate_limit\", \"timeout\"]`",
            )
        })?;
        if lits.is_empty() {
            return Err(syn::Error::new(
                brackets.span.join(),
                "`on = []` would retry nothing; name at least one class, such as `on = \"rate_limit\"`",
            ));
        }
        let classes = lits.iter().map(class).collect::<syn::Result<Vec<_>>>()?;
        return Ok(Spanned {
            value: On::Classes(classes),
            span: brackets.span.join(),
        });
    }
    if input.peek(Token![::]) || input.peek(Ident::peek_any) {
        let path: Path = input.parse()?;
        // `on = rate_limit` is a class name without its quotes far more often than a
        // predicate named like a class; such a predicate can still be named `self::rate_limit`.
        if let Some(ident) = path.get_ident()
            && CLASSES.contains(&ident.to_string().as_str())
        {
            return Err(syn::Error::new(
                ident.span(),
                format!(
                    "class names go in quotes: write `on = \"{ident}\"`; for a predicate fn named `{ident}`, write `on = self::{ident}`"
                ),
            ));
        }
        return Ok(Spanned {
            span: path.span(),
            value: On::Predicate(path),
        });
    }
    Err(syn::Error::new(
        span,
        format!(
            "`on` takes a class name such as \"rate_limit\", a list of them, or a path to a `fn(&E) -> bool`; the classes are {}",
            quoted_list(CLASSES)
        ),
    ))
}

fn parse_attempts(input: ParseStream) -> syn::Result<Spanned<u32>> {
    let lit: LitInt = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "`attempts` takes a whole number, such as `attempts = 5`",
        )
    })?;
    let value = lit.base10_parse::<u32>().map_err(|_| {
        syn::Error::new(
            lit.span(),
            "`attempts` must be a whole number from 1 to 4294967295",
        )
    })?;
    Ok(Spanned {
        value,
        span: lit.span(),
    })
}

fn parse_factor(input: ParseStream) -> syn::Result<Spanned<f64>> {
    let (value, span) = if input.peek(LitFloat) {
        let lit: LitFloat = input.parse()?;
        (lit.base10_parse::<f64>()?, lit.span())
    } else if input.peek(LitInt) {
        let lit: LitInt = input.parse()?;
        (lit.base10_parse::<f64>()?, lit.span())
    } else {
        return Err(syn::Error::new(
            input.span(),
            "`factor` takes a number, such as `factor = 2.0`",
        ));
    };
    Ok(Spanned { value, span })
}

fn duration(input: ParseStream, name: &str) -> syn::Result<Nanos> {
    if input.peek(LitInt) || input.peek(LitFloat) {
        let token: TokenStream = input.parse::<proc_macro2::TokenTree>()?.into();
        // A whole number of 10 or more is likelier milliseconds than seconds.
        let units = match token.to_string().parse::<u64>() {
            Ok(n) if n >= 10 => ["ms", "s"],
            _ => ["s", "ms"],
        };
        return Err(syn::Error::new(
            token.span(),
            format!(
                "`{name}` takes a duration in quotes with its unit, such as `{name} = \"{token}{}\"` or `\"{token}{}\"`",
                units[0], units[1]
            ),
        ));
    }
    let lit = string(
        input,
        name,
        "a duration with its unit, such as \"500ms\", \"2s\" or \"1m\"",
    )?;
    let value = parse_duration(&lit.value()).map_err(|why| {
        syn::Error::new(lit.span(), format!("invalid duration for `{name}`: {why}"))
    })?;
    Ok(Spanned {
        value,
        span: lit.span(),
    })
}

fn path(input: ParseStream, name: &str, what: &str) -> syn::Result<Path> {
    input.parse::<Path>().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!(
                "`{name}` takes a path to {what}, such as `{}`",
                example(name)
            ),
        )
    })
}

impl Parse for Spanned<String> {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let lit: LitStr = input.parse()?;
        Ok(Spanned {
            value: lit.value(),
            span: lit.span(),
        })
    }
}
