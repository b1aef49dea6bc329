//! The output guard: an answer leaves only if it leaks nothing, links only where allowed, and
//! fits WhatsApp's message size (split into several messages when it does not).
//!
//! Links are `https://…`, `www.…` and bare domains such as `loja.com.br/rastreio` (common
//! top-level domains only, so "pedido.pdf" is not a link); e-mail addresses are not links.

use std::collections::HashSet;

/// Characters of a forbidden text that, found verbatim in an answer, make a leak.
pub const LEAK_FRAGMENT_CHARS: usize = 24;

/// Forbidden texts shorter than [`LEAK_FRAGMENT_CHARS`] leak when they appear whole, unless they
/// are shorter than this (too common to mean anything).
const MIN_WHOLE_SECRET_CHARS: usize = 8;

/// What an answer may contain; one per tenant.
#[derive(Debug, Clone)]
pub struct OutputPolicy {
    /// Longest message in characters; longer answers are split. `0` means WhatsApp's 4096.
    pub max_chars: usize,
    /// Hosts links may point to; a host also allows its subdomains (`loja.com.br` allows
    /// `www.loja.com.br`, not `minhaloja.com.br`). `None` allows any link.
    pub url_allowlist: Option<Vec<String>>,
    /// Texts that must never reach a customer: the system prompt, secrets. Any fragment of
    /// [`LEAK_FRAGMENT_CHARS`] characters found in an answer (ignoring case and runs of
    /// whitespace) is a leak. Do not put knowledge answers here: quoting them is the job.
    pub forbidden: Vec<String>,
}

impl Default for OutputPolicy {
    fn default() -> Self {
        Self { max_chars: WHATSAPP_MAX_CHARS, url_allowlist: None, forbidden: Vec::new() }
    }
}

/// Why an answer was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputBlock {
    /// It contains part of the system prompt or a secret.
    Leak,
    /// It links to a host outside the allowlist.
    DisallowedUrl,
    /// Nothing but whitespace.
    Empty,
}

impl OutputBlock {
    /// Stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Leak => "leak",
            Self::DisallowedUrl => "disallowed_url",
            Self::Empty => "empty",
        }
    }
}

/// Checks an LLM answer against `policy`. `Ok` holds the WhatsApp messages to send, each at most
/// `max_chars` long, split on sentence boundaries (then word boundaries), trimmed, none empty.
pub fn check_output(text: &str, policy: &OutputPolicy) -> Result<Vec<String>, OutputBlock> {
    if text.trim().is_empty() {
        return Err(OutputBlock::Empty);
    }
    if leaks(text, &policy.forbidden) {
        return Err(OutputBlock::Leak);
    }
    if let Some(allowlist) = &policy.url_allowlist
        && hosts(text).iter().any(|host| !host_allowed(host, allowlist))
    {
        return Err(OutputBlock::DisallowedUrl);
    }
    Ok(split_message(text, policy.max_chars))
}

/// Whether `host` is an allowlisted host or one of its subdomains.
fn host_allowed(host: &str, allowlist: &[String]) -> bool {
    allowlist.iter().any(|entry| {
        let entry = entry.trim().trim_start_matches("*.").trim_end_matches('.').to_lowercase();
        !entry.is_empty() && (host == entry || host.strip_suffix(&entry).is_some_and(|sub| sub.ends_with('.')))
    })
}

fn leaks(answer: &str, forbidden: &[String]) -> bool {
    let answer = squeeze(answer);
    let windows = char_windows(&answer, LEAK_FRAGMENT_CHARS);
    forbidden.iter().map(|f| squeeze(f)).any(|f| {
        let len = f.chars().count();
        if len >= LEAK_FRAGMENT_CHARS {
            char_windows(&f, LEAK_FRAGMENT_CHARS).iter().any(|w| windows.contains(w))
        } else {
            len >= MIN_WHOLE_SECRET_CHARS && answer.contains(&f)
        }
    })
}

