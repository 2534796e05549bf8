//! terminal-host: a JWT-guarded WebSocket PTY server with its own xterm.js page, and the terminal token
//! claims and minting shared with the CLI and the `terminal-token` function (both built without the
//! `server` feature, as is `protocol`, for fuzzing).
//!
//! Layers, each using only those below it: `server` (accept loop) → `socket` (HTTP, upgrade) →
//! `session` (auth, pump) → `terminal` (PTY) and `protocol` (messages); `state`, `admission`, `config`
//! (with `shell` and `shell_user`), `token` and `audit` sit below them all.

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
pub mod shell_user;
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
