//! The builder methods that set one field and return `self`, each written once as a line of
//! [`setters!`] inside the type's `impl` block (so they stay where its docs list them).

/// `name(arg: Type) => field;` writes `#[must_use] pub const fn name(mut self, arg: Type) ->
/// Self`, which sets `self.field = arg`; `=> field via f;` sets `self.field = f(arg)`; and
/// `name() => field = value;` writes `pub const fn name(mut self) -> Self` setting a constant.
macro_rules! setters {
    (@one $(#[$doc:meta])* $name:ident() => $field:ident = $value:expr) => {
        $(#[$doc])*
        #[must_use]
        pub const fn $name(mut self) -> Self {
            self.$field = $value;
            self
        }
    };
    (@one $(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $field:ident) => {
        $(#[$doc])*
        #[must_use]
        pub const fn $name(mut self, $arg: $ty) -> Self {
            self.$field = $arg;
            self
        }
    };
    (@one $(#[$doc:meta])* $name:ident($arg:ident: $ty:ty) => $field:ident via $via:path) => {
        $(#[$doc])*
        #[must_use]
        pub const fn $name(mut self, $arg: $ty) -> Self {
            self.$field = $via($arg);
            self
        }
    };
    ($(
        $(#[$doc:meta])*
        $name:ident($($arg:ident: $ty:ty)?) => $field:ident $(via $via:path)? $(= $value:expr)?;
    )*) => {$(
        $crate::setters::setters!(
            @one $(#[$doc])* $name($($arg: $ty)?) => $field $(via $via)? $(= $value)?
        );
    )*};
}
pub(crate) use setters;
