//! One module per dashboard screen.

pub(crate) mod overview;
