//! The builder methods the request types and the client's builder share, each shape written
//! once: a field set to `Some(value)` (or `Some(value.into())`), a list of strings from any
//! iterator, and one more field of a request's body.

/// Writes builder methods, each a doc comment, a shape and a field: `some field: Type` sets
/// `field = Some(value)`; `into field: Type` takes any `impl Into<Type>` and sets
/// `field = Some(value.into())`; `strings field` sets `field = Some(vec of strings)` from any
/// iterator of `Into<String>`; `extra field` inserts one `name: value` into the `field` map
/// (the body fields the type does not name). Inside an `impl` block, or given a type and
/// braces to write one.
macro_rules! setters {
    (@some $(#[$doc:meta])* $field:ident : $arg:ty) => {
        $(#[$doc])*
        #[must_use]
        pub fn $field(mut self, value: $arg) -> Self {
            self.$field = Some(value);
            self
        }
    };
    (@into $(#[$doc:meta])* $field:ident : $arg:ty) => {
        $(#[$doc])*
        #[must_use]
        pub fn $field(mut self, value: impl Into<$arg>) -> Self {
            self.$field = Some(value.into());
            self
        }
    };
    (@strings $(#[$doc:meta])* $field:ident) => {
        $(#[$doc])*
        #[must_use]
        pub fn $field<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
            self.$field = Some(values.into_iter().map(Into::into).collect());
            self
        }
    };
    (@extra $(#[$doc:meta])* $field:ident) => {
        $(#[$doc])*
        #[must_use]
        pub fn $field(
            mut self,
            name: impl Into<String>,
            value: impl Into<serde_json::Value>,
        ) -> Self {
            self.$field.insert(name.into(), value.into());
            self
        }
    };
    ($( $(#[$doc:meta])* $shape:ident $field:ident $(: $arg:ty)? ; )*) => {
        $( $crate::setters::setters!(@$shape $(#[$doc])* $field $(: $arg)?); )*
    };
    ($ty:ty { $($body:tt)* }) => {
        impl $ty {
            $crate::setters::setters!($($body)*);
        }
    };
}
pub(crate) use setters;
