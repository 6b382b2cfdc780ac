#!/usr/bin/env bash
# Audit of `unsafe` in the project's Rust files, on the host, without a build:
# every `unsafe { }` block and every `unsafe impl` must be preceded by a
# `// SAFETY:` comment, and every `unsafe fn` and `unsafe trait` must have a
# `# Safety` section in its doc comment. The Rust code examples in doc comments
# are checked the same way. Prints one line per finding ("file:line: what is
# missing"), then the counts; exit status 0 only without findings.
#
# With no arguments it checks the project's Rust files in this repository
# (rust/**/*.rs, samples/**/*.rs, bench/**/*.rs, tests/**/*.rs; the upstream
# files that the project edits live in patches/ and are not checked) and
# writes "1 0" (clean) or "0 <findings>" to $CACHE/logs/audit.counts. With
# file arguments it checks those files only and writes no counts.
#
# The rules follow clippy's `undocumented_unsafe_blocks`: the comment is on
# the contiguous comment lines directly above the line of the `unsafe` keyword
# or above the start of an expression, `let` or statement that contains the
# block (attributes in between are fine, a blank line breaks the chain), or on
# the same line. The search goes outwards through parentheses, brackets and
# struct literals, up to the innermost statement of a block or arm of a match.
# An `unsafe fn` that implements a trait method needs no `# Safety` section:
# the trait's declaration carries the contract.
. "$(dirname "$0")/lib.sh"

