//! `bitconn store init`: creates the tables of the store named by `--store`.

use clap::Subcommand;

use crate::{Global, stores};

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Create the webhook and execution-log tables (safe to repeat).
    Init,
}

pub async fn run(global: &Global, command: StoreCommand) -> anyhow::Result<()> {
    match command {
        StoreCommand::Init => {
            stores::init(&global.store).await?;
            if global.json {
                crate::output::print_json(&serde_json::json!({"store": global.store, "initialised": true}))?;
            } else {
                println!("store {} is ready", global.store);
            }
            Ok(())
        }
    }
}
