use retry_core::{RetryBudget, retry};

fn main() {
    let budget = RetryBudget::new();

    #[retry(budget = budget)]
    fn fetch() -> std::io::Result<()> {
        Ok(())
    }

    let _ = (budget, fetch());
}
