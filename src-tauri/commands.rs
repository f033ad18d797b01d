//! Tauri commands the dashboard calls. Thin: each delegates to [`DesktopState`].

use switchyard_api_types::{CommandError, Overview};
use tauri::State;

use crate::state::DesktopState;

/// Everything the Overview page shows.
#[tauri::command]
pub(crate) fn get_overview(state: State<'_, DesktopState>) -> Result<Overview, CommandError> {
    state.overview().map_err(|error| CommandError {
        kind: "storage".into(),
        message: error.to_string(),
    })
}
