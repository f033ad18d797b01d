//! Checks on what users type, shared by the CLI and the desktop app.

/// A model prefix: letters, digits, `-`, `_` and `.`.
pub fn prefix(prefix: &str) -> Result<(), String> {
    let valid = !prefix.is_empty()
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the prefix {prefix:?} may only hold letters, digits, '-', '_' and '.'"
        ))
    }
}

/// An http(s) base URL, returned without trailing slashes.
pub fn base_url(base_url: &str) -> Result<String, String> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let has_scheme = trimmed.starts_with("http://") || trimmed.starts_with("https://");
    if !has_scheme || trimmed.len() <= "https://".len() {
        return Err(format!(
            "the base URL {base_url:?} must start with http:// or https://"
        ));
    }
    Ok(trimmed.to_owned())
}

/// A combo or alias name: non-empty, without '/'.
pub fn model_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() || name.contains('/') {
        return Err(format!(
            "a {what} name must be non-empty and contain no '/' (those name provider models)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_input_is_checked() {
        assert!(prefix("oa").is_ok());
        assert!(prefix("a/b").is_err());
        assert_eq!(base_url("https://x.test/v1/").unwrap(), "https://x.test/v1");
        assert!(base_url("ftp://x").is_err());
        assert!(model_name("fast", "combo").is_ok());
        assert!(model_name("a/b", "combo").is_err());
    }
}
