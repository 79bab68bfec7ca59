/**
 * Unified diffs of two texts (line based, longest common subsequence), as `diff -u` prints them:
 * `---`/`+++` headers, `@@ -a,b +c,d @@` hunks with three lines of context.
 */

/** One line of an edit script. */
export interface DiffLine {
  op: " " | "-" | "+";
  text: string;
}

function splitLines(s: string): string[] {
  if (s === "") return [];
  const lines = s.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** The line edit script turning `a` into `b` (deletions before insertions at each change). */
export function diffLines(a: string, b: string): DiffLine[] {
  const x = splitLines(a);
  const y = splitLines(b);
  const n = x.length;
  const m = y.length;
  // lcs[i][j] = length of the LCS of x[i..] and y[j..]
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    const row = lcs[i]!;
    const below = lcs[i + 1]!;
    for (let j = m - 1; j >= 0; j--) row[j] = x[i] === y[j] ? below[j + 1]! + 1 : Math.max(below[j]!, row[j + 1]!);
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: " ", text: x[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ op: "-", text: x[i++]! });
    else out.push({ op: "+", text: y[j++]! });
  }
  while (i < n) out.push({ op: "-", text: x[i++]! });
  while (j < m) out.push({ op: "+", text: y[j++]! });
  return out;
}

/** The unified diff of `a` and `b`; empty when they are equal. */
export function unifiedDiff(a: string, b: string, labels: { from: string; to: string }, context = 3): string {
  const script = diffLines(a, b);
  if (script.every((l) => l.op === " ")) return "";
  const out = [`--- ${labels.from}`, `+++ ${labels.to}`];
  // Positions (0-based) of changed lines, grouped into hunks whose context windows touch.
  const changed = script.map((l, k) => (l.op === " " ? -1 : k)).filter((k) => k >= 0);
  const groups: { start: number; end: number }[] = [];
  for (const k of changed) {
    const last = groups[groups.length - 1];
    if (last && k - last.end <= 2 * context) last.end = k;
    else groups.push({ start: k, end: k });
  }
  for (const g of groups) {
    const from = Math.max(0, g.start - context);
    const to = Math.min(script.length - 1, g.end + context);
    let aStart = 0;
    let bStart = 0;
    for (let k = 0; k < from; k++) {
      if (script[k]!.op !== "+") aStart++;
      if (script[k]!.op !== "-") bStart++;
    }
    const hunk = script.slice(from, to + 1);
    const aLen = hunk.filter((l) => l.op !== "+").length;
    const bLen = hunk.filter((l) => l.op !== "-").length;
    out.push(`@@ -${range(aStart, aLen)} +${range(bStart, bLen)} @@`);
    for (const l of hunk) out.push(`${l.op}${l.text}`);
  }
  return out.join("\n");
}

/** `start,len` in diff's 1-based convention (an empty range names the line before it). */
function range(start: number, len: number): string {
  if (len === 0) return `${start},0`;
  return len === 1 ? `${start + 1}` : `${start + 1},${len}`;
}
