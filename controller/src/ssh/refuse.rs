//! What the native transport refuses to do for a host, decided before anything is contacted:
//! [`refusals`]. A `Match` block that could select the host (unless it only sets directives
//! [`policy`] ignores), and every applicable directive [`policy`] refuses. Each refusal names
//! the line it comes from; the way out is `--transport openssh`.

use super::algorithms::Lists;
use super::sshconf::policy::{self, Class};
use super::sshconf::{Origin, Settings};

/// Something in the config the native transport will not do for this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `Match …` or the directive as written (keyword lowercased).
    pub directive: String,
    pub origin: Origin,
}

pub fn refusal_text(host: &str, refusals: &[Refusal]) -> String {
    let mut text = format!(
        "the SSH config for {host} uses what the native SSH transport does not implement; \
         nothing was contacted. Run with --transport openssh to use the system's ssh:"
    );
    for refusal in refusals {
        text.push_str(&format!("\n  {}: {}", refusal.origin, refusal.directive));
    }
    text
}

/// The Match blocks and directives in `settings` the native transport will not honour.
pub fn refusals(settings: &Settings, host: &str) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    for pending in settings
        .matches
        .iter()
        .chain(settings.final_pass_matches(host))
    {
        let harmless = pending
            .keywords
            .iter()
            .all(|d| policy::classify(&d.keyword) == Some(Class::Ignored));
        if harmless {
            tracing::debug!(origin = %pending.origin, "Match sets only ignored directives: skipped");
            continue;
        }
        refusals.push(Refusal {
            directive: format!("Match {}", pending.criteria),
            origin: pending.origin.clone(),
        });
    }
    for directive in settings.all() {
        let refused = match policy::classify(&directive.keyword) {
            Some(Class::Ignored) => {
                tracing::debug!(origin = %directive.origin, keyword = %directive.keyword, "ignored: no effect on security or routing here");
                false
            }
            Some(class) => policy::refuses(class, &directive.args),
            None => false,
        };
        let no_publickey = directive.keyword == "preferredauthentications"
            && !directive
                .value()
                .split(',')
                .any(|method| method == "publickey");
        if refused || no_publickey {
            refusals.push(Refusal {
                directive: format!("{} {}", directive.keyword, directive.args.join(" ")),
                origin: directive.origin.clone(),
            });
        }
    }
    // An algorithm list that leaves nothing this build supports: ssh could still connect.
    for keyword in Lists::from_settings(settings).empty() {
        let directive = settings
            .get(keyword)
            .or_else(|| settings.get("pubkeyacceptedkeytypes"));
        if let Some(directive) = directive {
            refusals.push(Refusal {
                directive: format!(
                    "{} {} (no algorithm this build supports)",
                    directive.keyword,
                    directive.value()
                ),
                origin: directive.origin.clone(),
            });
        }
    }
    refusals.sort_by(|a, b| (&a.origin.file, a.origin.line).cmp(&(&b.origin.file, b.origin.line)));
    refusals
}
