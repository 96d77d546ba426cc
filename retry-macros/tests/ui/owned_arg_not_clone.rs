use retry_core::retry;

struct Request {
    body: Vec<u8>,
}

#[retry]
async fn send(request: Request) -> std::io::Result<usize> {
    Ok(request.body.len())
}

fn main() {}
