//! Structural isolation: customer text enters the prompt as data inside a fence it cannot close.

/// The fence's tag name; the prompt tells the model that text inside it is data.
pub const FENCE_TAG: &str = "customer_message";

/// Stands in for `<` when it opens something tag-like in customer text.
const OPEN_STAND_IN: char = '‹';

/// Stands in for the `>` that closes a neutralised tag.
const CLOSE_STAND_IN: char = '›';

/// Wraps customer text as data: `<customer_message>…</customer_message>`. Anything tag-like
/// inside (`</customer_message>`, `<system>`, `<|im_start|>`, fullwidth `＜…＞`) has its angle
/// brackets replaced by `‹ ›`, so it can neither close the fence nor forge another block. Other
/// text, "<3" and "a < b" included, is kept as written.
pub fn fence(text: &str) -> String {
    format!("<{FENCE_TAG}>\n{}\n</{FENCE_TAG}>", neutralise_tags(text))
}

fn neutralise_tags(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut open_tags = 0usize;
    for (i, &c) in chars.iter().enumerate() {
        if is_open(c) && opens_tag(&chars[i + 1..]) {
            out.push(OPEN_STAND_IN);
            open_tags += 1;
        } else if is_close(c) && open_tags > 0 {
            out.push(CLOSE_STAND_IN);
            open_tags -= 1;
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether what follows a `<` reads as the start of a tag: a letter, `/`, `|`, `!` or `?`,
/// possibly after spaces or invisible characters.
fn opens_tag(rest: &[char]) -> bool {
    rest.iter()
        .find(|c| !c.is_whitespace() && !super::normalize::is_invisible(**c))
        .is_some_and(|c| c.is_alphabetic() || matches!(c, '/' | '|' | '!' | '?' | '<' | '＜'))
}

/// `<` and the characters NFKC folds into it.
fn is_open(c: char) -> bool {
    matches!(c, '<' | '＜' | '﹤')
}

/// `>` and the characters NFKC folds into it.
fn is_close(c: char) -> bool {
    matches!(c, '>' | '＞' | '﹥')
}
