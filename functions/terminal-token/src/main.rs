//! Lambda function `terminal-token`: wiring only; the handler lives in the `bitconn` library.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("the terminal-token function is not wired yet")
}
