//! [`error_chain`]: an error and its sources on one line, the way both binaries print an error.

use std::error::Error;

/// `message: source: source`, each source's text added unless the text so far already says it
/// (an error that formats its source into its own message, as `#[error("{host}: {source}")]` does,
/// would otherwise print it twice).
pub fn error_chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    #[derive(Debug)]
    struct Layer {
        text: &'static str,
        source: Option<Box<Layer>>,
    }

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.text)
        }
    }

    impl Error for Layer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.source.as_deref().map(|s| s as &(dyn Error + 'static))
        }
    }

    fn layer(text: &'static str, source: Option<Layer>) -> Layer {
        Layer {
            text,
            source: source.map(Box::new),
        }
    }

    #[test]
    fn error_chain_joins_sources_and_skips_those_already_said() {
        let error = layer(
            "failed to write the output",
            Some(layer("forge: disk full", Some(layer("disk full", None)))),
        );
        assert_eq!(
            error_chain(&error),
            "failed to write the output: forge: disk full"
        );
        assert_eq!(error_chain(&layer("alone", None)), "alone");
    }
}
