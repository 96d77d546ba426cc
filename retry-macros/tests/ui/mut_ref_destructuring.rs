use retry_core::retry;

#[retry]
async fn fill((a, b): &mut (Vec<u8>, Vec<u8>)) -> std::io::Result<()> {
    a.push(1);
    b.push(2);
    Ok(())
}

fn main() {}
