//! Text folding for detection: what a message says once its disguises are taken off.
//!
//! Detectors never run on raw text. [`plain`] is what a reader sees literally; [`normalize`]
//! also undoes invisible characters, lookalike letters and spaced-out words; [`unleet`] and
//! [`compact`] are further variants for leetspeak and fully spaced sentences.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Spaced-out runs shorter than this stay as they are ("e o a" is Portuguese, not a disguise).
const MIN_SPACED_LETTERS: usize = 3;

/// Separators an attacker puts between letters: "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e".
const LETTER_SEPARATORS: &[char] = &[' ', '.', '-', '_', '*', '·', '/', '|', '+', ','];

/// Folds text for detection: NFKC, invisible characters removed, lookalike Cyrillic/Greek letters
/// mapped to Latin, lowercase, accents folded, letters split by spaces or dots joined back
/// ("i g n o r e" → "ignore"; two spaces still separate words), and whitespace collapsed (runs
/// holding a line break become one `\n`, others one space). Leetspeak is undone separately.
pub fn normalize(text: &str) -> String {
    fold(text).text
}

/// [`normalize`]'s result, and whether letters had to be joined back.
pub(crate) struct Folded {
    /// The normalised text.
    pub text: String,
    /// A run of single letters was joined: the sender may have spaced out a whole sentence.
    pub joined: bool,
}

/// [`normalize`], telling whether spaced-out letters were joined.
pub(crate) fn fold(text: &str) -> Folded {
    let mapped: String =
        text.nfkc().filter(|c| !is_invisible(*c)).map(unconfuse).flat_map(char::to_lowercase).collect();
    let (joined_text, joined) = join_spaced_letters(&fold_accents(&mapped));
    Folded { text: collapse_whitespace(&joined_text), joined }
}

/// The text as a reader sees it: lowercase, accents folded, whitespace collapsed. Invisible and
/// lookalike characters stay, so words disguised with them do not read as the word.
pub(crate) fn plain(text: &str) -> String {
    collapse_whitespace(&fold_accents(&text.to_lowercase()))
}

/// Undoes simple leetspeak (0→o, 1→i, 3→e, 4→a, 5→s, 7→t, @→a, $→s) inside words that mix
/// letters with those symbols; plain numbers ("pedido 123") stay as they are.
pub(crate) fn unleet(normalized: &str) -> String {
    let mut out = String::with_capacity(normalized.len());
    let mut word = String::new();
    for c in normalized.chars() {
        if c.is_alphanumeric() || c == '@' || c == '$' {
            word.push(c);
        } else {
            push_unleeted(&mut out, &word);
            word.clear();
            out.push(c);
        }
    }
    push_unleeted(&mut out, &word);
    out
}

fn push_unleeted(out: &mut String, word: &str) {
    let has_letter = word.chars().any(char::is_alphabetic);
    let has_leet = word.chars().any(|c| leet(c).is_some());
    if has_letter && has_leet {
        out.extend(word.chars().map(|c| leet(c).unwrap_or(c)));
    } else {
        out.push_str(word);
    }
}

fn leet(c: char) -> Option<char> {
    Some(match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '@' => 'a',
        '$' => 's',
        _ => return None,
    })
}

/// Letters and digits only: "i g n o r e a l l" spaced with single spaces reads "ignoreall".
pub(crate) fn compact(normalized: &str) -> String {
    normalized.chars().filter(|c| c.is_alphanumeric()).collect()
}

/// Zero-width, bidi control, soft hyphen, variation selector and tag characters.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}' | '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{E0000}'..='\u{E007F}')
}

/// Invisible characters that only a disguise needs: inside a word, bidi overrides, tag characters.
/// A zero-width joiner inside an emoji sequence (👨‍👩‍👧) does not count.
pub(crate) fn suspicious_invisibles(text: &str) -> usize {
    let chars: Vec<char> = text.chars().collect();
    let visible_near = |from: usize, step: isize| -> Option<char> {
        let mut i = from as isize + step;
        while i >= 0 && (i as usize) < chars.len() {
            let c = chars[i as usize];
            if !is_invisible(c) {
                return Some(c);
            }
            i += step;
        }
        None
    };
    (0..chars.len())
        .filter(|&i| match chars[i] {
            '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{E0000}'..='\u{E007F}' => true,
            '\u{FE00}'..='\u{FE0F}' => false,
            c if is_invisible(c) => {
                let inside = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
                inside(visible_near(i, -1)) && inside(visible_near(i, 1))
            }
            _ => false,
        })
        .count()
}

