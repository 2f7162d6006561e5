//! Live consultations (being built).

use crate::state::AppState;
use actix_web::web;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi()]
pub struct ApiDoc;

pub fn routes(_cfg: &mut web::ServiceConfig) {}

pub fn start(_runtime: &mut platform::runtime::Runtime, _state: web::Data<AppState>) {}
