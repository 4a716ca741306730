//! [`confirm_prompt`] and [`fleet_confirm_prompt`]: the question the controller asks before a real
//! run, on one host or on many.

/// `Run the backup plan on forge now? [y/N] `, without a newline: the answer follows on the line.
pub fn confirm_prompt(host: &str) -> String {
    format!("Run the backup plan on {host} now? [y/N] ")
}

/// The one question before a fleet's run, once every host was checked: the hosts that will run,
/// those that cannot (with why), then `Run the backup plan on these 8 hosts now? [y/N] `.
pub fn fleet_confirm_prompt(ready: &[&str], cannot: &[(&str, &str)]) -> String {
    let mut text = format!("The backup plan will run on {}:\n", hosts(ready.len()));
    for host in ready {
        text.push_str(&format!("  {host}\n"));
    }
    if !cannot.is_empty() {
        text.push_str(&format!("It cannot run on {}:\n", hosts(cannot.len())));
        for (host, why) in cannot {
            text.push_str(&format!("  {host}: {why}\n"));
        }
    }
    let these = if ready.len() == 1 {
        "this host"
    } else {
        "these hosts"
    };
    text.push_str(&format!("Run the backup plan on {these} now? [y/N] "));
    text
}

fn hosts(n: usize) -> String {
    if n == 1 {
        "1 host".to_owned()
    } else {
        format!("{n} hosts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_prompt_lists_ready_hosts_and_why_others_cannot_run() {
        let text = fleet_confirm_prompt(&["h1", "h2"], &[("h3", "h3: host key changed")]);
        assert_eq!(
            text,
            "The backup plan will run on 2 hosts:\n  h1\n  h2\n\
             It cannot run on 1 host:\n  h3: h3: host key changed\n\
             Run the backup plan on these hosts now? [y/N] "
        );
    }
}
