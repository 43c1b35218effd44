//! Offer matching and task building (being written).
