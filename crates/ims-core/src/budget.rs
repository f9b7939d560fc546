//! The per-caller budget of new scope sets: how many tokens for scope sets not yet cached one
//! caller may cause to be minted per minute, per instance.
//!
//! Adobe throttles a client id that mints too often ("can throttle your integration if it
//! generates too many access tokens"), and every caller of a credential shares its client id. A
//! caller that asks for a new scope set on every request would make the broker mint on every
//! request and could get the credential throttled for everyone. Cache hits cost Adobe nothing and
//! are never limited; only mints are counted, in a sliding window of [`WINDOW_MS`], and a scope
//! set counts once per window however many requests waited for its mint (or retried it).

use std::collections::{HashMap, VecDeque};

/// The window the budget counts over, ms.
pub const WINDOW_MS: u64 = 60_000;
/// Default mints of new scope sets per caller and window (`MAX_NEW_SCOPE_SETS_PER_MIN`).
pub const DEFAULT_PER_MIN: u32 = 10;

/// Mints of new scope sets per caller in the last [`WINDOW_MS`]. One per instance; memory is
/// bounded by the number of configured callers times the budget.
#[derive(Debug, Default)]
pub struct MissBudget {
    spent: HashMap<String, VecDeque<(u64, String)>>,
}

impl MissBudget {
    /// An empty budget.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Ok` when `caller` may cause a mint of the token under cache key `key` at `now` with a
    /// budget of `per_min`: the key is already counted in the window, or the budget is not spent.
    /// Else the seconds until it may (for `Retry-After`, at least 1).
    pub fn check(&mut self, caller: &str, key: &str, per_min: u32, now: u64) -> Result<(), u64> {
        let Some(spent) = self.spent.get_mut(caller) else {
            return if per_min == 0 { Err(1) } else { Ok(()) };
        };
        while spent.front().is_some_and(|(t, _)| t + WINDOW_MS <= now) {
            spent.pop_front();
        }
        if spent.len() < per_min as usize || spent.iter().any(|(_, k)| k == key) {
            return Ok(());
        }
        // The oldest mint that keeps the count at the budget leaves the window first.
        let oldest = spent
            .get(spent.len() - per_min as usize)
            .map_or(now, |(t, _)| *t);
        Err((oldest + WINDOW_MS)
            .saturating_sub(now)
            .div_ceil(1000)
            .max(1))
    }

    /// Counts a mint of the token under `key` caused by `caller` at `now` (once per window).
    pub fn spend(&mut self, caller: &str, key: &str, now: u64) {
        let spent = self.spent.entry(caller.to_owned()).or_default();
        if !spent.iter().any(|(_, k)| k == key) {
            spent.push_back((now, key.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_gets_its_budget_per_minute_and_others_are_unaffected() {
        let mut b = MissBudget::new();
        let t0 = 1_000_000;
        for i in 0..10u64 {
            let key = format!("k{i}");
            assert_eq!(b.check("a", &key, 10, t0 + i), Ok(()), "mint {i}");
            b.spend("a", &key, t0 + i);
            b.spend("a", &key, t0 + i);
        }
        // The 11th new set: refused until the first mint leaves the window.
        assert_eq!(b.check("a", "k10", 10, t0 + 10), Err(60));
        assert_eq!(b.check("a", "k10", 10, t0 + 30_500), Err(30));
        // A set already counted (a retry, or a request that waited for the mint) is not new.
        assert_eq!(b.check("a", "k3", 10, t0 + 30_500), Ok(()));
        assert_eq!(b.check("b", "k10", 10, t0 + 10), Ok(()), "another caller");
        assert_eq!(
            b.check("a", "k10", 10, t0 + WINDOW_MS),
            Ok(()),
            "one left the window"
        );
        b.spend("a", "k10", t0 + WINDOW_MS);
        assert_eq!(b.check("a", "k11", 10, t0 + WINDOW_MS), Err(1));
    }

    #[test]
    fn a_budget_of_zero_refuses_every_mint() {
        let mut b = MissBudget::new();
        assert_eq!(b.check("a", "k", 0, 5), Err(1));
    }
}
