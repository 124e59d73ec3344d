#!/usr/bin/env python3
"""Writes seed inputs for the fuzz targets into fuzz/corpus/<target>/ from the repository's real inputs.

Run by `scripts/fuzz.sh --seed` (then `--minimize` keeps the seeds that add coverage). Files are
named by the SHA-1 of their content, as libFuzzer names the inputs it adds, so seeding twice adds
nothing. Fields of an input are separated by NUL bytes (see fuzz/src/lib.rs).
"""

import glob
import hashlib
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
MAX_SEED_BYTES = 64 * 1024


def rust_strings(path):
    """The string literals of a Rust file (raw and escaped), unescaped."""
    text = open(path, encoding="utf-8").read()
    out = []
    pattern = re.compile(r'r(#*)"(.*?)"\1|"((?:[^"\\\n]|\\.|\\\n)*)"', re.S)
    for match in pattern.finditer(text):
        if match.group(2) is not None:
            out.append(match.group(2))
        else:
            out.append(unescape(match.group(3)))
    return out


def unescape(body):
    def replace(match):
        escape = match.group(0)
        simple = {"\\n": "\n", "\\r": "\r", "\\t": "\t", "\\0": "\0", '\\"': '"', "\\'": "'", "\\\\": "\\"}
        if escape in simple:
            return simple[escape]
        if escape.startswith("\\u{"):
            return chr(int(escape[3:-1], 16))
        if escape.startswith("\\x"):
            return chr(int(escape[2:], 16))
        if escape.startswith("\\\n"):
            return ""
        return escape

    return re.sub(r"\\u\{[0-9a-fA-F]+\}|\\x[0-9a-fA-F]{2}|\\\n\s*|\\.", replace, body)


def write(target, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data or len(data) > MAX_SEED_BYTES:
        return 0
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, hashlib.sha1(data).hexdigest())
    if os.path.exists(path):
        return 0
    with open(path, "wb") as handle:
        handle.write(data)
    return 1


def fields(*parts):
    return "\0".join(parts)


def sns_seeds():
    """`message \\0 subject \\0 message id \\0 timestamp \\0 attributes` of every SNS record in events/."""
    for path in sorted(glob.glob(os.path.join(ROOT, "events", "*.json"))):
        event = json.load(open(path, encoding="utf-8"))
        for record in event.get("Records", []):
            sns = record.get("Sns", {})
            attributes = "\n".join(
                f"{name}={value.get('Value', '')}"
                for name, value in (sns.get("MessageAttributes") or {}).items()
            )
            yield fields(
                sns.get("Message", ""),
                sns.get("Subject") or "",
                sns.get("MessageId", ""),
                sns.get("Timestamp", ""),
                attributes,
            )


def inbound():
    count = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "examples", "alerts", "*"))):
        count += write("inbound", open(path, encoding="utf-8").read())
    for seed in sns_seeds():
        count += write("inbound", seed)
    fixtures = os.path.join(ROOT, "shared", "alert-model", "fixtures", "inbound")
    for path in sorted(glob.glob(os.path.join(fixtures, "*.json")) + glob.glob(os.path.join(fixtures, "*.txt"))):
        body = open(path, encoding="utf-8").read()
        subject_path = os.path.splitext(path)[0] + ".subject"
        if os.path.exists(subject_path):
            subject = open(subject_path, encoding="utf-8").read().rstrip("\n")
            count += write("inbound", fields(body, subject))
        else:
            count += write("inbound", body)
    for text in rust_strings(os.path.join(ROOT, "shared", "alert-model", "src", "inbound", "tests.rs")):
        if len(text) >= 8:
            count += write("inbound", text)
    return count


def template_texts_of(value):
    """Every string holding a template tag in a parsed definitions document."""
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from template_texts_of(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from template_texts_of(item)


def template():
    count = 0
    for path in sorted(glob.glob(os.path.join(ROOT, "shared", "alert-model", "templates", "*"))):
        text = open(path, encoding="utf-8").read()
        count += write("template", text)
        count += write("template", fields(text, "", "", "", "", "Ok"))
        count += write("template", fields(text, "", "", "", "", "Reminder"))
    for text in rust_strings(os.path.join(ROOT, "shared", "alert-model", "src", "template", "tests.rs")):
        if "{{" in text or "{%" in text or "{#" in text:
            count += write("template", text)
    definitions = load_yaml(os.path.join(ROOT, "examples", "definitions.yaml"))
    for text in template_texts_of(definitions):
        count += write("template", text)
    # Hostile values in the fields: markup, JSON breakers, line breaks, template syntax as data.
    count += write(
        "template",
        fields(
            '{"text": "{{@alert.description}}", "m": "{{@monitor.name}}", "t": "{{@CustomField(Team)}}", "k": "{{ApiKey}}"}',
            '"}\n</script>{{ 7*7 }}{% raw %}\\u0000',
            "name\r\nX-Injected: 1",
            "Team=<b>&amp;\"'\nRegion=eu",
            "ApiKey=a\"b\\c\nApiUrl=https://h/p?q=1",
            "Reminder",
        ),
    )
    return count


def load_yaml(path):
    try:
        import yaml
    except ImportError:
        return None
    return yaml.safe_load(open(path, encoding="utf-8"))


def definitions():
    count = 0
    example = os.path.join(ROOT, "examples", "definitions.yaml")
    count += write("definitions_yaml", open(example, encoding="utf-8").read())
    tests = os.path.join(ROOT, "shared", "definition-store", "src", "tests")
    for path in sorted(glob.glob(os.path.join(tests, "*.rs"))):
        for text in rust_strings(path):
            if re.search(r"^\s*(integrations|alertDefinitions|operators|operatorGroups|monitorGroups)\s*:", text, re.M):
                count += write("definitions_yaml", text)
                try:
                    import yaml

                    parsed = yaml.safe_load(text)
                    count += write("definitions_json", json.dumps(parsed, indent=1, ensure_ascii=False))
                except Exception:  # noqa: BLE001 - a fixture that is not valid YAML has no JSON twin
                    pass
    parsed = load_yaml(example)
    if parsed is not None:
        count += write("definitions_json", json.dumps(parsed, indent=2, ensure_ascii=False))
        count += write("definitions_json", json.dumps(parsed, separators=(",", ":")))
    return count


def main():
    total = {"inbound": inbound(), "template": template()}
    total["definitions"] = definitions()
    for name, count in total.items():
        print(f"seed: {name}: {count} new files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
