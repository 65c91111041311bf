//! The full-text index: a tokenizer configured by the index's parameters and
//! an inverted index from token to points.
//!
//! Tokenizers follow Qdrant 1.18 (`lib/segment/src/index/field_index/
//! full_text_index/tokenizers/`): `word` splits on every character that is
//! not alphanumeric, `whitespace` on whitespace, `prefix` splits like `word`
//! and indexes every prefix of every word (a query word is one token, cut to
//! `max_token_len`), and `multilingual` is treated as `word` (Qdrant segments
//! CJK and Thai text with dictionaries Osprey does not carry). Tokens are
//! lowercased unless `lowercase: false`, then custom stopwords are dropped,
//! then tokens shorter than `min_token_len` or longer than `max_token_len`
//! characters. Stemmers, ASCII folding and stopword languages are not
//! applied.
//!
//! A point's document is every token of every string at the field, so
//! `text` matches when each query token is somewhere in it, `text_any` when
//! one is, and `phrase` when the query's tokens appear in order, one after
//! the other, in the strings read in order. An empty query matches nothing.

use std::collections::{BTreeSet, HashSet};

use serde::Deserialize;
use serde_json::Value;

use super::maps::{MapIndex, Postings};

/// Which text match a condition asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextQuery {
    /// `text`: every token.
    All,
    /// `text_any`: at least one token.
    Any,
    /// `phrase`: the tokens in order, adjacent.
    Phrase,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum TokenizerKind {
    Prefix,
    Whitespace,
    #[default]
    Word,
    Multilingual,
}

/// How a full-text index splits text into tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokenizer {
    kind: TokenizerKind,
    lowercase: bool,
    min_token_len: Option<usize>,
    max_token_len: Option<usize>,
    stopwords: BTreeSet<String>,
}

/// The parameters of a `text` index as Qdrant's REST API spells them;
/// unknown keys (`on_disk`, `stemmer`, ...) are ignored.
#[derive(Deserialize)]
struct TextParams {
    #[serde(default)]
    tokenizer: Option<TokenizerKind>,
    #[serde(default)]
    min_token_len: Option<usize>,
    #[serde(default)]
    max_token_len: Option<usize>,
    #[serde(default)]
    lowercase: Option<bool>,
    #[serde(default)]
    stopwords: Option<Value>,
}

