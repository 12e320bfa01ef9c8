//! What people allowed apps (`/apps`, "Connected apps").

use crate::domain::AppError;
use crate::server::accounts::audit::{Event, EventKind};
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::startup::state::AppState;
use crate::server::store::oidc::{self as store, ConsentRow};

pub async fn list(state: &AppState, user_id: i64) -> Result<Vec<ConsentRow>, AppError> {
    let mut conn = state.db.acquire().await?;
    Ok(store::consents_of(&mut conn, user_id).await?)
}

/// "Remove access": the consent goes and every token the app holds for the person ends at
/// once. Whether there was one.
pub async fn remove(
    state: &AppState,
    current: &CurrentUser,
    client: &Client,
    client_id: &str,
) -> Result<bool, AppError> {
    let mut tx = state.db.begin().await?;
    let app = store::client(&mut tx, client_id)
        .await?
        .map(|client| client.name)
        .unwrap_or_default();
    let removed = store::delete_consent(&mut tx, current.user_id, client_id, state.now()).await?;
    tx.commit().await?;
    if removed {
        state.audit.record(
            Event::new(EventKind::AppAccessRemoved)
                .by(current.user_id)
                .client(client)
                .session(&current.session_id)
                .detail("client_id", client_id.to_string())
                .detail("app", app),
        );
    }
    Ok(removed)
}
