//! The builder methods the request types share, each shape written once: a field set to
//! `Some(value)`, a list of strings from any iterator, and one more field of the body.

/// Implements builder methods on a request type. Each line is a doc comment, a shape and a
/// field: `some field: Type` sets `field = Some(value)`; `strings field` sets
/// `field = Some(vec of strings)` from any iterator of `Into<String>`; `extra field` inserts
/// one `name: value` into the `field` map (the body fields the type does not name).
macro_rules! setters {
    ($ty:ty { $( $(#[$doc:meta])* $shape:ident $field:ident $(: $arg:ty)? ; )* }) => {
        impl $ty {
            $( $crate::types::setters::setters!(@$shape $(#[$doc])* $field $(: $arg)?); )*
        }
    };
    (@some $(#[$doc:meta])* $field:ident : $arg:ty) => {
        $(#[$doc])*
        #[must_use]
        pub fn $field(mut self, value: $arg) -> Self {
            self.$field = Some(value);
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
}
pub(crate) use setters;
