//! (being written)

use axum::Router;

use crate::api::AppState;

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
}
