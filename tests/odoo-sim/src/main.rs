//! `odoo-sim`: serve the simulator over HTTP.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("odoo-sim is not wired yet")
}
