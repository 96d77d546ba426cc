//! Return-type coercion for async bodies.
//!
//! An async attempt is an `async` block, whose output type rustc infers from the body: unlike
//! a fn, the block has no declared return type to coerce `Ok(&self.name)` to
//! `Result<&str, _>` or `Err(Box::new(e))` to `Box<dyn Error>`. So each value the body returns
//! (its `return`s and its tail) is bound to a `let` of the declared type, where rustc
//! coerces it as it would at a fn's return.
//!
//! (A never-taken `if false { return <declared>; }` at the top of the block would fix the
//! type for macro-made returns too, but it turns a missing `From` for `?` into an obscure
//! "type mismatch resolving `<u32 as FromStr>::Err == MyError`": see
//! `tests/ui/body_error_not_convertible.rs`.)

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, Ident, Type};

/// The body with every value it returns typed as `output`, as a block expression.
pub fn typed_body(block: &Block, output: &Type, local: &Ident) -> TokenStream {
    let mut block = block.clone();
    TypeReturns { output, local }.visit_block_mut(&mut block);
    quote!({ let #local: #output = #block; #local })
}

struct TypeReturns<'a> {
    output: &'a Type,
    local: &'a Ident,
}

impl VisitMut for TypeReturns<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            // A `return` there leaves another function or block, not the attempt.
            Expr::Closure(_) | Expr::Async(_) => {}
            Expr::Return(ret) => {
                if let Some(value) = &mut ret.expr {
                    self.visit_expr_mut(value);
                    let (output, local) = (self.output, self.local);
                    *value = syn::parse_quote!({ let #local: #output = #value; #local });
                }
            }
            _ => syn::visit_mut::visit_expr_mut(self, expr),
        }
    }

    // Nested fns and impls have returns of their own.
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}
