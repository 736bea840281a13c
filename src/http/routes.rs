//! Every route once. A JSON API route is its handler alone: the method,
//! path and OpenAPI operation come from the handler's `#[utoipa::path]`
//! (through `utoipa_axum::routes!`), with the schemas of the types it
//! takes and returns; a page route names its method and path here. The
//! router, [`super::routes()`] and the OpenAPI `paths` are all built from
//! [`table`]; add a route here.

use std::sync::{Arc, LazyLock};

use axum::routing::{MethodRouter, get, post};
use utoipa::openapi::RefOr;
use utoipa::openapi::path::Paths;
use utoipa::openapi::schema::Schema;
use utoipa_axum::routes;

use super::Shared;
use super::admin_page::{
    page_admin, page_admin_disable, page_admin_enable, page_admin_org_policy,
    page_admin_program_policy,
};
use super::page::{
    page_connect, page_disconnect, page_home, page_hours, page_poll, page_poll_answer,
    page_poll_book, page_poll_view, page_sign_in, page_sign_out, page_week,
};

/// The OpenAPI part of a JSON API route: its path item and the schemas
/// its types need.
pub(super) struct Documented {
    /// The path with its one operation.
    pub(super) paths: Paths,
    /// The component schemas of its request and response types.
    pub(super) schemas: Vec<(String, RefOr<Schema>)>,
}

/// One route.
pub(super) struct Route {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub(super) method: &'static str,
    /// The path, axum syntax (the same in OpenAPI).
    pub(super) path: String,
    /// Its handler.
    pub(super) handler: MethodRouter<Arc<Shared>>,
    /// The OpenAPI operation (JSON API routes and `/openapi.json`); `None`
    /// for the page.
    pub(super) doc: Option<Documented>,
}

/// What `utoipa_axum::routes!` gives for one handler: the schemas its
/// types need, its path item, and the handler on its method.
type Generated = (
    Vec<(String, RefOr<Schema>)>,
    Paths,
    MethodRouter<Arc<Shared>>,
);

/// A documented route, from what `utoipa_axum::routes!` gives for one
/// handler.
fn api((schemas, paths, handler): Generated) -> Route {
    let (path, method) = paths
        .paths
        .iter()
        .next()
        .map(|(path, item)| {
            let method = if item.get.is_some() {
                "GET"
            } else if item.post.is_some() {
                "POST"
            } else if item.put.is_some() {
                "PUT"
            } else if item.delete.is_some() {
                "DELETE"
            } else {
                "PATCH"
            };
            (path.clone(), method)
        })
        .unwrap_or_default();
    Route {
        method,
        path,
        handler,
        doc: Some(Documented { paths, schemas }),
    }
}

fn page(method: &'static str, path: &'static str, handler: MethodRouter<Arc<Shared>>) -> Route {
    Route {
        method,
        path: path.to_owned(),
        handler,
        doc: None,
    }
}

/// A route as listed: method, path, and whether the document has it.
pub(super) struct Listed {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub(super) method: &'static str,
    /// The path, axum syntax.
    pub(super) path: String,
    /// In the OpenAPI document (the JSON API), or the page's.
    pub(super) documented: bool,
}

/// Every route's method and path, in the table's order (read once).
pub(super) fn listed() -> &'static [Listed] {
    static LISTED: LazyLock<Vec<Listed>> = LazyLock::new(|| {
        table()
            .into_iter()
            .map(|r| Listed {
                method: r.method,
                documented: r.doc.is_some(),
                path: r.path,
            })
            .collect()
    });
    &LISTED
}

/// The routes, in the order the page and the document list them.
pub(super) fn table() -> Vec<Route> {
    vec![
        api(routes!(super::api::api_sign_in)),
        api(routes!(super::api::api_sign_out)),
        api(routes!(super::api::api_me)),
        api(routes!(super::api::api_programs)),
        api(routes!(super::api::api_participants)),
        api(routes!(super::api::api_hours)),
        api(routes!(super::api::api_set_hours)),
        api(routes!(super::api::api_status)),
        api(routes!(super::api::api_connect)),
        api(routes!(super::api::api_disconnect)),
        api(routes!(super::api::api_availability)),
        api(routes!(super::api::api_pairs)),
        api(routes!(super::api::api_slots)),
        api(routes!(super::api::api_groups)),
        api(routes!(super::polls::api_create_poll)),
        api(routes!(super::polls::api_polls)),
        api(routes!(super::polls::api_view_poll)),
        api(routes!(super::polls::api_answer_poll)),
        api(routes!(super::polls::api_close_poll)),
        api(routes!(super::polls::api_cancel_poll)),
        api(routes!(super::polls::api_book_poll)),
        api(routes!(super::polls::api_book_pair)),
        api(routes!(super::polls::api_bookings)),
        api(routes!(super::polls::api_booking)),
        api(routes!(super::polls::api_reschedule)),
        api(routes!(super::polls::api_cancel_booking)),
        api(routes!(super::api::oauth_callback)),
        // The administrator's API and page (`admin.rs`, `admin_page.rs`):
        // participants get 403 on every one.
        api(routes!(super::admin::admin_org_policy)),
        api(routes!(super::admin::admin_set_org_policy)),
        api(routes!(super::admin::admin_programs)),
        api(routes!(super::admin::admin_create_program)),
        api(routes!(super::admin::admin_program_policy)),
        api(routes!(super::admin::admin_set_program_policy)),
        api(routes!(super::admin::admin_connections)),
        api(routes!(super::admin::admin_add_participant)),
        api(routes!(super::admin::admin_add_pair)),
        api(routes!(super::admin::admin_add_group)),
        api(routes!(super::admin::admin_integrations)),
        api(routes!(super::admin::admin_enable_integration)),
        api(routes!(super::admin::admin_disable_integration)),
        page("GET", "/admin", get(page_admin)),
        page("POST", "/admin/policy", post(page_admin_org_policy)),
        page(
            "POST",
            "/admin/programs/{id}/policy",
            post(page_admin_program_policy),
        ),
        page(
            "POST",
            "/admin/integrations/{kind}",
            post(page_admin_enable),
        ),
        page(
            "POST",
            "/admin/integrations/{kind}/disable",
            post(page_admin_disable),
        ),
        api(routes!(super::openapi::openapi_json)),
        page("GET", "/", get(page_home)),
        page("POST", "/session", post(page_sign_in)),
        page("POST", "/logout", post(page_sign_out)),
        page("POST", "/connect/{provider}", post(page_connect)),
        page("POST", "/disconnect", post(page_disconnect)),
        page("POST", "/hours", post(page_hours)),
        page("GET", "/week/{id}", get(page_week)),
        page("POST", "/polls", post(page_poll)),
        page("GET", "/polls/{id}", get(page_poll_view)),
        page("POST", "/polls/{id}/answers", post(page_poll_answer)),
        page("POST", "/polls/{id}/book", post(page_poll_book)),
    ]
}
