//! Which caller a token is: the claims it must carry, as Vault's `bound_claims` with
//! `bound_claims_type=glob`.

use super::*;

/// The claims a token must carry to be a given caller, as Vault's `bound_claims` with
/// `bound_claims_type=glob`: claim name → alternatives, where `*` matches any run of characters
/// (`/` included) and no other character is special.
///
/// Note that `*` also matches the empty string: Cloudflare Access service tokens have an empty
/// `sub` and name the service token in `common_name`, so bind `common_name` for them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BoundClaims(BTreeMap<String, NonEmptyStrings>);

impl BoundClaims {
    /// Reads bound claims from a JSON value, refusing anything but an object of claim name → a
    /// string or a non-empty list of strings, and refusing an empty object (it would match every
    /// token). The error quotes no value.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let bound = Self::deserialize(value).map_err(|_| {
            "bound claims must be an object of claim name to a string or a non-empty list of strings"
                .to_owned()
        })?;
        if bound.0.is_empty() {
            return Err("bound claims must bind at least one claim".to_owned());
        }
        Ok(bound)
    }

    /// The bound claims: name → alternatives.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(n, a)| (n.as_str(), a.as_slice()))
    }

    /// True when every bound claim is in `claims` as a string (or a list of strings, one of
    /// which is enough) matching one of its alternatives.
    pub fn matches(&self, claims: &Map<String, Value>) -> bool {
        self.iter().all(|(name, alternatives)| {
            let fits = |v: &Value| {
                v.as_str()
                    .is_some_and(|s| alternatives.iter().any(|g| glob_match(g, s)))
            };
            match claims.get(name) {
                Some(Value::Array(list)) => list.iter().any(fits),
                Some(v) => fits(v),
                None => false,
            }
        })
    }
}

/// True when `text` matches `pattern`, where `*` matches any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // The last `*` seen, and where in `text` its run ends for now.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

/// True when some string could match both globs. Exact when one has no `*`; for two globs,
/// conservative: they overlap unless their fixed prefixes (before the first `*`) or suffixes
/// (after the last) are incompatible.
fn globs_overlap(a: &str, b: &str) -> bool {
    match (a.contains('*'), b.contains('*')) {
        (false, false) => a == b,
        (false, true) => glob_match(b, a),
        (true, false) => glob_match(a, b),
        (true, true) => {
            let prefix = |g: &str| g.split('*').next().unwrap_or("").to_owned();
            let suffix = |g: &str| g.rsplit('*').next().unwrap_or("").to_owned();
            let (pa, pb) = (prefix(a), prefix(b));
            let (sa, sb) = (suffix(a), suffix(b));
            (pa.starts_with(&pb) || pb.starts_with(&pa)) && (sa.ends_with(&sb) || sb.ends_with(&sa))
        }
    }
}

/// True when some token could satisfy both `a` and `b` (conservatively: true unless a claim
/// bound in both has alternatives that can never match the same string). Two caller entries of
/// one issuer must not overlap: a token must name one caller.
///
/// A claim the token carries as a list (e.g. `groups`) can match different alternatives with
/// different elements, so disjoint alternatives keep two entries apart only through claims that
/// are single strings (`sub`, `repository`, `common_name`, …).
pub fn overlap(a: &BoundClaims, b: &BoundClaims) -> bool {
    a.0.iter().all(|(name, alts_a)| match b.0.get(name) {
        None => true,
        Some(alts_b) => alts_a
            .as_slice()
            .iter()
            .any(|x| alts_b.as_slice().iter().any(|y| globs_overlap(x, y))),
    })
}
