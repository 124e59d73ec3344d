//! Bounds on what one filter call or one operator may build.
//!
//! Fuel counts instructions and the output limit counts what is written, but one filter call is
//! one instruction and can turn a small input into a huge value before anything is written:
//! `range(100000)|join("x" * 1000)`, `"aaa"|replace("a", big)`, `"x"|indent(10**8)`,
//! `([big] * 100000)|string`. The builtin filters that build values from their arguments, or
//! write a value out as text, are therefore wrapped: their arguments may hold at most
//! [`MAX_BUILT_BYTES`] (string bytes, plus a few per item, through nested sequences and maps), an
//! integer argument (a width, a count, an indent) may be at most [`MAX_INTEGER_ARGUMENT`], and
//! `join`, `replace`, `indent`, `format` and `tojson` refuse a result that would be larger than
//! [`MAX_BUILT_BYTES`]. So are the tests that write a value out as text (`startingwith`,
//! `endingwith`, `in`).
//!
//! The operators are evaluated here too (the template's text is rewritten into calls, see
//! `operators.rs`): [`tilde`] (`~`) refuses a result larger than [`MAX_BUILT_BYTES`], [`plus`]
//! (`+`) and [`times`] (`*`) refuse a string larger than that or a sequence of more than
//! [`MAX_ITEMS`] items before minijinja builds it, and [`needle`] refuses a left operand of `in`
//! whose text would be larger. Every value written out as text goes through [`text_within`],
//! which stops at its limit: a sequence holding the same large string many times (cheap in
//! memory, the items are shared) is never written out whole.
//!
//! [`MAX_BUILT_BYTES`]: super::MAX_BUILT_BYTES

use std::{borrow::Cow, fmt, sync::OnceLock};

use minijinja::{
    Environment, Error, ErrorKind, Expression, State, UndefinedBehavior, Value, filters, tests,
    value::{Rest, ValueKind},
};

use super::{MAX_BUILT_BYTES, helpers::failure};

/// Largest integer argument of a wrapped filter (a width, a count, an indent).
pub const MAX_INTEGER_ARGUMENT: i64 = 10_000;

/// What an item costs beyond its text, so that many empty items weigh something too.
const ITEM_BYTES: usize = 8;

/// Nesting followed when weighing; deeper data is refused.
const MAX_DEPTH: usize = 32;

/// Most items of a sequence the `+` and `*` operators build (what [`MAX_BUILT_BYTES`] allows at
/// 8 bytes an item).
pub const MAX_ITEMS: usize = MAX_BUILT_BYTES / ITEM_BYTES;

/// Replaces the builtin filters that build values with size-checked versions.
pub(super) fn wrap_builtin_filters(env: &mut Environment<'static>) {
    let builtins: Vec<(&'static str, Value)> = vec![
        ("join", Value::from_function(filters::join)),
        ("replace", Value::from_function(filters::replace)),
        ("indent", Value::from_function(filters::indent)),
        ("format", Value::from_function(filters::format)),
        ("tojson", Value::from_function(filters::tojson)),
        ("pprint", Value::from_function(filters::pprint)),
        ("string", Value::from_function(filters::string)),
        ("list", Value::from_function(filters::list)),
        ("sort", Value::from_function(filters::sort)),
        ("unique", Value::from_function(filters::unique)),
        ("reverse", Value::from_function(filters::reverse)),
        ("batch", Value::from_function(filters::batch)),
        ("slice", Value::from_function(filters::slice)),
        ("map", Value::from_function(filters::map)),
        ("select", Value::from_function(filters::select)),
        ("reject", Value::from_function(filters::reject)),
        ("selectattr", Value::from_function(filters::selectattr)),
        ("rejectattr", Value::from_function(filters::rejectattr)),
        ("groupby", Value::from_function(filters::groupby)),
        ("dictsort", Value::from_function(filters::dictsort)),
        ("items", Value::from_function(filters::items)),
        ("chain", Value::from_function(filters::chain)),
        ("zip", Value::from_function(filters::zip)),
        ("sum", Value::from_function(filters::sum)),
        ("min", Value::from_function(filters::min)),
        ("max", Value::from_function(filters::max)),
        ("last", Value::from_function(filters::last)),
        ("lines", Value::from_function(filters::lines)),
        ("split", Value::from_function(filters::split)),
        // These write their input out as text.
        ("safe", Value::from_function(filters::safe)),
        ("lower", Value::from_function(filters::lower)),
        ("upper", Value::from_function(filters::upper)),
        ("title", Value::from_function(filters::title)),
        ("capitalize", Value::from_function(filters::capitalize)),
        ("trim", Value::from_function(filters::trim)),
    ];
    for (name, builtin) in builtins {
        env.add_filter(name, move |state: &State<'_, '_>, args: Rest<Value>| {
            check(name, &args)?;
            builtin.call(state, &args)
        });
    }
    // The tests that write a value out as text.
    let builtins: Vec<(&'static str, Value)> = vec![
        ("startingwith", Value::from_function(tests::is_startingwith)),
        ("endingwith", Value::from_function(tests::is_endingwith)),
        ("in", Value::from_function(tests::is_in)),
    ];
    for (name, builtin) in builtins {
        env.add_test(name, move |state: &State<'_, '_>, args: Rest<Value>| {
            check(name, &args)?;
            builtin.call(state, &args).map(|result| result.is_true())
        });
    }
}

