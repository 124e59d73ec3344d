//! A linear pre-scan of a YAML text that finds where its nesting goes deeper than a limit, before the
//! YAML parser sees it.
//!
//! libyaml, under serde_norway, takes time quadratic in the depth of flow collections (its scanner
//! walks the stack of possible simple keys, one entry per open bracket, at every token), and the
//! loader reads every event of the document before serde's own recursion limit (128) applies: 500 KB
//! of `{a: {a: …}}` took minutes to refuse. Neither offers a depth limit, so this scan counts the
//! nesting itself: block collections by their indentation (a mapping key or a `- ` entry more
//! indented than its parent opens a level), flow collections by their brackets.
//!
//! It tokenises just enough YAML not to count what is not structure: quoted scalars (single and
//! double, over several lines), comments, block scalars (`|`, `>`) and multi-line plain scalars are
//! skipped, with every line break the parser knows. It never counts more levels than the parser
//! sees, so a file it refuses does nest too deep. Where YAML nests without a new indentation or
//! bracket (a sequence at its parent key's indentation, a single-pair mapping in a flow sequence) it
//! counts one level for two: a file it accepts nests at most twice the limit, under serde_norway's
//! own limit, and every bracket, which is what the parser's time depends on, is counted. Whatever it
//! accepts still goes to the parser, which refuses what is not YAML.

/// Where the nesting first goes deeper than the limit: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

/// `Err` with the position of the first collection that opens a level deeper than `limit`.
pub(crate) fn check(text: &str, limit: usize) -> Result<(), TooDeep> {
    let mut scan = Scan {
        text: text.as_bytes(),
        limit,
        block: Vec::new(),
        flow: 0,
        skip_from: None,
    };
    scan.run().map_err(|at| {
        // Lines and columns as the parser counts them: after every line break it knows.
        let (mut line, mut line_start, mut offset) = (1, 0, 0);
        while offset < at {
            match scan.break_len(offset) {
                0 => offset += 1,
                length => {
                    offset += length;
                    line += 1;
                    line_start = offset;
                }
            }
        }
        TooDeep {
            line,
            column: text.get(line_start..at).map_or(0, |part| part.chars().count()) + 1,
        }
    })
}

struct Scan<'a> {
    text: &'a [u8],
    limit: usize,
    /// The columns of the open block collections, innermost last.
    block: Vec<usize>,
    /// Open flow collections.
    flow: usize,
    /// The content of a block scalar or the continuation lines of a plain scalar: lines indented at
    /// least this much (and blank lines) are skipped.
    skip_from: Option<usize>,
}

/// The byte offset of a collection that goes too deep.
type Found = usize;

