//! Lead details from free text (being written).