/// Refuses a call of filter `name` whose arguments or result would be too large.
fn check(name: &str, args: &[Value]) -> Result<(), Error> {
    let too_large = || {
        failure(format!(
            "`{name}` would build more than {MAX_BUILT_BYTES} bytes; bound its input"
        ))
    };
    let mut weight = 0usize;
    for arg in args {
        check_integers(name, arg)?;
        weight = weight.saturating_add(
            weigh(arg, MAX_BUILT_BYTES - weight.min(MAX_BUILT_BYTES), 0).ok_or_else(too_large)?,
        );
    }
    let text = |index: usize| args.get(index).and_then(Value::as_str).unwrap_or_default();
    let integer = |index: usize, keyword: &str, default: i64| {
        args.get(index)
            .filter(|value| !value.is_kwargs())
            .and_then(|value| i64::try_from(value.clone()).ok())
            .or_else(|| keyword_integer(args, keyword))
            .unwrap_or(default)
    };
    let result = match name {
        "join" => {
            let items = args.first().map_or(0, count_items);
            items.saturating_mul(text(1).len()).saturating_add(weight)
        }
        "replace" => {
            let (value, from, to) = (text(0), text(1), text(2));
            let occurrences = if from.is_empty() {
                value.chars().count() + 1
            } else {
                value.matches(from).count()
            };
            value.len().saturating_add(occurrences.saturating_mul(to.len()))
        }
        "indent" => {
            let width = usize::try_from(integer(1, "width", 4)).unwrap_or(0);
            let lines = text(0).lines().count() + 1;
            text(0).len().saturating_add(lines.saturating_mul(width))
        }
        "format" => {
            // Widths and precisions in the format string pad the result.
            let padding: usize = text(0)
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|digits| digits.parse::<usize>().ok())
                .fold(0, usize::saturating_add);
            weight.saturating_add(padding)
        }
        "tojson" | "pprint" => {
            let indent = usize::try_from(integer(1, "indent", 0)).unwrap_or(0);
            weight.saturating_mul(indent.saturating_add(2))
        }
        _ => weight,
    };
    if result > MAX_BUILT_BYTES {
        return Err(too_large());
    }
    Ok(())
}

/// Refuses an integer argument (or keyword argument) above [`MAX_INTEGER_ARGUMENT`].
fn check_integers(name: &str, arg: &Value) -> Result<(), Error> {
    let values: Vec<Value> = if arg.is_kwargs() {
        arg.try_iter()
            .map(|keys| keys.filter_map(|key| arg.get_item(&key).ok()).collect())
            .unwrap_or_default()
    } else {
        vec![arg.clone()]
    };
    for value in values {
        if value.kind() == ValueKind::Number
            && let Ok(number) = i64::try_from(value)
            && number > MAX_INTEGER_ARGUMENT
        {
            return Err(failure(format!(
                "`{name}`: the argument {number} is larger than {MAX_INTEGER_ARGUMENT}"
            )));
        }
    }
    Ok(())
}

/// The integer keyword argument `keyword`, when given.
fn keyword_integer(args: &[Value], keyword: &str) -> Option<i64> {
    let kwargs = args.iter().find(|value| value.is_kwargs())?;
    let value = kwargs.get_attr(keyword).ok()?;
    i64::try_from(value).ok()
}

