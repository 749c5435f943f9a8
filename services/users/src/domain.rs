//! The values an account is made of. Each type can only hold a valid value: parse once at the
//! edge of the service, then pass the type around.

use std::fmt;

use boxoffice_errors::Error;

/// The limits the gateway states in its OpenAPI document too, defined there once.
pub use boxoffice_types::limits::accounts::{
    EMAIL_MAX_CHARS, NAME_MAX_CHARS, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS,
};
/// RFC 5321: 64 characters for the local part of an address.
pub const EMAIL_LOCAL_PART_MAX_CHARS: usize = 64;

/// The most common passwords of breach corpora that satisfy the length rule; refusing them is
/// what NIST SP 800-63B asks instead of composition rules.
const COMMON_PASSWORDS: &[&str] = &[
    "12345678",
    "123456789",
    "1234567890",
    "password",
    "password1",
    "password123",
    "qwerty123",
    "qwertyuiop",
    "11111111",
    "00000000",
    "iloveyou",
    "abc12345",
    "1q2w3e4r",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "welcome1",
    "letmein1",
    "passw0rd",
    "12341234",
    "87654321",
    "qwerty12",
    "asdfghjkl",
    "trustno1",
    "superman",
    "starwars",
    "changeme",
];

/// A normalized email address: trimmed and in lower case, so that one mailbox is one account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, Error> {
        let email = input.trim().to_lowercase();
        let invalid = |why: &str| Error::validation(format!("email: {why}"));
        if email.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if email.chars().count() > EMAIL_MAX_CHARS {
            return Err(invalid(&format!("must be at most {EMAIL_MAX_CHARS} characters")));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces or control characters"));
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid("must contain an @"));
        };
        if local.is_empty() || local.chars().count() > EMAIL_LOCAL_PART_MAX_CHARS {
            return Err(invalid("the part before the @ must be 1 to 64 characters"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid("the part before the @ has misplaced dots"));
        }
        if local
            .chars()
            .any(|c| matches!(c, '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | '\\' | ']'))
        {
            return Err(invalid("the part before the @ contains a character that is not allowed"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |label: &&str| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(invalid("the domain after the @ is not valid"));
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password that meets the rules. It is never logged: `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Checks a new password. `field` names it in the error (`password`, `new_password`).
    pub fn parse(input: &str, field: &str) -> Result<Password, Error> {
        let chars = input.chars().count();
        if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
            return Err(Error::validation(format!(
                "{field}: must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters"
            )));
        }
        if input.chars().any(char::is_control) {
            return Err(Error::validation(format!("{field}: must not contain control characters")));
        }
        let lowered = input.to_lowercase();
        let mut distinct = lowered.chars().collect::<Vec<_>>();
        distinct.sort_unstable();
        distinct.dedup();
        if COMMON_PASSWORDS.contains(&lowered.as_str()) || distinct.len() < 3 {
            return Err(Error::validation(format!(
                "{field}: is too easy to guess; choose a longer or less common password"
            )));
        }
        Ok(Password(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A first or last name: trimmed, 1 to 100 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str, field: &str) -> Result<PersonName, Error> {
        let name = input.trim();
        if name.is_empty() {
            return Err(Error::validation(format!("{field}: must not be empty")));
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(Error::validation(format!("{field}: must be at most {NAME_MAX_CHARS} characters")));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::validation(format!("{field}: must not contain control characters")));
        }
        Ok(PersonName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_are_normalized() {
        assert_eq!(Email::parse("  Ada@Example.COM ").unwrap().as_str(), "ada@example.com");
        assert_eq!(Email::parse("a.b+tag@sub.example.org").unwrap().as_str(), "a.b+tag@sub.example.org");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@@example.com",
            "a b@example.com",
            "ada@exa mple.com",
            ".ada@example.com",
            "ada.@example.com",
            "a..b@example.com",
            "ada@-example.com",
            "ada@example..com",
            "ada@exam\nple.com",
            "a<b@example.com",
        ] {
            let error = Email::parse(bad).expect_err(bad);
            assert!(error.detail.starts_with("email:"), "{bad}: {}", error.detail);
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
        let long = format!("a@{}.com", "b".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn passwords_follow_the_length_rule() {
        assert!(Password::parse("correct horse", "password").is_ok());
        assert!(Password::parse("short1!", "password").is_err());
        assert!(Password::parse(&"ab1".repeat(43), "password").is_err(), "129 characters");
        assert!(Password::parse(&"ab1".repeat(42), "password").is_ok(), "126 characters");
        // Eight characters, counted as characters rather than bytes.
        assert!(Password::parse("éàüöäëï1", "password").is_ok());
    }

    #[test]
    fn guessable_passwords_are_refused() {
        for weak in ["password", "PASSWORD1", "12345678", "aaaaaaaaaaaa", "abababab"] {
            let error = Password::parse(weak, "new_password").expect_err(weak);
            assert!(error.detail.starts_with("new_password:"));
        }
    }

    #[test]
    fn passwords_do_not_show_in_debug_output() {
        let password = Password::parse("a secret phrase", "password").unwrap();
        assert!(!format!("{password:?}").contains("secret"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PersonName::parse("  Ada ", "first_name").unwrap().as_str(), "Ada");
        assert!(PersonName::parse("   ", "first_name").is_err());
        assert!(PersonName::parse(&"x".repeat(101), "last_name").is_err());
        assert!(PersonName::parse("Ada\u{0}", "last_name").is_err());
        assert!(PersonName::parse("Zoë O'Brien-Łukasz", "last_name").is_ok());
    }

    proptest! {
        #[test]
        fn a_parsed_email_parses_to_itself(local in "[a-z0-9][a-z0-9._+-]{0,20}[a-z0-9]", domain in "[a-z0-9]{1,10}\\.[a-z]{2,6}") {
            prop_assume!(!local.contains(".."));
            let email = Email::parse(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
        }

        #[test]
        fn email_parsing_never_panics_and_accepts_only_one_at(input in "\\PC{0,300}") {
            if let Ok(email) = Email::parse(&input) {
                prop_assert_eq!(email.as_str().matches('@').count(), 1);
                prop_assert!(email.as_str().chars().count() <= EMAIL_MAX_CHARS);
            }
        }

        #[test]
        fn accepted_passwords_are_within_the_limits(input in "\\PC{0,200}") {
            if let Ok(password) = Password::parse(&input, "password") {
                let chars = password.expose().chars().count();
                prop_assert!((PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars));
            }
        }

        #[test]
        fn accepted_names_are_trimmed_and_within_the_limit(input in "\\PC{0,150}") {
            if let Ok(name) = PersonName::parse(&input, "first_name") {
                prop_assert_eq!(name.as_str(), name.as_str().trim());
                prop_assert!(!name.as_str().is_empty());
                prop_assert!(name.as_str().chars().count() <= NAME_MAX_CHARS);
            }
        }
    }
}
