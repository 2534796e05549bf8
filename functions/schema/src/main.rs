//! Lambda function `schema`: wiring only; the handler lives in the `bitconn` library.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("the schema function is not wired yet")
}
