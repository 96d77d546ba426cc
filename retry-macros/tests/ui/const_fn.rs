use retry_core::retry;

#[retry]
const fn parse() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
