use retry_core::retry;

#[retry(on = "timeout")]
fn run<E>(make: fn() -> Result<u32, E>) -> Result<u32, E> {
    make()
}

fn main() {}
