//! [`error_chain`]: an error and its causes on one line, for messages, refusals and the journal.
//!
//! One function for the whole agent, below every user of it.

use std::error::Error;

/// `outer: inner: innermost`, for a one-line error message. A cause whose text the outer message
/// already ends with (a `#[error(transparent)]`-like wrapper) is not repeated.
pub fn error_chain(e: &(dyn Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
