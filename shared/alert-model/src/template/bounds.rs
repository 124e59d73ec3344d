//! Bounds on what one filter call may build.
//!
//! Fuel counts instructions and the output limit counts what is written, but one filter call is
//! one instruction and can turn a small input into a huge value before anything is written:
//! `range(100000)|join("x" * 1000)`, `"aaa"|replace("a", big)`, `"x"|indent(10**8)`,
//! `([big] * 100000)|string`, `([1] * 10**8)|list`. The builtin filters that build values from
//! their arguments are therefore wrapped: their arguments may hold at most [`MAX_BUILT_BYTES`]
//! (string bytes, plus a few per item, through nested sequences and maps), an integer argument
//! (a width, a count, an indent) may be at most [`MAX_INTEGER_ARGUMENT`], and `join`, `replace`,
//! `indent`, `format` and `tojson` refuse a result that would be larger than [`MAX_BUILT_BYTES`].
//!
//! [`MAX_BUILT_BYTES`]: super::MAX_BUILT_BYTES

use minijinja::{
    Environment, Error, State, Value, filters,
    value::{Rest, ValueKind},
};

use super::{MAX_BUILT_BYTES, helpers::failure};

/// Largest integer argument of a wrapped filter (a width, a count, an indent).
pub const MAX_INTEGER_ARGUMENT: i64 = 10_000;

/// What an item costs beyond its text, so that many empty items weigh something too.
const ITEM_BYTES: usize = 8;

/// Nesting followed when weighing; deeper data is refused.
const MAX_DEPTH: usize = 32;

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
    ];
    for (name, builtin) in builtins {
        env.add_filter(name, move |state: &State<'_, '_>, args: Rest<Value>| {
            check(name, &args)?;
            builtin.call(state, &args)
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
fn weigh(value: &Value, budget: usize, depth: usize) -> Option<usize> {
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
