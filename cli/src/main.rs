//! `bitconn`: the operator's command line (local gateway, webhook administration, logs, tokens).

fn main() -> anyhow::Result<()> {
    anyhow::bail!("bitconn is not wired yet")
}
