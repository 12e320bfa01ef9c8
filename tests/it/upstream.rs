//! Gatehouse as a relying party of another provider (SPEC §9, issue 27), so far its OpenID
//! Connect side: discovery, the JWK set and ID-token verification, against a second Gatehouse
//! acting as the provider (real HTTP, real RS256 tokens).

use gatehouse::server::upstream::client::{verify_id_token, Metadata, Upstream, UpstreamError};

use crate::common::spawn_app;
use crate::oidc::{code_for, exchange, register_app};

#[tokio::test]
async fn another_gatehouse_is_a_provider_whose_id_tokens_verify() {
    let provider = spawn_app().await;
    let app = register_app(&provider, false).await;
    let browser = provider.registered("ada@example.com", "ada").await;
    let code = code_for(&provider, &browser, &app).await;
    let tokens = exchange(&provider, &app, &code).await.json();
    let id_token = tokens["id_token"].as_str().unwrap();

    let upstream = Upstream::new().unwrap();
    let metadata = upstream.discover(&provider.base).await.unwrap();
    assert_eq!(
        metadata.token_endpoint,
        format!("{}/oauth/token", provider.base)
    );
    assert!(metadata.authorization_response_iss_parameter_supported);
    let keys = upstream.keys(&metadata).await.unwrap();
    let claims = verify_id_token(&keys, id_token, &provider.base, &app.id, "n-456").unwrap();
    assert_eq!(claims.email.as_deref(), Some("ada@example.com"));
    assert!(
        !claims.email_verified,
        "Gatehouse says the address is not confirmed yet"
    );
    assert!(!claims.sub.is_empty());

    // Another login's nonce, another app, another issuer, a tampered signature: refused.
    let refused =
        |result: Result<_, UpstreamError>| matches!(result, Err(UpstreamError::IdToken(_)));
    assert!(refused(verify_id_token(
        &keys,
        id_token,
        &provider.base,
        &app.id,
        "n-other"
    )));
    assert!(refused(verify_id_token(
        &keys,
        id_token,
        &provider.base,
        "another-app",
        "n-456"
    )));
    assert!(refused(verify_id_token(
        &keys,
        id_token,
        "https://evil.example",
        &app.id,
        "n-456"
    )));
    let tampered = format!("{}AAAA", &id_token[..id_token.len() - 4]);
    assert!(refused(verify_id_token(
        &keys,
        &tampered,
        &provider.base,
        &app.id,
        "n-456"
    )));
    // An access token is not an ID token (no nonce), and an HS256 token is never accepted.
    let access = tokens["access_token"].as_str().unwrap();
    assert!(refused(verify_id_token(
        &keys,
        access,
        &provider.base,
        &app.id,
        "n-456"
    )));
    let (_, session_token, _) = provider.api_member("bob@example.com").await;
    assert!(refused(verify_id_token(
        &keys,
        &session_token,
        &provider.base,
        &app.id,
        "n-456"
    )));
}

#[tokio::test]
async fn discovery_insists_on_the_issuer_and_follows_no_redirect() {
    let provider = spawn_app().await;
    let upstream = Upstream::new().unwrap();
    // The metadata names PUBLIC_URL: an issuer configured with a trailing path is refused.
    assert!(matches!(
        upstream.discover(&format!("{}/oauth", provider.base)).await,
        Err(UpstreamError::Status(404))
    ));
    // A document whose address redirects (here to the login page) is not followed.
    let mut metadata = upstream.discover(&provider.base).await.unwrap();
    metadata.jwks_uri = format!("{}/profile", provider.base);
    assert!(matches!(
        upstream.keys(&metadata).await,
        Err(UpstreamError::Status(303))
    ));
    // Nothing listening.
    let gone: Metadata = Metadata {
        jwks_uri: "http://127.0.0.1:9/keys".into(),
        ..metadata
    };
    assert!(matches!(
        upstream.keys(&gone).await,
        Err(UpstreamError::Unreachable(_))
    ));
}
