//! Enums that the API, the databases and the logs know by a lower-case name.

/// A text that names none of an enum's values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{text}`; expected one of {expected}")]
pub struct UnknownName {
    pub what: &'static str,
    pub text: String,
    pub expected: String,
}

/// Defines an enum whose every value has one name: `as_str`, `parse` (`FromStr`), `ALL`,
/// `Display` and serde all use it, so the name is written once.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            // `tt`, not `literal`: utoipa's derive reads `#[serde(rename = ...)]` only when the
            // name reaches it as a plain string token, not wrapped as a captured literal.
            $( $(#[$doc:meta])* $variant:ident => $text:tt, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        $vis enum $name {
            $( $(#[$doc])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name the API, the databases and the logs use.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// The value with this exact name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The names of every value, for error messages: "a, b or c".
            pub fn names() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|value| value.as_str()).collect();
                match names.split_last() {
                    Some((last, [])) => (*last).to_owned(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => String::new(),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::names::UnknownName;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text).ok_or_else(|| $crate::names::UnknownName {
                    what: $what,
                    text: text.to_owned(),
                    expected: Self::names(),
                })
            }
        }
    };
}

pub(crate) use named_enum;
