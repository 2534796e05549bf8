//! Lambda function `inbound`: wiring only; the handler lives in the `bitconn` library.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("the inbound function is not wired yet")
}