/// Lowercase with whitespace runs as one space, so reflowed text still matches.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Every substring of `size` characters.
fn char_windows(text: &str, size: usize) -> HashSet<&str> {
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    bounds.windows(size + 1).map(|w| &text[w[0]..w[size]]).collect()
}

/// WhatsApp's limit for one text message, in characters.
pub const WHATSAPP_MAX_CHARS: usize = 4096;

/// Splits `text` into messages of at most `max_chars` characters (`0` means
/// [`WHATSAPP_MAX_CHARS`]). Cuts prefer a paragraph break, then a line break, then a sentence end
/// (`.`, `!`, `?`, `…` before whitespace), then a space; a single word longer than the limit is
/// cut inside. Parts are trimmed; empty parts are dropped, so blank text gives no parts.
pub fn split_message(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = if max_chars == 0 { WHATSAPP_MAX_CHARS } else { max_chars };
    let mut parts = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((limit, _)) = rest.char_indices().nth(max_chars) else {
            parts.push(rest.to_string());
            break;
        };
        let cut = best_cut(&rest[..limit]).unwrap_or(limit);
        let part = rest[..cut].trim();
        if !part.is_empty() {
            parts.push(part.to_string());
        }
        rest = rest[cut..].trim_start();
    }
    parts
}

/// The byte index after the best boundary in `window` (whose length is the limit), if any.
fn best_cut(window: &str) -> Option<usize> {
    let chars: Vec<(usize, char)> = window.char_indices().collect();
    let after = |k: usize| chars.get(k + 1).map_or(window.len(), |(i, _)| *i);
    let last_where = |pred: &dyn Fn(usize) -> bool| (0..chars.len()).rev().find(|&k| pred(k)).map(after);
    let is_break = |k: usize| chars[k].1 == '\n';
    let paragraph = last_where(&|k| is_break(k) && k > 0 && is_break(k - 1));
    let line = last_where(&|k| is_break(k));
    let sentence = last_where(&|k| {
        matches!(chars[k].1, '.' | '!' | '?' | '…') && chars.get(k + 1).is_some_and(|(_, c)| c.is_whitespace())
    });
    let space = last_where(&|k| chars[k].1.is_whitespace());
    // A boundary in the first quarter would leave a tiny message; a later, weaker boundary is better.
    let min = window.len() / 4;
    [paragraph, line, sentence, space].into_iter().flatten().find(|&cut| cut > min)
}

/// Top-level domains a bare domain must end in to count as a link.
const BARE_TLDS: &[&str] = &[
    "com", "br", "net", "org", "io", "app", "dev", "me", "co", "info", "biz", "link", "ly", "gl", "xyz", "site",
    "online", "store", "shop", "ai", "tv", "us", "uk", "pt", "es", "de", "fr", "ar", "mx", "cl", "gov", "edu", "page",
    "tech", "club", "top", "live", "cc", "to", "sh", "gg", "click", "vip", "pro", "ru", "cn", "tk", "in", "eu", "it",
];

/// Hosts of every link in `text`, lowercase.
fn hosts(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '<' | '>' | '"' | '\'' | '{' | '}'))
        .filter_map(host_of)
        .collect()
}

fn host_of(word: &str) -> Option<String> {
    let word = word.to_lowercase();
    let word = word.trim_matches(|c: char| matches!(c, '.' | ',' | '!' | '?' | ':' | ';' | '*' | '_'));
    let (rest, explicit) = match word.split_once("://") {
        Some((scheme, rest)) if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) => (rest, true),
        _ => (word, word.starts_with("www.")),
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if !explicit && authority.contains('@') {
        return None;
    }
    let host = authority.rsplit('@').next()?;
    let host = host.split(':').next()?.trim_end_matches('.');
    let labels: Vec<&str> = host.split('.').collect();
    let well_formed =
        labels.len() >= 2 && labels.iter().all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    let tld = labels.last()?;
    let known = BARE_TLDS.contains(tld);
    match (explicit, well_formed) {
        (true, _) if !host.is_empty() => Some(host.to_string()),
        (false, true) if known => Some(host.to_string()),
        _ => None,
    }
}