impl Scan<'_> {
    /// The byte at `at`; a line break past the end.
    fn byte(&self, at: usize) -> u8 {
        self.text.get(at).copied().unwrap_or(b'\n')
    }

    /// The length of the line break at `at`, 0 when there is none; the end of the text counts as one.
    /// The parser's line breaks: LF, CR LF, a lone CR, and NEL, LS and PS in UTF-8 (a file written
    /// with one of the others must not hide its lines from this scan).
    fn break_len(&self, at: usize) -> usize {
        let rest = self.text.get(at..).unwrap_or_default();
        match rest {
            [] | [b'\n', ..] => 1,
            [b'\r', b'\n', ..] => 2,
            [b'\r', ..] => 1,
            [0xc2, 0x85, ..] => 2,
            [0xe2, 0x80, 0xa8 | 0xa9, ..] => 3,
            _ => 0,
        }
    }

    /// Space, tab, a line break or the end of the text.
    fn blank(&self, at: usize) -> bool {
        matches!(self.byte(at), b' ' | b'\t') || self.break_len(at) > 0
    }

    /// Whether the character before `at` is a blank (or `at` starts the text): a `#` there starts a
    /// comment.
    fn after_blank(&self, at: usize) -> bool {
        let before = &self.text[..at.min(self.text.len())];
        matches!(
            before,
            [] | [.., b' ' | b'\t' | b'\r' | b'\n'] | [.., 0xc2, 0x85] | [.., 0xe2, 0x80, 0xa8 | 0xa9]
        )
    }

    /// The offset of the line break ending the line that holds `at` (the length of the text at the
    /// end).
    fn line_end(&self, mut at: usize) -> usize {
        while at < self.text.len() && self.break_len(at) == 0 {
            at += 1;
        }
        at.min(self.text.len())
    }

    /// The start of the line after the one that ends at `end` (a [`Scan::line_end`]).
    fn next_line(&self, end: usize) -> usize {
        end + self.break_len(end).max(1)
    }

    /// Skips spaces and tabs.
    fn skip_spaces(&self, mut at: usize) -> usize {
        while matches!(self.byte(at), b' ' | b'\t') && at < self.text.len() {
            at += 1;
        }
        at
    }

    /// Nothing more on this line but a comment.
    fn line_done(&self, at: usize) -> bool {
        self.break_len(at) > 0 || self.byte(at) == b'#'
    }

    fn run(&mut self) -> Result<(), Found> {
        let mut at = 0;
        if self.text.starts_with("\u{feff}".as_bytes()) {
            at = 3;
        }
        while at < self.text.len() {
            let stopped = self.line(at)?;
            at = self.next_line(self.line_end(stopped));
        }
        Ok(())
    }

    /// One line in block context, starting at `start`; returns where it stopped, which is on a later
    /// line when a flow collection or a quoted scalar goes on there.
    fn line(&mut self, start: usize) -> Result<usize, Found> {
        let first = self.skip_spaces(start);
        if self.line_done(first) {
            return Ok(first); // blank or comment only
        }
        let indent = first - start;
        if indent == 0 {
            // A document marker ends every scalar, even one whose lines this scan skips.
            let marker = &self.text[first..self.text.len().min(first + 3)];
            if (marker == b"---" || marker == b"...") && self.blank(first + 3) {
                self.block.clear();
                self.skip_from = None;
                if marker == b"..." {
                    return Ok(first);
                }
                return self.node(start, self.skip_spaces(first + 3), None);
            }
        }
        if let Some(from) = self.skip_from {
            if indent >= from {
                return Ok(first);
            }
            self.skip_from = None;
        }
        if indent == 0 && self.byte(first) == b'%' {
            return Ok(first); // a directive
        }
        while self.block.last().is_some_and(|&top| top > indent) {
            self.block.pop();
        }
        let mut at = first;
        let mut parent = self.block.last().copied();
        // `- `, `? ` and `: ` entries, each opening a collection at its column (`- - a` nests).
        while matches!(self.byte(at), b'-' | b'?' | b':') && self.blank(at + 1) {
            self.open(at - start, at)?;
            parent = Some(at - start);
            at = self.skip_spaces(at + 1);
            if self.line_done(at) {
                return Ok(at);
            }
        }
        self.node(start, at, parent)
    }

    /// The node at `at` (its anchor or tag included) on the line starting at `start`, inside the
    /// collection at column `parent` (`None`: the document's top level); returns where it stopped.
    /// When the node is an implicit key (followed by `: `), it opens a mapping at its column, and its
    /// value follows on the line or on the next ones.
    fn node(&mut self, start: usize, at: usize, parent: Option<usize>) -> Result<usize, Found> {
        let column = at - start;
        let at = self.properties(at);
        if self.line_done(at) {
            return Ok(at); // the node is on the next lines
        }
        // Lines indented more than the parent continue a scalar: a block scalar's content, a plain
        // scalar's continuation lines.
        let continuation = parent.map_or(0, |column| column + 1);
        let (end, colon) = match self.byte(at) {
            b'|' | b'>' => {
                self.skip_from = Some(continuation);
                return Ok(at);
            }
            b'[' | b'{' => {
                let end = self.flow(at)?;
                (end, self.colon_after(end))
            }
            quote @ (b'"' | b'\'') => {
                let end = self.quoted(at, quote);
                (end, self.colon_after(end))
            }
            // A plain scalar or an alias (`*a : b`).
            _ => (at, self.plain_key_colon(at)),
        };
        match colon {
            // Also when the key spans lines or is itself a value (`a: b: c`), which the parser
            // refuses: counting one level too many is harmless there, missing its value is not.
            Some(colon) => {
                self.open(column, at)?;
                self.node(start, self.skip_spaces(colon + 1), Some(column))
            }
            None => {
                if self.line_end(at) == self.line_end(end) {
                    self.skip_from = Some(continuation);
                }
                Ok(end)
            }
        }
    }

    /// The `:` after a quoted scalar or a flow collection ending at `end` that makes it a key.
    fn colon_after(&self, end: usize) -> Option<usize> {
        let at = self.skip_spaces(end);
        (self.byte(at) == b':' && self.blank(at + 1)).then_some(at)
    }

    /// Skips anchors (`&a`) and tags (`!t`, `!!str`) and the spaces after them.
    fn properties(&self, mut at: usize) -> usize {
        while matches!(self.byte(at), b'&' | b'!') {
            while !self.blank(at) {
                at += 1;
            }
            at = self.skip_spaces(at);
        }
        at
    }

    /// The `:` that makes the plain scalar at `at` a mapping key: followed by a blank, on the same
    /// line, before any comment.
    fn plain_key_colon(&self, at: usize) -> Option<usize> {
        (at..self.line_end(at)).find_map(|offset| match self.text[offset] {
            b'#' if self.after_blank(offset) => Some(None),
            b':' if self.blank(offset + 1) => Some(Some(offset)),
            _ => None,
        })?
    }

    /// Opens a block collection at `column` unless one is open there already.
    fn open(&mut self, column: usize, at: usize) -> Result<(), Found> {
        if self.block.last() != Some(&column) {
            self.block.push(column);
            self.deep_enough(at)?;
        }
        Ok(())
    }

    fn deep_enough(&self, at: usize) -> Result<(), Found> {
        if self.block.len() + self.flow > self.limit {
            Err(at)
        } else {
            Ok(())
        }
    }

    /// The end (just after the closing quote) of the quoted scalar opening at `at`, which may span
    /// lines; the end of the text when it does not close.
    fn quoted(&self, at: usize, quote: u8) -> usize {
        let mut offset = at + 1;
        while offset < self.text.len() {
            match self.text[offset] {
                b'\\' if quote == b'"' => offset += 2,
                b'\'' if quote == b'\'' && self.byte(offset + 1) == b'\'' => offset += 2,
                byte if byte == quote => return offset + 1,
                _ => offset += 1,
            }
        }
        self.text.len()
    }

    /// A flow collection opening at `at`, with everything nested in it, over any number of lines;
    /// returns the offset just after its closing bracket.
    fn flow(&mut self, mut at: usize) -> Result<usize, Found> {
        // Whether a node may start here: a quote opens a quoted scalar only at the start of a node
        // (`[don't]` is a plain scalar).
        let mut node_start = true;
        // Whether the last token was a quoted scalar or a closed collection, after which `:` is a
        // value indicator even without a space (JSON's `"a":"b"`).
        let mut json_key = false;
        while at < self.text.len() {
            let byte = self.text[at];
            match byte {
                b'[' | b'{' => {
                    self.flow += 1;
                    self.deep_enough(at)?;
                    node_start = true;
                    json_key = false;
                }
                b']' | b'}' => {
                    self.flow = self.flow.saturating_sub(1);
                    if self.flow == 0 {
                        return Ok(at + 1);
                    }
                    node_start = false;
                    json_key = true;
                }
                b',' => {
                    node_start = true;
                    json_key = false;
                }
                b'"' | b'\'' if node_start => {
                    at = self.quoted(at, byte);
                    node_start = false;
                    json_key = true;
                    continue;
                }
                b'#' if self.after_blank(at) => {
                    at = self.line_end(at);
                    continue;
                }
                b':' | b'?' if self.blank(at + 1) || (byte == b':' && json_key) => {
                    node_start = true;
                    json_key = false;
                }
                b'&' | b'!' | b'*' if node_start => {
                    while !self.blank(at) && !matches!(self.byte(at), b',' | b'[' | b']' | b'{' | b'}') {
                        at += 1;
                    }
                    node_start = byte != b'*';
                    json_key = false;
                    continue;
                }
                b' ' | b'\t' => {}
                _ if self.break_len(at) > 0 => {
                    at += self.break_len(at);
                    continue;
                }
                _ => {
                    node_start = false;
                    json_key = false;
                }
            }
            at += 1;
        }
        Ok(at)
    }
}
