//! terminal-host: a JWT-guarded WebSocket PTY server for Odoo administrators.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("terminal-host is not wired yet")
}