impl Tokenizer {
    /// The tokenizer of a `text` index's parameters (`None`: the defaults).
    pub(crate) fn from_params(params: Option<&Value>) -> Result<Tokenizer, String> {
        let Some(params) = params else {
            return Ok(Tokenizer::default());
        };
        let p = TextParams::deserialize(params).map_err(|e| format!("invalid text index parameters: {e}"))?;
        let lowercase = p.lowercase.unwrap_or(true);
        // `"english"` or `{"languages": [..], "custom": [..]}`: only custom words are known here.
        let stopwords = p
            .stopwords
            .as_ref()
            .and_then(|s| s.get("custom"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|w| if lowercase { w.to_lowercase() } else { w.to_string() })
            .collect();
        Ok(Tokenizer {
            kind: p.tokenizer.unwrap_or_default(),
            lowercase,
            min_token_len: p.min_token_len,
            max_token_len: p.max_token_len,
            stopwords,
        })
    }

    /// Lowercasing, stopwords and length limits on one raw token.
    fn process(&self, token: &str, check_max: bool) -> Option<String> {
        if token.is_empty() {
            return None;
        }
        let token = if self.lowercase { token.to_lowercase() } else { token.to_string() };
        if self.stopwords.contains(&token) {
            return None;
        }
        let chars = token.chars().count();
        if self.min_token_len.is_some_and(|min| chars < min)
            || (check_max && self.max_token_len.is_some_and(|max| chars > max))
        {
            return None;
        }
        Some(token)
    }

    fn words(text: &str) -> impl Iterator<Item = &str> {
        text.split(|c: char| !c.is_alphanumeric())
    }

    /// The tokens of a stored text, in order (the prefix tokenizer gives every
    /// prefix of a word, shortest first).
    pub(crate) fn doc_tokens(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        match self.kind {
            TokenizerKind::Whitespace => {
                out.extend(text.split_whitespace().filter_map(|t| self.process(t, true)));
            }
            TokenizerKind::Word | TokenizerKind::Multilingual => {
                out.extend(Self::words(text).filter_map(|t| self.process(t, true)));
            }
            TokenizerKind::Prefix => {
                let min = self.min_token_len.unwrap_or(1).max(1);
                let max = self.max_token_len.unwrap_or(usize::MAX);
                for word in Self::words(text).filter_map(|w| self.process(w, false)) {
                    let len = word.chars().count();
                    for n in min..=max {
                        if n >= len {
                            out.push(word);
                            break;
                        }
                        out.push(prefix(&word, n).to_string());
                    }
                }
            }
        }
        out
    }

    /// The tokens of a `text` / `text_any` query. Same as a document's,
    /// except that a prefix query word is one token (cut to `max_token_len`)
    /// and is not dropped as a stopword: it may be the start of a longer word.
    pub(crate) fn query_tokens(&self, text: &str) -> Vec<String> {
        if self.kind != TokenizerKind::Prefix {
            return self.doc_tokens(text);
        }
        let max = self.max_token_len.unwrap_or(usize::MAX);
        Self::words(text)
            .filter(|w| !w.is_empty())
            .filter_map(|w| {
                let w = if self.lowercase { w.to_lowercase() } else { w.to_string() };
                if self.min_token_len.is_some_and(|min| w.chars().count() < min) {
                    return None;
                }
                Some(prefix(&w, max).to_string())
            })
            .collect()
    }

    /// The tokens the index must hold for a point to match the query: all of
    /// them for `text` and `phrase` (a phrase is tokenized like a document, as
    /// Qdrant does), any for `text_any`.
    pub(crate) fn query(&self, kind: TextQuery, text: &str) -> Vec<String> {
        let mut tokens = match kind {
            TextQuery::All | TextQuery::Any => self.query_tokens(text),
            TextQuery::Phrase => self.doc_tokens(text),
        };
        tokens.sort();
        tokens.dedup();
        tokens
    }

    /// Whether the strings of one field match a text condition read through
    /// this tokenizer.
    pub(crate) fn matches(&self, kind: TextQuery, query: &str, strings: &[&str]) -> bool {
        match kind {
            TextQuery::All | TextQuery::Any => {
                let wanted = self.query(kind, query);
                if wanted.is_empty() {
                    return false;
                }
                let doc: HashSet<String> = strings.iter().flat_map(|s| self.doc_tokens(s)).collect();
                if kind == TextQuery::All {
                    wanted.iter().all(|t| doc.contains(t))
                } else {
                    wanted.iter().any(|t| doc.contains(t))
                }
            }
            TextQuery::Phrase => {
                let phrase = self.doc_tokens(query);
                if phrase.is_empty() {
                    return false;
                }
                let doc: Vec<String> = strings.iter().flat_map(|s| self.doc_tokens(s)).collect();
                doc.windows(phrase.len()).any(|w| w == phrase.as_slice())
            }
        }
    }
}

impl Default for Tokenizer {
    fn default() -> Self {
        Tokenizer {
            kind: TokenizerKind::Word,
            lowercase: true,
            min_token_len: None,
            max_token_len: None,
            stopwords: BTreeSet::new(),
        }
    }
}

/// The first `n` characters of `s` (all of it when shorter).
fn prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

/// Token -> points holding it somewhere in the field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextIndex {
    pub tokenizer: Tokenizer,
    tokens: MapIndex<String>,
}

impl TextIndex {
    pub fn new(tokenizer: Tokenizer) -> Self {
        TextIndex { tokenizer, tokens: MapIndex::default() }
    }

    fn document(&self, strings: &[&str]) -> BTreeSet<String> {
        strings.iter().flat_map(|s| self.tokenizer.doc_tokens(s)).collect()
    }

    pub fn add(&mut self, offset: u32, strings: &[&str]) {
        for token in self.document(strings) {
            self.tokens.insert(token, offset);
        }
    }

    pub fn remove(&mut self, offset: u32, strings: &[&str]) {
        for token in self.document(strings) {
            self.tokens.remove(token.as_str(), offset);
        }
    }