/// The number of items of a sequence, map or iterable (at most what [`MAX_BUILT_BYTES`] allows).
fn count_items(value: &Value) -> usize {
    if value.kind() == ValueKind::String {
        return value.as_str().map_or(0, |text| text.chars().count());
    }
    value.len().unwrap_or_else(|| {
        value
            .try_iter()
            .map(|items| items.take(MAX_BUILT_BYTES / ITEM_BYTES + 1).count())
            .unwrap_or(0)
    })
}

/// Roughly how many bytes `value` holds, or `None` once that exceeds `budget` (or the data is
/// nested deeper than [`MAX_DEPTH`]). Stops early: a huge lazy sequence is not walked to its end.
pub(super) fn weigh(value: &Value, budget: usize, depth: usize) -> Option<usize> {
    if depth > MAX_DEPTH {
        return None;
    }
    let weight = match value.kind() {
        ValueKind::String => value.as_str().map_or(0, str::len),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            let mut total = 0usize;
            let is_map = value.kind() == ValueKind::Map;
            for item in value.try_iter().ok()? {
                total = total.saturating_add(ITEM_BYTES);
                total = total.saturating_add(weigh(&item, budget.saturating_sub(total), depth + 1)?);
                if is_map {
                    let entry = value.get_item(&item).unwrap_or_default();
                    total = total.saturating_add(weigh(&entry, budget.saturating_sub(total), depth + 1)?);
                }
                if total > budget {
                    return None;
                }
            }
            total
        }
        _ => ITEM_BYTES,
    };
    (weight <= budget).then_some(weight)
}

/// `value` written out as text (as minijinja writes it), or `None` when that text would be longer
/// than `limit` bytes or the value is nested deeper than [`MAX_DEPTH`]. Never builds more than
/// `limit` bytes, and visits at most about `limit` items: a sequence holding one large string many
/// times, or lists nested in themselves, are not walked to their end.
pub(super) fn text_within(value: &Value, limit: usize) -> Option<Cow<'_, str>> {
    if let Some(text) = value.as_str() {
        return (text.len() <= limit).then_some(Cow::Borrowed(text));
    }
    // The walk bounds the depth (minijinja writes nested data recursively) and the items visited;
    // an item is written as at least one byte but weighs up to twice `ITEM_BYTES`.
    weigh(value, limit.saturating_mul(2 * ITEM_BYTES), 0)?;
    let mut capped = Capped {
        text: String::new(),
        limit,
    };
    fmt::write(&mut capped, format_args!("{value}")).ok()?;
    Some(Cow::Owned(capped.text))
}

/// A string that refuses to grow beyond `limit` bytes.
struct Capped {
    text: String,
    limit: usize,
}

impl fmt::Write for Capped {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        if self.text.len().saturating_add(text.len()) > self.limit {
            return Err(fmt::Error);
        }
        self.text.push_str(text);
        Ok(())
    }
}

/// An operator the engine evaluates itself (the template's text calls it, see `operators.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operator {
    /// `~`: both operands written out as text, concatenated.
    Tilde,
    /// `+`: numbers added, strings or sequences concatenated.
    Plus,
    /// `*`: numbers multiplied, a string or a sequence repeated.
    Times,
}

impl Operator {
    fn symbol(self) -> &'static str {
        match self {
            Operator::Tilde => "~",
            Operator::Plus => "+",
            Operator::Times => "*",
        }
    }

    /// Why a result is refused: a string of more than `limit` bytes, or a sequence of more than
    /// `limit` items (`limit` is [`MAX_BUILT_BYTES`] or [`MAX_ITEMS`]).
    fn too_large(self, limit: usize) -> String {
        let what = if limit == MAX_ITEMS {
            format!("a sequence of more than {MAX_ITEMS} items")
        } else {
            format!("a string of more than {MAX_BUILT_BYTES} bytes")
        };
        format!(
            "the `{}` operator would build {what}; bound its operands",
            self.symbol()
        )
    }
}

/// `a ~ b`: refused when the text would be larger than [`MAX_BUILT_BYTES`].
pub(super) fn tilde(a: &Value, b: &Value) -> Result<Value, Error> {
    if a.is_undefined() || b.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    let too_large = || failure(Operator::Tilde.too_large(MAX_BUILT_BYTES));
    let left = text_within(a, MAX_BUILT_BYTES).ok_or_else(too_large)?;
    let right = text_within(b, MAX_BUILT_BYTES - left.len()).ok_or_else(too_large)?;
    Ok(Value::from([left, right].concat()))
}

