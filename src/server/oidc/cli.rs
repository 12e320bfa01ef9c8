//! `gatehouse oidc …`: registering apps and rotating the signing key from the command line.

use std::process::ExitCode;

use crate::server::oidc::clients::{self, Registration};
use crate::server::startup::clock::rfc3339;
use crate::server::startup::state::AppState;

pub const USAGE: &str =
    "       gatehouse oidc add-client --name NAME --redirect-uri URI [--redirect-uri URI …]
                                [--post-logout-redirect-uri URI …] [--public]
                                 register an app; prints {\"client_id\", \"client_secret\"}
       gatehouse oidc list-clients      the registered apps, as JSON
       gatehouse oidc remove-client ID  remove an app and end its tokens
       gatehouse oidc rotate-key        sign with a new key; the old one stays published";

/// What `add-client`'s arguments say.
#[derive(Debug, Default, PartialEq)]
struct AddArgs {
    name: Option<String>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    public: bool,
}

fn parse_add(args: &[&str]) -> Result<AddArgs, String> {
    let mut parsed = AddArgs::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (*arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| rest.next().map(|v| v.to_string()))
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--name" => parsed.name = Some(value()?),
            "--redirect-uri" => parsed.redirect_uris.push(value()?),
            "--post-logout-redirect-uri" => parsed.post_logout_redirect_uris.push(value()?),
            "--public" if inline.is_none() => parsed.public = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if parsed.name.is_none() {
        return Err("--name is required".into());
    }
    if parsed.redirect_uris.is_empty() {
        return Err("at least one --redirect-uri is required".into());
    }
    Ok(parsed)
}

/// Runs `gatehouse oidc ARGS` with the server's settings.
pub async fn run(state: &AppState, args: &[&str]) -> ExitCode {
    match args {
        ["add-client", rest @ ..] => {
            let parsed = match parse_add(rest) {
                Ok(parsed) => parsed,
                Err(message) => {
                    eprintln!("gatehouse: {message}\nusage: {}", USAGE.trim_start());
                    return ExitCode::from(2);
                }
            };
            let registration = Registration {
                name: parsed.name.as_deref().unwrap_or_default(),
                redirect_uris: &parsed.redirect_uris,
                post_logout_redirect_uris: &parsed.post_logout_redirect_uris,
                public: parsed.public,
            };
            match clients::add(state, &registration, None).await {
                Ok(added) => {
                    println!("{}", serde_json::to_string(&added).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Err(err) => fail(&err),
            }
        }
        ["list-clients"] => match clients::list(state).await {
            Ok(list) => {
                let list: Vec<serde_json::Value> = list
                    .into_iter()
                    .map(|client| {
                        serde_json::json!({
                            "client_id": client.client_id,
                            "name": client.name,
                            "redirect_uris": client.redirect_uris,
                            "post_logout_redirect_uris": client.post_logout_redirect_uris,
                            "public": client.public,
                            "created_at": rfc3339(client.created_at),
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
                ExitCode::SUCCESS
            }
            Err(err) => fail(&err),
        },
        ["remove-client", id] => match clients::remove(state, id).await {
            Ok(Some(name)) => {
                println!("Removed the app {name} ({id}); its tokens no longer work.");
                ExitCode::SUCCESS
            }
            Ok(None) => {
                eprintln!("gatehouse: no app has the client ID {id}");
                ExitCode::FAILURE
            }
            Err(err) => fail(&err),
        },
        ["rotate-key"] => {
            let now = state.now();
            let mut keys = (*state.oidc_keys.current()).clone();
            // Every token the old key signed (ID and access tokens) has expired by then.
            let overlap = state.config.sessions.access_ttl.as_secs() as i64 + 60;
            match keys.rotate(now, overlap) {
                Ok(kid) => {
                    println!(
                        "Signing with the new key {kid}; the previous key stays published until {}.",
                        rfc3339(now + overlap)
                    );
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    eprintln!("gatehouse: {message}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: {}", USAGE.trim_start());
            ExitCode::from(2)
        }
    }
}

fn fail(err: &crate::domain::AppError) -> ExitCode {
    match err.fields.values().next() {
        Some(message) => eprintln!("gatehouse: {message}"),
        None => eprintln!("gatehouse: {err}"),
    }
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_client_arguments() {
        let parsed = parse_add(&[
            "--name",
            "Wiki",
            "--redirect-uri",
            "https://a.example/cb",
            "--redirect-uri=https://b.example/cb",
            "--public",
        ])
        .unwrap();
        assert_eq!(parsed.name.as_deref(), Some("Wiki"));
        assert_eq!(
            parsed.redirect_uris,
            ["https://a.example/cb", "https://b.example/cb"]
        );
        assert!(parsed.public);
        assert!(parse_add(&["--name", "Wiki"]).is_err());
        assert!(parse_add(&["--redirect-uri", "https://a.example/cb"]).is_err());
        assert!(parse_add(&["--name"]).is_err());
        assert!(parse_add(&["--name", "x", "--redirect-uri", "u", "--bogus"]).is_err());
    }
}