    /// The lists of the query's tokens; `None` for a token no point has.
    pub fn postings(&self, tokens: &[String]) -> Vec<Option<&Postings>> {
        tokens.iter().map(|t| self.tokens.get(t.as_str())).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tok(params: Value) -> Tokenizer {
        Tokenizer::from_params(Some(&params)).unwrap()
    }

    /// Prevents the tokenizers drifting from Qdrant's (its own unit tests'
    /// inputs and answers).
    #[test]
    fn tokenizers_split_like_qdrant() {
        let word = tok(json!({"type": "text"}));
        assert_eq!(word.doc_tokens("hello, world! Привет, мир!"), ["hello", "world", "привет", "мир"]);
        let cased = tok(json!({"type": "text", "tokenizer": "word", "lowercase": false}));
        assert_eq!(cased.doc_tokens("Hello, Мир!"), ["Hello", "Мир"]);
        let ws = tok(json!({"type": "text", "tokenizer": "whitespace"}));
        assert_eq!(ws.doc_tokens("hello world  a-b,c"), ["hello", "world", "a-b,c"]);
        let prefix = tok(json!({"type": "text", "tokenizer": "prefix", "min_token_len": 1, "max_token_len": 4}));
        assert_eq!(prefix.doc_tokens("hello, мир!"), ["h", "he", "hel", "hell", "м", "ми", "мир"]);
        assert_eq!(prefix.query_tokens("hello, мир!"), ["hell", "мир"]);
        let multi = tok(json!({"type": "text", "tokenizer": "multilingual"}));
        assert_eq!(multi.doc_tokens("What are you waiting for?"), ["what", "are", "you", "waiting", "for"]);
    }

    /// Prevents length limits and stopwords applying to the wrong tokens.
    #[test]
    fn lengths_and_stopwords() {
        let t = tok(json!({"type": "text", "min_token_len": 2, "max_token_len": 5, "stopwords": {"custom": ["The"]}}));
        assert_eq!(t.doc_tokens("The a cat jumped over"), ["cat", "over"]);
        let p = tok(json!({"type": "text", "tokenizer": "prefix", "min_token_len": 2, "max_token_len": 3}));
        assert_eq!(p.doc_tokens("a quick"), ["qu", "qui"]);
        assert_eq!(p.query_tokens("a quick qu"), ["qui", "qu"]);
        assert!(Tokenizer::from_params(Some(&json!({"type": "text", "tokenizer": "nope"}))).is_err());
    }

    /// Prevents the index's match semantics drifting from Qdrant's: all tokens
    /// for `text`, any for `text_any`, ordered and adjacent for `phrase`, an
    /// empty query matching nothing, and tokens pooled across a field's values.
    #[test]
    fn match_semantics() {
        let t = Tokenizer::default();
        let doc = ["The quick brown fox", "jumps over"];
        assert!(t.matches(TextQuery::All, "QUICK fox", &doc));
        assert!(t.matches(TextQuery::All, "fox jumps", &doc), "tokens of all values pool");
        assert!(!t.matches(TextQuery::All, "quick cat", &doc));
        assert!(!t.matches(TextQuery::All, "qui", &doc), "no substring match with an index");
        assert!(!t.matches(TextQuery::All, "", &doc));
        assert!(!t.matches(TextQuery::All, " ,. ", &doc));
        assert!(t.matches(TextQuery::Any, "cat fox", &doc));
        assert!(!t.matches(TextQuery::Any, "cat dog", &doc));
        assert!(!t.matches(TextQuery::Any, "", &doc));
        assert!(t.matches(TextQuery::Phrase, "quick brown", &doc));
        assert!(!t.matches(TextQuery::Phrase, "brown quick", &doc));
        assert!(!t.matches(TextQuery::Phrase, "quick fox", &doc));
        assert!(!t.matches(TextQuery::Phrase, "", &doc));
        let prefix = tok(json!({"type": "text", "tokenizer": "prefix"}));
        assert!(prefix.matches(TextQuery::All, "qui bro", &doc));
    }

    /// Prevents a removal leaving tokens behind (a point must leave every list
    /// its strings put it in, even a token two values share).
    #[test]
    fn add_then_remove_is_empty() {
        let mut index = TextIndex::new(Tokenizer::default());
        index.add(3, &["a b", "b c"]);
        index.add(4, &["c"]);
        assert_eq!(index.postings(&["b".into()])[0].map(|p| p.len()), Some(1));
        index.remove(3, &["a b", "b c"]);
        index.remove(4, &["c"]);
        assert_eq!(index, TextIndex::new(Tokenizer::default()));
    }
}
