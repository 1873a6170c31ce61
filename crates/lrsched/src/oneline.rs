//! TODO: the one-line form.
