//! `bitconn terminal …`: operator commands for terminal-host (minting a one-time terminal token).

use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use terminal_host::token::{self, Secret, ShellMode};

#[derive(Debug, Subcommand)]
pub enum TerminalCommand {
    /// Mint a single-use token for terminal-host, signed with WS_SECRET_KEY; prints the token alone.
    Token {
        /// The Odoo login the terminal is opened for (recorded in terminal-host's audit log).
        #[arg(long)]
        user: String,
        /// Which shell the token opens.
        #[arg(long, default_value = "bash", value_parser = ["bash", "odoo"])]
        mode: String,
        /// How long the token may be used to connect (at most 10m).
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
}

pub fn run(command: TerminalCommand) -> anyhow::Result<()> {
    match command {
        TerminalCommand::Token { user, mode, ttl } => {
            let secret = Secret::from_env().context("cannot sign a terminal token")?;
            let mode: ShellMode = mode.parse()?;
            let minted = token::mint(&secret, &user, mode, ttl)?;
            println!("{}", minted.token);
            Ok(())
        }
    }
}