shopt -s globstar nullglob
if [ $# -gt 0 ]; then
	files=("$@")
	counts=
else
	cd "$TOP"
	files=(rust/**/*.rs samples/**/*.rs bench/**/*.rs tests/**/*.rs)
	counts=$CACHE/logs/audit.counts
fi
[ ${#files[@]} -gt 0 ] || die "no Rust files to check"

# The host's python3, or else the build root's (a copy of the files is
# checked there, under the same relative paths).
run_python() {
	if command -v python3 >/dev/null; then
		python3 - "$@"
		return
	fi
	[ -x "$ROOT/usr/bin/python3" ] || die "no python3 on the host nor in $ROOT"
	local dir
	dir=$(mktemp -d "$ROOT/tmp/audit.XXXXXX")
	tar -cf - "$@" | tar -xf - -C "$dir"
	chroot "$ROOT" /bin/sh -c "cd /tmp/${dir##*/} && exec python3 - \"\$@\"" sh "$@"
	local rc=$?
	rm -rf "$dir"
	return $rc
}

rc=0
out=$(run_python "${files[@]}" <<'EOF'
import re
import sys

KEYWORDS = {
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
    "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true",
    "type", "union", "unsafe", "use", "where", "while",
}
# A `{` whose element contains one of these opens a block of statements or items
# (or a match body), not a struct literal or pattern.
BLOCK_WORDS = {
    "fn", "if", "while", "for", "loop", "else", "impl", "trait", "mod", "enum", "struct",
    "union", "extern", "macro_rules",
}
# Tokens that may follow the `}` of a block and continue the same expression.
CONTINUES = {
    "else", ".", "?", ")", "]", ",", ";", "as", "=>", "+", "-", "*", "/", "%", "&", "|", "^",
    "==", "!=", "<", ">", "<=", ">=", "&&", "||", "=", "+=", "-=", "*=", "/=", "%=", "&=",
    "|=", "^=", "<<", ">>", "<<=", ">>=", "..", "..=",
}
PUNCT3 = {"<<=", ">>=", "...", "..="}
PUNCT2 = {
    "=>", "->", "::", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "%=", "&=",
    "|=", "^=", "<<", ">>", "..",
}
IDENT_START = re.compile(r"[A-Za-z_]")
IDENT = re.compile(r"[A-Za-z0-9_]*")
NUMBER = re.compile(r"[0-9][0-9A-Za-z_]*(\.[0-9][0-9A-Za-z_]*)?")


class Lexed:
    """Tokens of a Rust source, with the comments and code found on each line."""

    def __init__(self, text):
        self.toks = []  # (kind, text, line)
        self.comments = {}  # line -> list of (comment text on that line, is doc)
        self.code = set()  # lines with at least one token
        self.lex(text)

    def comment(self, line, text, doc):
        self.comments.setdefault(line, []).append((text, doc))

    def lex(self, s):
        i, n, line = 0, len(s), 1
        while i < n:
            c = s[i]
            if c == "\n":
                line += 1
                i += 1
            elif c in " \t\r":
                i += 1
            elif s.startswith("//", i):
                j = s.find("\n", i)
                j = n if j < 0 else j
                text = s[i:j]
                doc = (text.startswith("///") and not text.startswith("////")) or text.startswith("//!")
                self.comment(line, text, doc)
                i = j
            elif s.startswith("/*", i):
                depth, j, start = 0, i, i
                doc = s.startswith("/**", i) or s.startswith("/*!", i)
                while j < n:
                    if s.startswith("/*", j):
                        depth += 1
                        j += 2
                    elif s.startswith("*/", j):
                        depth -= 1
                        j += 2
                        if depth == 0:
                            break
                    elif s[j] == "\n":
                        self.comment(line, s[start:j], doc)
                        line += 1
                        j += 1
                        start = j
                    else:
                        j += 1
                self.comment(line, s[start:j], doc)
                i = j
            else:
                m = re.compile(r'(b|c|br|cr)?(r)(#*)"').match(s, i) if c in "bcr" else None
                if m:  # raw string
                    end = '"' + m.group(3)
                    j = s.find(end, m.end())
                    j = n if j < 0 else j + len(end)
                    self.add("lit", s[i:j], line)
                    line += s.count("\n", i, j)
                    i = j
                    continue
                m = re.compile(r'(b|c)?"').match(s, i) if c in 'bc"' else None
                if m:  # string
                    j = m.end()
                    while j < n and s[j] != '"':
                        j += 2 if s[j] == "\\" else 1
                    j += 1
                    self.add("lit", s[i:j], line)
                    line += s.count("\n", i, j)
                    i = j
                    continue
                if c == "'" or (c == "b" and s.startswith("b'", i)):
                    k = i + 1 if c == "'" else i + 2
                    m = re.compile(r"\\(u\{[0-9a-fA-F_]*\}|x..|.)'|[^\\\n]'", re.S).match(s, k)
                    if m:  # character
                        self.add("lit", s[i:m.end()], line)
                        i = m.end()
                        continue
                    if c == "'":  # lifetime or label
                        m = IDENT.match(s, i + 1)
                        self.add("lifetime", s[i:m.end()], line)
                        i = m.end()
                        continue
                if IDENT_START.match(c):
                    m = IDENT.match(s, i)
                    self.add("ident", m.group(0), line)
                    i = m.end()
                elif c.isdigit():
                    m = NUMBER.match(s, i)
                    self.add("lit", m.group(0), line)
                    i = m.end()
                else:
                    for p in (s[i:i + 3], s[i:i + 2]):
                        if p in PUNCT3 or p in PUNCT2:
                            break
                    else:
                        p = c
                    self.add("punct", p, line)
                    i += len(p)

    def add(self, kind, text, line):
        self.toks.append((kind, text, line))
        self.code.add(line)


class Frame:
    def __init__(self, kind, trait_impl=False):
        self.kind = kind  # root, block, match, struct, paren
        self.elem = None  # first token of the current element (statement, argument, arm...)
        self.new_elem = True
        self.after_brace = False
        self.trait_impl = trait_impl


class Audit:
    def __init__(self):
        self.blocks = self.impls = self.fns = 0
        self.ex_blocks = self.ex_impls = self.ex_fns = 0
        self.invariants = 0
        self.findings = []

    def check_file(self, name):
        with open(name, encoding="utf-8") as f:
            text = f.read()
        lx = Lexed(text)
        self.check(name, lx, example=False)
        self.count_invariants(lx)
        for block in doc_examples(lx, text):
            lines = [code for _, code in block]
            sub = Lexed("\n".join(lines))
            # Map the example's lines back to the file's.
            remap(sub, [ln for ln, _ in block])
            self.check(name, sub, example=True)

    # Does `line` carry a SAFETY comment, or the contiguous comment lines above it? Doc
    # comments continue the chain but do not count (their examples are checked apart).
    def safety_near(self, lx, line):
        if any("SAFETY:" in t and not doc for t, doc in lx.comments.get(line, [])):
            return True
        ln = line - 1
        while ln in lx.comments and ln not in lx.code:
            if any("SAFETY:" in t and not doc for t, doc in lx.comments[ln]):
                return True
            ln -= 1
        return False

    # The doc lines that belong to the item starting at token `start`.
    def doc_above(self, lx, start, end_line):
        first = lx.toks[start][2]
        ln = first - 1
        while ln in lx.comments and ln not in lx.code:
            ln -= 1
        docs = []
        for l in range(ln + 1, end_line + 1):
            docs += [t for t, doc in lx.comments.get(l, []) if doc]
        return docs

    def report(self, name, line, what, example):
        self.findings.append((name, line, what + (" (in a doc example)" if example else "")))

    def check(self, name, lx, example):
        toks = lx.toks
        stack = [Frame("root")]
        stack[0].elem = 0
        for i, (kind, text, line) in enumerate(toks):
            top = stack[-1]
            if top.after_brace:
                top.after_brace = False
                if text not in CONTINUES:
                    top.new_elem = True
            if top.new_elem:
                top.elem, top.new_elem = i, False

            if kind == "ident" and text == "unsafe":
                self.unsafe(name, lx, stack, i, example)

            if kind != "punct":
                continue
            if text in ("(", "["):
                stack.append(Frame("paren"))
            elif text == "{":
                stack.append(self.brace(toks, top, i))
            elif text in (")", "]", "}"):
                if len(stack) > 1:
                    closed = stack.pop()
                    if closed.kind != "paren" and stack[-1].kind != "paren":
                        stack[-1].after_brace = True
            elif text == ";":
                top.new_elem = True
            elif text == "," and top.kind in ("match", "struct", "paren"):
                top.new_elem = True

    # Classifies the `{` at token `i` and returns its frame.
    def brace(self, toks, top, i):
        elem = [t for _, t, _ in toks[top.elem:i]]
        prev = toks[i - 1] if i > 0 else ("punct", ";", 0)
        if "match" in elem and "=>" not in elem[elem.index("match"):]:
            return Frame("match")
        trait_impl = False
        if "impl" in elem:
            rest = elem[elem.index("impl"):]
            trait_impl = any(t == "for" and (k + 1 >= len(rest) or rest[k + 1] != "<")
                             for k, t in enumerate(rest))
        struct = (prev[0] == "ident" and prev[1] not in KEYWORDS) or prev[1] in (">", "Self")
        if struct and not BLOCK_WORDS & set(elem):
            return Frame("struct")
        return Frame("block", trait_impl)

    def unsafe(self, name, lx, stack, i, example):
        toks = lx.toks
        nxt = [t for _, t, _ in toks[i + 1:i + 5]]
        line = toks[i][2]
        top = stack[-1]
        if nxt[:1] == ["{"]:
            self.blocks += 1
            self.ex_blocks += example
            if not self.block_documented(lx, stack, i):
                self.report(name, line, "unsafe block without a `// SAFETY:` comment", example)
        elif nxt[:1] == ["impl"]:
            self.impls += 1
            self.ex_impls += example
            if not self.safety_near(lx, toks[top.elem][2]) and not self.safety_near(lx, line):
                self.report(name, line, "unsafe impl without a `// SAFETY:` comment", example)
        elif nxt[:1] == ["trait"] or nxt[:2] == ["auto", "trait"]:
            self.fns += 1
            self.ex_fns += example
            what = "unsafe trait `%s`" % nxt[nxt.index("trait") + 1]
            if not has_safety_section(self.doc_above(lx, top.elem, line)):
                self.report(name, line, what + " without a `# Safety` section in its doc comment", example)
        else:
            k = 1 if nxt[:1] == ["fn"] else 3 if nxt[:1] == ["extern"] and nxt[2:3] == ["fn"] else 0
            if not k or i + k + 1 >= len(toks) or toks[i + k + 1][0] != "ident":
                return  # a function pointer type, or `unsafe` in a macro pattern
            self.fns += 1
            self.ex_fns += example
            if top.trait_impl:
                return
            what = "unsafe fn `%s`" % toks[i + k + 1][1]
            if not has_safety_section(self.doc_above(lx, top.elem, line)):
                self.report(name, line, what + " without a `# Safety` section in its doc comment", example)

    def block_documented(self, lx, stack, i):
        toks = lx.toks
        if self.safety_near(lx, toks[i][2]):
            return True
        for frame in reversed(stack):
            if frame.elem is not None and self.safety_near(lx, toks[frame.elem][2]):
                return True
            if frame.kind in ("root", "block", "match"):
                return False
        return False

    def count_invariants(self, lx):
        toks = lx.toks
        for ln in sorted(lx.comments):
            if not any(doc and re.fullmatch(r"\s*(///|//!)\s*#\s+Invariants\s*", t)
                       for t, doc in lx.comments[ln]):
                continue
            k = next((j for j, t in enumerate(toks) if t[2] > ln), None)
            while k is not None and k + 1 < len(toks) and toks[k][1] == "#":
                depth = 0
                for j in range(k + 1, len(toks)):
                    depth += {"[": 1, "]": -1}.get(toks[j][1], 0)
                    if depth == 0 and toks[j][1] == "]":
                        k = j + 1
                        break
                else:
                    k = None
            if k is None or k >= len(toks):
                continue
            if toks[k][1] == "pub":
                k += 1
                if k < len(toks) and toks[k][1] == "(":
                    while k < len(toks) and toks[k][1] != ")":
                        k += 1
                    k += 1
            if k < len(toks) and toks[k][1] in ("struct", "enum", "union", "type"):
                self.invariants += 1


def has_safety_section(docs):
    return any(re.fullmatch(r"\s*(///|//!|/\*\*|\*)?\s*#\s+Safety\s*", d) for d in docs)


def remap(lx, lines):
    def at(l):
        return lines[l - 1]
    lx.toks = [(k, t, at(l)) for k, t, l in lx.toks]
    lx.code = {at(l) for l in lx.code}
    lx.comments = {at(l): c for l, c in lx.comments.items()}


# The Rust code blocks of the doc comments: lists of (file line, code line).
def doc_examples(lx, text):
    lines = text.split("\n")
    blocks, cur, fence = [], None, None
    for ln in range(1, len(lines) + 1):
        docs = [t for t, doc in lx.comments.get(ln, []) if doc and t[:3] in ("///", "//!")]
        if len(docs) != 1 or ln in lx.code:
            if cur is not None:  # the doc comment ended inside a block
                blocks.append(cur)
                cur = None
            continue
        body = docs[0][3:]
        body = body[1:] if body.startswith(" ") else body
        m = re.match(r"\s*(```+|~~~+)\s*(.*)", body)
        if m and (cur is None or m.group(1) == fence):
            if cur is None:
                tags = [t for t in re.split(r"[\s,{}.]+", m.group(2)) if t]
                rust = all(t in ("rust", "no_run", "ignore", "should_panic", "compile_fail", "test_harness")
                           or t.startswith("edition") for t in tags)
                cur, fence = ([] if rust else None), m.group(1)
                if not rust:
                    cur = "skip"
            else:
                if cur != "skip":
                    blocks.append(cur)
                cur = None
            continue
        if cur is None or cur == "skip":
            continue
        # Hidden lines (`# code`) are code too.
        h = re.match(r"(\s*)#( |$)(.*)", body)
        if h and not body.strip().startswith("#["):
            body = h.group(1) + h.group(3)
        cur.append((ln, body))
    if cur not in (None, "skip"):
        blocks.append(cur)
    return [b for b in blocks if b]


def main():
    audit = Audit()
    for name in sys.argv[1:]:
        try:
            audit.check_file(name)
        except (OSError, UnicodeDecodeError) as e:
            audit.findings.append((name, 0, "cannot be read (%s)" % e))
    for name, line, what in sorted(audit.findings, key=lambda f: (f[0], f[1])):
        print("%s:%d: %s" % (name, line, what))
    a = audit
    print("unsafe-audit: in doc examples %d blocks, %d impls, %d fns (counted below); "
          "%d types document `# Invariants`" % (a.ex_blocks, a.ex_impls, a.ex_fns, a.invariants))
    print("unsafe-audit: %d blocks, %d impls, %d fns checked; %d findings"
          % (a.blocks, a.impls, a.fns, len(a.findings)))
    return 1 if a.findings else 0


sys.exit(main())
EOF
) || rc=$?
printf '%s\n' "$out"
# A crash of the checker (status other than 0 or 1) counts as one finding.
findings=$(printf '%s\n' "$out" | sed -n 's/^unsafe-audit: .* checked; \([0-9]*\) findings$/\1/p')
[ -n "$findings" ] && [ "$rc" -le 1 ] || { findings=1; rc=2; }
if [ -n "$counts" ] && mkdir -p "$(dirname "$counts")" 2>/dev/null; then
	if [ "$findings" -eq 0 ]; then echo "1 0"; else echo "0 $findings"; fi >"$counts" || true
fi
exit "$rc"