/// Maps Cyrillic, Greek and other lookalikes of Latin letters to the Latin letter.
fn unconfuse(c: char) -> char {
    match c {
        'а' | 'А' | 'α' | 'Α' | 'ɑ' => 'a',
        'в' | 'В' | 'Β' | 'β' | 'ь' | 'Ь' => 'b',
        'с' | 'С' | 'ϲ' | 'Ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'Е' | 'ё' | 'Ё' | 'ε' | 'Ε' => 'e',
        'ɡ' => 'g',
        'һ' | 'Һ' | 'н' | 'Н' | 'Η' | 'հ' => 'h',
        'і' | 'І' | 'ї' | 'Ї' | 'ι' | 'Ι' | 'ı' | 'ӏ' => 'i',
        'ј' | 'Ј' => 'j',
        'к' | 'К' | 'κ' | 'Κ' => 'k',
        'Ӏ' => 'l',
        'м' | 'М' | 'Μ' => 'm',
        'п' | 'η' | 'Ν' | 'ո' => 'n',
        'о' | 'О' | 'ο' | 'Ο' | 'օ' => 'o',
        'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
        'ԛ' => 'q',
        'г' => 'r',
        'ѕ' | 'Ѕ' => 's',
        'т' | 'Т' | 'τ' | 'Τ' => 't',
        'υ' | 'ս' => 'u',
        'ν' => 'v',
        'ԝ' | 'Ԝ' | 'ω' => 'w',
        'х' | 'Х' | 'χ' | 'Χ' => 'x',
        'у' | 'У' | 'Υ' => 'y',
        'Ζ' => 'z',
        _ => c,
    }
}

fn fold_accents(text: &str) -> String {
    text.nfd().filter(|c| !is_combining_mark(*c)).collect()
}

/// Joins runs of at least [`MIN_SPACED_LETTERS`] single letters split by one separator
/// (optionally followed by a space: "i. g. n"). Two spaces still separate words.
fn join_spaced_letters(text: &str) -> (String, bool) {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut joined = false;
    let mut i = 0;
    while i < chars.len() {
        match spaced_run(&chars, i) {
            Some((letters, end)) => {
                out.extend(letters);
                joined = true;
                i = end;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    (out, joined)
}

/// The letters of a spaced run starting at `start`, and the index just past its last letter.
fn spaced_run(chars: &[char], start: usize) -> Option<(Vec<char>, usize)> {
    let alnum = |i: usize| chars.get(i).is_some_and(|c| c.is_alphanumeric());
    let single = |i: usize| alnum(i) && !alnum(i + 1) && (i == 0 || !alnum(i - 1));
    if !single(start) {
        return None;
    }
    let mut letters = vec![chars[start]];
    let mut at = start;
    loop {
        let sep = chars.get(at + 1).copied();
        let next = match (sep, chars.get(at + 2)) {
            (Some(s), _) if !LETTER_SEPARATORS.contains(&s) => break,
            (Some(' '), Some(' ')) => break,
            (Some(s), Some(' ')) if s != ' ' => at + 3,
            (Some(_), _) => at + 2,
            (None, _) => break,
        };
        if !single(next) {
            break;
        }
        letters.push(chars[next]);
        at = next;
    }
    (letters.len() >= MIN_SPACED_LETTERS).then_some((letters, at + 1))
}

/// Runs of whitespace become one space, or one `\n` when they hold a line break; ends trimmed.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending: Option<char> = None;
    for c in text.chars() {
        if c == '\n' {
            pending = Some('\n');
        } else if c.is_whitespace() {
            pending.get_or_insert(' ');
        } else {
            if let Some(ws) = pending.take().filter(|_| !out.is_empty()) {
                out.push(ws);
            }
            out.push(c);
        }
    }
    out
}
