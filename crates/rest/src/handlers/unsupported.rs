//! The answer of every route of Qdrant's API that this server does not serve
//! yet. It runs after authentication and the access check, like any handler,
//! so the table of access is enforced on these routes too.

use axum::Extension;

use crate::access::MatchedRoute;
use crate::error::RestError;

/// 501 with the error envelope: `Not implemented: <METHOD> <template> is not
/// supported by this server yet`.
pub(crate) async fn not_supported(Extension(route): Extension<MatchedRoute>) -> RestError {
    RestError::NotSupported {
        method: route.0.method,
        template: route.0.template,
    }
}
