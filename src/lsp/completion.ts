// `textDocument/completion`: what may be written at the cursor, from the checker's catalog. The
// text before the word being typed is walked (context.ts); the state it ends in says whether a
// field name, a part of a given field, an argument of a given part, or an argument's value
// comes next.
import {
  argSummary,
  FIELD_DOCS,
  FIELD_NAMES,
  fieldDefault,
  KEYWORD_DOCS,
  partHover,
  partMath,
  partSignature,
  partsOf,
  partSpec,
  takesNumber,
} from "./catalog.ts";
import { type ParamDecl, walk } from "./context.ts";
import { offsetAt, positionAt } from "./documents.ts";
import { type CompletionItem, CompletionItemKind, type Position, type Range } from "./protocol.ts";

export function complete(text: string, position: Position): CompletionItem[] {
  const offset = offsetAt(text, position);
  const before = text.slice(0, offset);
  const lineStart = Math.max(before.lastIndexOf("\n"), before.lastIndexOf("\r")) + 1;
  // `#` always starts a comment (the language has no strings): nothing to complete inside one.
  if (before.slice(lineStart).includes("#")) return [];
  const word = /(?<![A-Za-z0-9_.])[A-Za-z_][A-Za-z0-9_]*$/.exec(before)?.[0] ?? "";
  const range: Range = {
    start: positionAt(text, offset - word.length),
    end: positionAt(text, offset),
  };
  const w = walk(before.slice(0, offset - word.length));
  const s = w.state;
  const item = (label: string, kind: number, detail?: string, doc?: string): CompletionItem => ({
    label,
    kind,
    ...(detail ? { detail } : {}),
    ...(doc ? { documentation: { kind: "markdown", value: doc } } : {}),
    textEdit: { range, newText: label },
  });
  const fieldItems = () =>
    FIELD_NAMES.filter((f) => !w.fields.includes(f)).map((f) =>
      item(f, CompletionItemKind.Field, `default ${fieldDefault(f)}`, FIELD_DOCS[f])
    );
  const paramItems = (params: ParamDecl[]) =>
    params.map((p) => item(p.name, CompletionItemKind.Variable, `param ${p.name} = ${p.value}`));
  const keyword = (k: "model" | "param") =>
    item(k, CompletionItemKind.Keyword, undefined, KEYWORD_DOCS[k]);
  switch (s.at) {
    case "top":
      return [keyword("model"), keyword("param")];
    case "body":
      return [...fieldItems(), keyword("param")];
    case "afterPart":
      // After a complete value, the next field may start (a part's `(` is typed, not completed).
      return [...fieldItems(), keyword("param")];
    case "value": {
      const parts = Object.entries(partsOf(s.field)).map(([p, spec]) =>
        item(
          p,
          CompletionItemKind.Function,
          partMath(s.field, p) ?? partSignature(p, spec),
          partHover(s.field, p),
        )
      );
      return [...parts, ...(takesNumber(s.field) ? paramItems(w.params) : [])];
    }
    case "argName": {
      const spec = partSpec(s.field, s.part);
      if (!spec) return [];
      return Object.keys(spec.args).filter((a) => !s.given.includes(a)).map((a) =>
        item(a, CompletionItemKind.Property, argSummary(s.part, a, spec))
      );
    }
    case "argValue": {
      const arg = partSpec(s.field, s.part)?.args[s.arg];
      if (arg?.kind === "name") {
        return arg.values.map((v) => item(v, CompletionItemKind.EnumMember, `${s.arg} = ${v}`));
      }
      return paramItems(w.params);
    }
    default:
      // A model or param name, `=`, a param's number, or `,`/`)` after an argument: nothing
      // from the catalog fits.
      return [];
  }
}
