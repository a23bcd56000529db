// `textDocument/hover`: over a part name, its math as its module states it (through the
// registry); over a field, what it means and its default; over an argument, what it accepts;
// over a param used by name, its declaration.
import { argHover, fieldHover, KEYWORD_DOCS, partHover } from "./catalog.ts";
import { tokenAt, walk } from "./context.ts";
import { offsetAt, positionAt } from "./documents.ts";
import type { Hover, Position } from "./protocol.ts";

export function hover(text: string, position: Position): Hover | null {
  const w = walk(text);
  const found = tokenAt(w, offsetAt(text, position));
  if (!found) return null;
  const { token, role } = found;
  let value: string | undefined;
  switch (role.kind) {
    case "keyword":
      value = KEYWORD_DOCS[role.word];
      break;
    case "field":
      value = fieldHover(role.field);
      break;
    case "part":
      value = partHover(role.field, role.part);
      break;
    case "arg":
      value = argHover(role.field, role.part, role.arg);
      break;
    case "argValue":
      value = argHover(role.field, role.part, role.arg);
      break;
    case "paramRef": {
      // The declaration in force at the end of the walk may be another block's; find the one
      // visible at this token by walking the text up to it.
      const visible = walk(text.slice(0, token.startOffset)).params.find((p) =>
        p.name === role.name
      );
      value = visible
        ? `**param** \`${visible.name} = ${visible.value}\` (line ${visible.line + 1})`
        : undefined;
      break;
    }
  }
  if (value === undefined) return null;
  return {
    contents: { kind: "markdown", value },
    range: {
      start: positionAt(text, token.startOffset),
      end: positionAt(text, token.startOffset + token.image.length),
    },
  };
}
