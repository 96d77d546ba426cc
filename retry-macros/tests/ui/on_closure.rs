use retry_core::retry;

fn main() {
    let fetch = #[retry] || -> std::io::Result<()> { Ok(()) };
    let _ = fetch();
}
