//! Switchyard's configuration, apart from serving: the known settings and
//! how the listening address is chosen (`settings`), the versioned document
//! export and import and the 9router mapping (`transfer`), API-key provider
//! presets and model-list fetching (`presets`), the built-in price table
//! and cost (`pricing`), and the input checks the CLI, the desktop and
//! imports share (`validate`).

pub mod capabilities;
pub mod presets;
pub mod pricing;
pub mod settings;
pub mod transfer;
pub mod validate;

pub use settings::{ListenAddress, Settings};
