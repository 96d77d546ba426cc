use retry_core::retry;

#[retry(on = "any")]
async fn fetch() -> Result<u32, String> {
    if true {
        return Ok("seven");
    }
    Ok(7)
}

fn main() {}