/// `a + b`: refused when it would concatenate into a string larger than [`MAX_BUILT_BYTES`] or a
/// sequence of more than [`MAX_ITEMS`] items; otherwise minijinja's own `+`.
pub(super) fn plus(a: &Value, b: &Value) -> Result<Value, Error> {
    let total = match (sized(a), sized(b)) {
        (Sized::Text(a), Sized::Text(b)) => Some((a.saturating_add(b), MAX_BUILT_BYTES)),
        (Sized::Items(a), Sized::Items(b)) => Some((a.saturating_add(b), MAX_ITEMS)),
        _ => None,
    };
    if let Some((total, limit)) = total
        && total > limit
    {
        return Err(failure(Operator::Plus.too_large(limit)));
    }
    if let (Some(a), Some(b)) = (a.as_str(), b.as_str()) {
        return Ok(Value::from([a, b].concat()));
    }
    if let Some((a, b)) = integers(a, b) {
        return Ok(integer(a + b));
    }
    native(Operator::Plus, a, b)
}

/// `a * b`: refused when it would repeat a string into more than [`MAX_BUILT_BYTES`] or a
/// sequence into more than [`MAX_ITEMS`] items; otherwise minijinja's own `*`.
pub(super) fn times(a: &Value, b: &Value) -> Result<Value, Error> {
    // As minijinja: a string on either side repeats; else a sequence on either side does.
    let repeated = match (sized(a), sized(b)) {
        (Sized::Text(bytes), _) => b.as_usize().map(|count| (bytes, count, MAX_BUILT_BYTES)),
        (_, Sized::Text(bytes)) => a.as_usize().map(|count| (bytes, count, MAX_BUILT_BYTES)),
        (Sized::Items(items), _) => b.as_usize().map(|count| (items, count, MAX_ITEMS)),
        (_, Sized::Items(items)) => a.as_usize().map(|count| (items, count, MAX_ITEMS)),
        _ => None,
    };
    if let Some((size, count, limit)) = repeated
        && size.checked_mul(count).is_none_or(|total| total > limit)
    {
        return Err(failure(Operator::Times.too_large(limit)));
    }
    let repeat = |text: &str, count: &Value| count.as_usize().map(|count| Value::from(text.repeat(count)));
    if let Some(repeated) = a.as_str().and_then(|text| repeat(text, b)) {
        return Ok(repeated);
    }
    if let Some(repeated) = b.as_str().and_then(|text| repeat(text, a)) {
        return Ok(repeated);
    }
    if let Some((a, b)) = integers(a, b) {
        return Ok(integer(a * b));
    }
    native(Operator::Times, a, b)
}

/// Both operands as integers when both are integers that fit an `i64` (the common case, computed
/// here as minijinja does: in 128 bits, which two `i64` cannot overflow by `+` or `*`).
fn integers(a: &Value, b: &Value) -> Option<(i128, i128)> {
    if !a.is_integer() || !b.is_integer() {
        return None;
    }
    Some((i128::from(a.as_i64()?), i128::from(b.as_i64()?)))
}

/// An integer result as minijinja stores it: an `i64` when it fits.
fn integer(value: i128) -> Value {
    i64::try_from(value).map_or_else(|_| Value::from(value), Value::from)
}

/// The left operand of `in`: refused when minijinja would write it out as text larger than
/// [`MAX_BUILT_BYTES`] (it does when the right operand is a string), otherwise unchanged.
pub(super) fn needle(value: &Value) -> Result<Value, Error> {
    if value.is_undefined() || value.as_str().is_some() || text_within(value, MAX_BUILT_BYTES).is_some() {
        return Ok(value.clone());
    }
    Err(failure(format!(
        "the `in` operator would write more than {MAX_BUILT_BYTES} bytes of its left operand as text; bound it"
    )))
}

/// The size of an operand of `+` or `*`.
enum Sized {
    /// A string of this many bytes.
    Text(usize),
    /// A sequence of this many items (counted up to one more than [`MAX_ITEMS`]).
    Items(usize),
    /// Anything else (a number): no size.
    Other,
}

fn sized(value: &Value) -> Sized {
    match value.kind() {
        ValueKind::String => Sized::Text(value.as_str().map_or(0, str::len)),
        ValueKind::Seq | ValueKind::Iterable => Sized::Items(value.len().unwrap_or_else(|| {
            value
                .try_iter()
                .map(|items| items.take(MAX_ITEMS + 1).count())
                .unwrap_or(0)
        })),
        _ => Sized::Other,
    }
}

