//! The one error type of the predictor.

use std::fmt;

/// Why runs could not be read or a law could not be fitted or used.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictError(pub String);

impl PredictError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        PredictError(message.into())
    }
}

impl fmt::Display for PredictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PredictError {}
