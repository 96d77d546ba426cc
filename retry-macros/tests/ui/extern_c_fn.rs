use retry_core::retry;

#[retry]
extern "C" fn callback() -> Result<u32, std::io::Error> {
    Ok(1)
}

fn main() {}
