//! `POST /v1/password/check`: the app checks a new password as it is typed, under the
//! policy the decision named (see [`crate::password`] for the rules themselves).

use serde::{Deserialize, Serialize};

use crate::password::PasswordProblem;

/// The request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordCheckRequest {
    pub grant: String,
    pub password: String,
}

super::debug_without_secrets!(PasswordCheckRequest {} secret { grant, password });

/// One reason a password is refused, said plainly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A stable code (`password_too_short`, `password_common`, ...).
    pub code: String,
    pub message: String,
}

impl From<&PasswordProblem> for Problem {
    fn from(p: &PasswordProblem) -> Problem {
        Problem {
            code: p.code().to_string(),
            message: p.message(),
        }
    }
}

/// The answer: acceptable when there is no problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordCheckAnswer {
    pub acceptable: bool,
    pub problems: Vec<Problem>,
}

impl PasswordCheckAnswer {
    pub fn of(problems: &[PasswordProblem]) -> PasswordCheckAnswer {
        PasswordCheckAnswer {
            acceptable: problems.is_empty(),
            problems: problems.iter().map(Problem::from).collect(),
        }
    }
}
