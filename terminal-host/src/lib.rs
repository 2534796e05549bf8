//! terminal-host: a JWT-guarded WebSocket PTY server with its own xterm.js page, and the terminal token
//! claims and minting shared with the CLI and the `terminal-token` function.

pub mod token;

#[cfg(feature = "server")]
pub mod audit;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod page;
#[cfg(feature = "server")]
pub mod protocol;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod session;
#[cfg(feature = "server")]
pub mod shell;
#[cfg(feature = "server")]
pub mod socket;
#[cfg(feature = "server")]
pub mod terminal;

#[cfg(feature = "server")]
pub use config::Config;
#[cfg(feature = "server")]
pub use server::Host;