/// minijinja's own `+` or `*` (its operators are not public), evaluated by a compiled expression
/// of a private environment: sequences, floats, and the operands it refuses, with its own errors.
/// Only called once the result is known to be small.
fn native(operator: Operator, a: &Value, b: &Value) -> Result<Value, Error> {
    struct Native {
        plus: Expression<'static, 'static>,
        times: Expression<'static, 'static>,
    }
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    static NATIVE: OnceLock<Option<Native>> = OnceLock::new();
    let native = NATIVE.get_or_init(|| {
        let env = ENVIRONMENT.get_or_init(|| {
            let mut env = Environment::empty();
            env.set_undefined_behavior(UndefinedBehavior::Strict);
            env
        });
        Some(Native {
            plus: env.compile_expression("a + b").ok()?,
            times: env.compile_expression("a * b").ok()?,
        })
    });
    let expression = match (native, operator) {
        (Some(native), Operator::Plus) => &native.plus,
        (Some(native), Operator::Times) => &native.times,
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("the `{}` operator is not available", operator.symbol()),
            ));
        }
    };
    expression
        .eval(minijinja::context! { a => a.clone(), b => b.clone() })
        // Errors come back as minijinja's, without the private expression's location (the
        // template's line is attached by the render).
        .map_err(|err| match err.detail() {
            Some(detail) => Error::new(err.kind(), detail.to_owned()),
            None => Error::from(err.kind()),
        })
}

/// What is known, before rendering, of an operand whose value is a constant.
#[derive(Debug, Clone)]
pub(super) enum Known {
    /// Not a constant, or nothing worth knowing.
    Unknown,
    /// A number or a boolean: its value (a repetition count, a term of a sum).
    Number(Value),
    /// A string of this many bytes.
    Text(usize),
    /// A sequence of this many items.
    Items(usize),
}

impl Known {
    /// What is known of constant `value`.
    pub(super) fn of(value: &Value) -> Known {
        match value.kind() {
            ValueKind::Number | ValueKind::Bool => Known::Number(value.clone()),
            ValueKind::String => Known::Text(value.as_str().map_or(0, str::len)),
            ValueKind::Seq => value.len().map_or(Known::Unknown, Known::Items),
            _ => Known::Unknown,
        }
    }
}

/// The size of `a <operator> b` over constants, without building it: `Err` with the reason when
/// the operator would refuse it at render time, what is known of the result otherwise.
pub(super) fn constant(operator: Operator, a: &Known, b: &Known) -> Result<Known, String> {
    let too_large = |size: Option<usize>, limit: usize, known: fn(usize) -> Known| match size {
        Some(size) if size <= limit => Ok(known(size)),
        _ => Err(operator.too_large(limit)),
    };
    let count = |value: &Value| value.as_usize();
    match (operator, a, b) {
        (Operator::Tilde, a, b) => {
            let text = |known: &Known| match known {
                Known::Text(bytes) => Some(*bytes),
                Known::Number(value) => Some(value.to_string().len()),
                _ => None,
            };
            match (text(a), text(b)) {
                (Some(a), Some(b)) => too_large(a.checked_add(b), MAX_BUILT_BYTES, Known::Text),
                _ => Ok(Known::Unknown),
            }
        }
        (Operator::Plus, Known::Text(a), Known::Text(b)) => {
            too_large(a.checked_add(*b), MAX_BUILT_BYTES, Known::Text)
        }
        (Operator::Plus, Known::Items(a), Known::Items(b)) => {
            too_large(a.checked_add(*b), MAX_ITEMS, Known::Items)
        }
        (Operator::Times, Known::Text(bytes), Known::Number(n))
        | (Operator::Times, Known::Number(n), Known::Text(bytes)) => match count(n) {
            Some(n) => too_large(bytes.checked_mul(n), MAX_BUILT_BYTES, Known::Text),
            None => Ok(Known::Unknown),
        },
        (Operator::Times, Known::Items(items), Known::Number(n))
        | (Operator::Times, Known::Number(n), Known::Items(items)) => match count(n) {
            Some(n) => too_large(items.checked_mul(n), MAX_ITEMS, Known::Items),
            None => Ok(Known::Unknown),
        },
        (Operator::Plus | Operator::Times, Known::Number(a), Known::Number(b)) => {
            Ok(native(operator, a, b).map_or(Known::Unknown, |value| Known::of(&value)))
        }
        _ => Ok(Known::Unknown),
    }
}
