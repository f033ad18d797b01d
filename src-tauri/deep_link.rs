//! `switchyard://` links, validated before anything is done with them:
//! OAuth callbacks, `connect/<service>`, and `import?...` for sharing a combo
//! or a provider node (an OpenAI/Anthropic-compatible server) without secrets. Anything else, or anything malformed, is refused with a
//! reason the user sees.

use switchyard_api_types::LinkView;
use url::Url;

/// Most targets an imported combo may have.
const MAX_IMPORTED_TARGETS: usize = 32;

/// A link the app understood: a login callback (handled in the shell; its
/// code never reaches the dashboard) or a link for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeepLink {
    /// The browser coming back from a service's login page.
    OAuthCallback {
        /// The authorization code.
        code: String,
        /// The state sent with the authorization request.
        state: String,
    },
    /// A link the dashboard acts on when the user says so.
    ForDashboard(LinkView),
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused link: {0}")]
pub struct Refused(pub String);

fn refuse(reason: impl Into<String>) -> Refused {
    Refused(reason.into())
}

/// A name made of letters, digits and `-_.`, at most 64 characters.
fn plain_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl DeepLink {
    /// Parses and validates a link; `known_services` are the ids `connect` accepts.
    pub fn parse(link: &str, known_services: &[&str]) -> Result<Self, Refused> {
        if link.len() > 4096 {
            return Err(refuse("the link is too long"));
        }
        let url = Url::parse(link).map_err(|error| refuse(format!("not a URL ({error})")))?;
        if url.scheme() != "switchyard" {
            return Err(refuse(format!("unknown scheme {:?}", url.scheme())));
        }
        let host = url.host_str().unwrap_or_default();
        let path = url.path().trim_matches('/');
        let query: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let param = |name: &str| {
            let mut values = query
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone());
            match (values.next(), values.next()) {
                (Some(value), None) => Ok(Some(value)),
                (None, _) => Ok(None),
                (Some(_), Some(_)) => Err(refuse(format!("{name:?} is given twice"))),
            }
        };
        let secret_like = query.iter().any(|(k, _)| {
            let k = k.to_ascii_lowercase();
            ["key", "token", "secret", "password"]
                .iter()
                .any(|s| k.contains(s))
        });
        match (host, path) {
            ("oauth", "callback") => {
                let code = param("code")?.ok_or_else(|| refuse("the callback has no code"))?;
                let state = param("state")?.ok_or_else(|| refuse("the callback has no state"))?;
                if code.is_empty() || state.is_empty() || code.len() > 2048 || state.len() > 512 {
                    return Err(refuse("the callback's code or state is malformed"));
                }
                Ok(Self::OAuthCallback { code, state })
            }
            ("connect", service) => {
                if !known_services.contains(&service) {
                    return Err(refuse(format!("no service called {service:?}")));
                }
                if !query.is_empty() {
                    return Err(refuse("connect links take no parameters"));
                }
                Ok(Self::ForDashboard(LinkView::Connect {
                    service: service.to_owned(),
                }))
            }
            ("import", "") => {
                if secret_like {
                    return Err(refuse("shared links must not carry keys or tokens"));
                }
                match param("kind")?.as_deref() {
                    Some("combo") => {}
                    Some("provider") => return Self::provider_import(&param),
                    Some(other) => return Err(refuse(format!("cannot import a {other:?}"))),
                    None => return Err(refuse("the import link says nothing about what it holds")),
                }
                let name = param("name")?.ok_or_else(|| refuse("the combo has no name"))?;
                if !plain_name(&name) {
                    return Err(refuse(format!("{name:?} is not a valid combo name")));
                }
                let targets: Vec<String> = param("targets")?
                    .ok_or_else(|| refuse("the combo has no targets"))?
                    .split(',')
                    .map(str::trim)
                    .map(str::to_owned)
                    .collect();
                let valid = |target: &String| {
                    target.split_once('/').is_some_and(|(prefix, model)| {
                        plain_name(prefix)
                            && !model.is_empty()
                            && model.len() <= 128
                            && !model.chars().any(char::is_whitespace)
                    })
                };
                if targets.is_empty() || targets.len() > MAX_IMPORTED_TARGETS {
                    return Err(refuse("the combo needs between 1 and 32 targets"));
                }
                if let Some(bad) = targets.iter().find(|target| !valid(target)) {
                    return Err(refuse(format!("{bad:?} is not a prefix/model target")));
                }
                Ok(Self::ForDashboard(LinkView::ImportCombo { name, targets }))
            }
            _ => Err(refuse(format!("unknown link switchyard://{host}/{path}"))),
        }
    }

    fn provider_import(
        param: &dyn Fn(&str) -> Result<Option<String>, Refused>,
    ) -> Result<Self, Refused> {
        let name = param("name")?.ok_or_else(|| refuse("the provider has no name"))?;
        if name.trim().is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(refuse(format!("{name:?} is not a valid provider name")));
        }
        let format = param("format")?.unwrap_or_else(|| "openai".into());
        if !["openai", "anthropic", "responses", "gemini"].contains(&format.as_str()) {
            return Err(refuse(format!("unknown provider format {format:?}")));
        }
        let prefix = param("prefix")?.ok_or_else(|| refuse("the provider has no prefix"))?;
        if !plain_name(&prefix) || prefix.contains('.') {
            return Err(refuse(format!("{prefix:?} is not a valid prefix")));
        }
        let base_url = param("base_url")?.ok_or_else(|| refuse("the provider has no base_url"))?;
        let parsed =
            Url::parse(&base_url).map_err(|_| refuse(format!("{base_url:?} is not a URL")))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.host_str().is_none()
            || !parsed.username().is_empty()
            || parsed.password().is_some()
            || parsed.query().is_some()
        {
            return Err(refuse(
                "the base_url must be a plain http(s) address without credentials or query",
            ));
        }
        let models: Vec<String> = param("models")?
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|model| !model.is_empty())
            .map(str::to_owned)
            .collect();
        if models.len() > 200
            || models
                .iter()
                .any(|m| m.len() > 128 || m.chars().any(char::is_whitespace))
        {
            return Err(refuse("the model list is malformed"));
        }
        Ok(Self::ForDashboard(LinkView::ImportProvider {
            name,
            format,
            base_url,
            prefix,
            models,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICES: &[&str] = &["claude-code", "codex"];

    #[test]
    fn good_links_are_understood() {
        assert_eq!(
            DeepLink::parse("switchyard://oauth/callback?code=abc&state=xyz", SERVICES),
            Ok(DeepLink::OAuthCallback {
                code: "abc".into(),
                state: "xyz".into()
            })
        );
        assert_eq!(
            DeepLink::parse("switchyard://connect/codex", SERVICES),
            Ok(DeepLink::ForDashboard(LinkView::Connect {
                service: "codex".into()
            }))
        );
        assert_eq!(
            DeepLink::parse(
                "switchyard://import?kind=combo&name=fast&targets=oa/gpt-4o,cc/claude-sonnet-4-5",
                SERVICES
            ),
            Ok(DeepLink::ForDashboard(LinkView::ImportCombo {
                name: "fast".into(),
                targets: vec!["oa/gpt-4o".into(), "cc/claude-sonnet-4-5".into()]
            }))
        );
        assert_eq!(
            DeepLink::parse(
                "switchyard://import?kind=provider&name=Team%20vLLM&format=openai&prefix=team\
                 &base_url=https%3A%2F%2Fllm.example.com%2Fv1&models=qwen3-coder,glm-4.6",
                SERVICES
            ),
            Ok(DeepLink::ForDashboard(LinkView::ImportProvider {
                name: "Team vLLM".into(),
                format: "openai".into(),
                base_url: "https://llm.example.com/v1".into(),
                prefix: "team".into(),
                models: vec!["qwen3-coder".into(), "glm-4.6".into()]
            }))
        );
    }

    #[test]
    fn malformed_or_dangerous_links_are_refused() {
        for link in [
            "https://example.com/oauth/callback?code=a&state=b",
            "switchyard://oauth/callback?code=a",
            "switchyard://oauth/callback?code=a&state=b&state=c",
            "switchyard://connect/unknown",
            "switchyard://connect/codex?redirect=https://evil.example",
            "switchyard://import?kind=combo&name=x&targets=oa/gpt&api_key=sk-1",
            "switchyard://import?kind=provider&name=x",
            "switchyard://import?kind=provider&name=x&prefix=x&base_url=https://u:p@h/v1",
            "switchyard://import?kind=provider&name=x&prefix=x&base_url=file:///etc/passwd",
            "switchyard://import?kind=provider&name=x&prefix=x&base_url=https://h/v1&format=soap",
            "switchyard://import?kind=combo&name=bad/name&targets=a/b",
            "switchyard://import?kind=combo&name=ok&targets=nomodel",
            "switchyard://delete/everything",
            "not a url",
        ] {
            assert!(DeepLink::parse(link, SERVICES).is_err(), "{link}");
        }
    }
}
