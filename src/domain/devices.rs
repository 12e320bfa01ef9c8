//! Devices in words, for the sessions list and the audit trail.

/// "Chrome on Linux", "Firefox on Windows", or a plain fallback for unknown agents.
pub fn describe_user_agent(user_agent: &str) -> String {
    if user_agent.trim().is_empty() {
        return "Unknown device".to_string();
    }
    let Some(parsed) = woothee::parser::Parser::new().parse(user_agent) else {
        return "Unknown browser".to_string();
    };
    let browser = match parsed.name {
        "UNKNOWN" | "" => "Unknown browser",
        name => name,
    };
    let os = match parsed.os {
        "UNKNOWN" | "" => None,
        "Mac OSX" => Some("macOS"),
        os => Some(os),
    };
    match os {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_read_as_words() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(describe_user_agent(chrome), "Chrome on Linux");
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0";
        assert_eq!(describe_user_agent(firefox), "Firefox on Windows 10");
        assert_eq!(describe_user_agent(""), "Unknown device");
    }
}
