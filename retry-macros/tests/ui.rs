//! The compile-time contract of `#[retry]`: every misuse under `tests/ui/` must fail with the
//! message in its `.stderr`, and every file under `tests/ui/pass/` must build and run.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p retry-macros --test ui`,
//! then read each changed `.stderr`: the bar is a message that names `#[retry]` or the option,
//! points at the user's token, and says what to write instead.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
