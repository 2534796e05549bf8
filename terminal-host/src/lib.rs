//! terminal-host: a JWT-guarded WebSocket PTY server with its own xterm.js page, and the terminal token
//! claims and minting shared with the CLI and the `terminal-token` function.
//!
//! Layers, each using only those below it: `server` (accept loop, admission) → `socket` (HTTP, upgrade)
//! → `session` (auth, pump) → `terminal` (PTY) and `protocol` (messages); `state`, `config`, `token`
//! and `audit` are shared below them all.

pub mod protocol;
pub mod token;

#[cfg(feature = "server")]
pub mod admission;
#[cfg(feature = "server")]
pub mod audit;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod page;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod session;
#[cfg(feature = "server")]
pub mod shell;
#[cfg(feature = "server")]
pub mod socket;
#[cfg(feature = "server")]
pub mod state;
#[cfg(feature = "server")]
pub mod terminal;

#[cfg(feature = "server")]
pub use config::Config;
#[cfg(feature = "server")]
pub use server::Host;
