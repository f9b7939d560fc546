//! The scope canonicaliser: `ScopeSet::from_comma`, `from_space` and `from_names`.
//!
//! Input: the first byte picks the parser (`c` comma list, `s` space list, anything else:
//! names, one per line); the rest is the text. Every spelling is tried in every mode anyway,
//! the first byte only decides which one the cross-checks start from.
//!
//! Invariants: a parsed set holds at most 64 names, each non-empty, at most 128 bytes, from
//! `A-Z a-z 0-9 _ . : / -`, sorted and unique; its canonical forms are fixed points (parsing
//! `to_comma()`/`to_space()` gives the same set); a comma list that parses gives the same set as
//! the same list spaced; a refusal for too many names is always at the 65th.
#![no_main]

use ims_core::scope::{MAX_SCOPES, MAX_SCOPE_LEN};
use ims_core::{ScopeError, ScopeSet};
use libfuzzer_sys::fuzz_target;

fn safe(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_SCOPE_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:/-".contains(&b))
}

fn check(result: &Result<ScopeSet, ScopeError>) {
    let set = match result {
        Ok(set) => set,
        Err(ScopeError::TooMany(n)) => {
            assert_eq!(*n, MAX_SCOPES + 1);
            return;
        }
        Err(ScopeError::InvalidName(echo)) => {
            assert!(echo.chars().count() <= 64, "echo not truncated");
            assert!(
                !safe(echo) || echo.chars().count() == 64,
                "refused a safe name {echo:?}"
            );
            return;
        }
    };
    let names: Vec<&str> = set.iter().collect();
    assert!(names.len() <= MAX_SCOPES);
    assert!(names.iter().all(|n| safe(n)), "unsafe name in {names:?}");
    assert!(names.windows(2).all(|w| w[0] < w[1]), "not sorted/unique");
    assert_eq!(set.is_empty(), names.is_empty());
    let comma = set.to_comma();
    let space = set.to_space();
    assert_eq!(
        ScopeSet::from_comma(&comma).as_ref(),
        Ok(set),
        "to_comma not a fixed point"
    );
    assert_eq!(
        ScopeSet::from_space(&space).as_ref(),
        Ok(set),
        "to_space not a fixed point"
    );
    assert_eq!(ScopeSet::from_names(&names).as_ref(), Ok(set));
    assert_eq!(ScopeSet::from_names(names.iter().rev()).as_ref(), Ok(set));
    assert!(names.iter().all(|n| set.contains(n)));
    assert_eq!(comma.split(',').count(), names.len().max(1));
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let comma = ScopeSet::from_comma(text);
    let space = ScopeSet::from_space(text);
    let lines = ScopeSet::from_names(text.split('\n'));
    for r in [&comma, &space, &lines] {
        check(r);
    }
    // The same list with commas for spaces and spaces for commas.
    if let Ok(set) = &comma {
        let spaced = ScopeSet::from_space(&text.replace(',', " "));
        assert_eq!(spaced.as_ref(), Ok(set), "comma and space spellings differ");
    }
    if let Ok(set) = &space {
        let commaed = ScopeSet::from_comma(&text.replace(' ', ","));
        assert_eq!(
            commaed.as_ref(),
            Ok(set),
            "space and comma spellings differ"
        );
    }
    match mode {
        b'c' => {
            let _ = comma.map(|s| s.to_space());
        }
        b's' => {
            let _ = space.map(|s| s.to_comma());
        }
        _ => {
            let _ = lines;
        }
    }
});
