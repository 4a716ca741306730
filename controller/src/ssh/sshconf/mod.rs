//! ssh_config as OpenSSH 9.2 reads it, for one host: [`read`] gives the [`Settings`] (the first
//! value of every keyword, each with the file:line it came from), the `Match` blocks that could
//! select the host, and nothing silently dropped.
//!
//! Not evaluated: `Match`, except `Match final all` (the distributions' crypto-policy block),
//! whose lines fill what is still unset, as ssh's second pass ([`Settings::evaluate_final_all`]).
//! A Match whose `host`/`originalhost` criterion cannot select the host is
//! skipped with its lines (`Match host` compares with the HostName set so far, as ssh does); any
//! other is left for the caller to refuse ([`Settings::matches`]), with the directives it holds.
//! When a `Match final` asks ssh for a second pass, a skipped `Match host` is checked again
//! against the final HostName ([`Settings::final_pass_matches`]).

mod lexer;
mod model;
pub mod policy;
mod reader;

pub use model::{Directive, Origin, ReadError, Settings};
pub use reader::{Sources, read};
