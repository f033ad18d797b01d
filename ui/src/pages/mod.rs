//! One module per page.

pub(crate) mod combos;
pub(crate) mod logs;
pub(crate) mod overview;
pub(crate) mod providers;
pub(crate) mod quota;
pub(crate) mod settings;
pub(crate) mod usage;
