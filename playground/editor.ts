/// <reference lib="dom" />
// The `.hop` editor: a textarea under a <pre> that shows the same text highlighted by hopc's own
// lexer (so the colours can never disagree with what the parser sees), with each diagnostic's span
// underlined, and the checker's diagnostics listed under the text. No editor dependency: the
// textarea keeps native editing, selection and undo; the <pre> only paints.
import { type Diagnostic, HopLexer, ModelToken, ParamToken } from "./hopc_api.ts";

/** Field names of a model block (LANGUAGE.md section 1), painted apart from part names. */
const FIELDS = new Set(["memory", "similarity", "entropy", "mask", "post", "beta", "steps"]);

/** One class per character of `text`, from the lexer's tokens; what it skips is space or comment. */
export function tokenClasses(text: string): string[] {
  const classes = new Array<string>(text.length).fill("");
  const { tokens } = HopLexer.tokenize(text);
  let prevEnd = 0;
  const paintGap = (from: number, to: number) => {
    // The lexer skips whitespace and `#` comments; a `#` in a gap starts a comment to its line end.
    for (let i = from; i < to; i++) {
      if (text[i] !== "#") continue;
      while (i < to && text[i] !== "\n") classes[i++] = "comment";
    }
  };
  for (const t of tokens) {
    paintGap(prevEnd, t.startOffset);
    const type = t.tokenType;
    const cls = type === ModelToken || type === ParamToken
      ? "keyword"
      : type.name === "Identifier"
      ? (FIELDS.has(t.image) ? "field" : "name")
      : type.name === "NumberLiteral"
      ? "number"
      : "punct";
    for (let i = t.startOffset; i <= (t.endOffset ?? t.startOffset); i++) classes[i] = cls;
    prevEnd = (t.endOffset ?? t.startOffset) + 1;
  }
  paintGap(prevEnd, text.length);
  return classes;
}

/** Character offset of a 1-based line and column. */
function offsetOf(text: string, line: number, col: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", offset);
    if (nl < 0) return text.length;
    offset = nl + 1;
  }
  return Math.min(text.length, offset + col - 1);
}

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The highlighted HTML of `text`, with the spans of `diags` marked `err`. */
export function highlight(text: string, diags: Diagnostic[]): string {
  const classes = tokenClasses(text);
  const err = new Array<boolean>(text.length + 1).fill(false);
  for (const d of diags) {
    const start = offsetOf(text, d.line, d.col);
    for (let i = start; i < Math.min(text.length + 1, start + d.length); i++) err[i] = true;
  }
  let html = "";
  let i = 0;
  while (i < text.length) {
    let j = i + 1;
    while (j < text.length && classes[j] === classes[i] && err[j] === err[i]) j++;
    const cls = [classes[i], err[i] ? "err" : ""].filter((c) => c).join(" ");
    const run = escape(text.slice(i, j));
    html += cls ? `<span class="${cls}">${run}</span>` : run;
    i = j;
  }
  // An error at the very end (a missing `}`) still gets a visible mark; the final newline keeps
  // the <pre> as tall as the textarea.
  if (err[text.length]) html += `<span class="err"> </span>`;
  return html + "\n";
}

/** The diagnostics list: `line:col: error: message` and the hint, one item each. */
export function renderDiagnostics(list: HTMLElement, diags: Diagnostic[]): void {
  list.replaceChildren();
  for (const d of diags) {
    const li = document.createElement("li");
    li.className = d.severity;
    li.dataset.line = String(d.line);
    li.dataset.col = String(d.col);
    li.textContent = `${d.line}:${d.col}: ${d.severity}: ${d.message}${
      d.hint ? ` (hint: ${d.hint})` : ""
    }`;
    list.append(li);
  }
  if (diags.length === 0) {
    const li = document.createElement("li");
    li.className = "ok";
    li.textContent = "no errors";
    list.append(li);
  }
}

/** Wires the textarea to its overlay; `onChange` runs (debounced) after each edit. */
export function attachEditor(
  area: HTMLTextAreaElement,
  overlay: HTMLElement,
  onChange: (text: string) => void,
): { setDiagnostics(diags: Diagnostic[]): void } {
  let diags: Diagnostic[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const paint = () => overlay.innerHTML = highlight(area.value, diags);
  area.addEventListener("input", () => {
    paint();
    clearTimeout(timer);
    timer = setTimeout(() => onChange(area.value), 120);
  });
  area.addEventListener("scroll", () => {
    overlay.scrollTop = area.scrollTop;
    overlay.scrollLeft = area.scrollLeft;
  });
  // Tab inserts two spaces instead of leaving the editor.
  area.addEventListener("keydown", (e) => {
    if (e.key !== "Tab") return;
    e.preventDefault();
    area.setRangeText("  ", area.selectionStart, area.selectionEnd, "end");
    area.dispatchEvent(new Event("input"));
  });
  paint();
  return {
    setDiagnostics(d) {
      diags = d;
      paint();
    },
  };
}
