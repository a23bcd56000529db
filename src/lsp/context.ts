// What each token of a document is, and what may come next at the cursor. A small state machine
// over hopc's own lexer tokens follows the grammar (grammar/parser.ts):
//
//   model NAME { FIELD VALUE | FIELD PART ( ARG = VALUE , ... ) | param NAME = NUMBER ... }
//
// It works on text that does not parse (the user is typing): an unexpected token moves it to the
// state that token would start (`}` closes the block, `model` opens one, a name in a block starts
// a field), so one mistake does not spoil what follows.
import type { IToken } from "chevrotain";
import {
  Comma,
  Equals,
  HopLexer,
  Identifier,
  LBrace,
  LParen,
  Model,
  NumberLiteral,
  Param,
  RBrace,
  RParen,
} from "../../grammar/tokens.ts";
import { argSpec, FIELD_NAMES, partSpec } from "./catalog.ts";

/** What a token is. */
export type Role =
  | { kind: "keyword"; word: "model" | "param" }
  | { kind: "modelName" }
  | { kind: "paramName" }
  | { kind: "field"; field: string }
  | { kind: "part"; field: string; part: string }
  | { kind: "arg"; field: string; part: string; arg: string }
  | { kind: "argValue"; field: string; part: string; arg: string; value: string }
  | { kind: "paramRef"; name: string }
  | { kind: "other" };

/** Where the walk stands: what the next token may be. */
export type State =
  | { at: "top" }
  | { at: "modelName" }
  | { at: "modelBrace" }
  | { at: "body" }
  | { at: "paramName" }
  | { at: "paramEquals" }
  | { at: "paramValue" }
  /** After a field name on 0-based `line`: its value comes next. */
  | { at: "value"; field: string; line: number }
  | { at: "afterPart"; field: string; part: string }
  | { at: "argName"; field: string; part: string; given: string[] }
  | { at: "argEquals"; field: string; part: string; arg: string; given: string[] }
  | { at: "argValue"; field: string; part: string; arg: string; given: string[] }
  | { at: "argNext"; field: string; part: string; given: string[] };

export interface ParamDecl {
  name: string;
  value: string;
  /** 0-based line of the declaration. */
  line: number;
}

export interface Walk {
  state: State;
  /** Inside a `{ ... }` block. */
  inModel: boolean;
  /** Fields written so far in the current block. */
  fields: string[];
  /** Params visible here: the file's, then the current block's. */
  params: ParamDecl[];
  tokens: { token: IToken; role: Role }[];
}

/** Walk the tokens of `text` (comments and bad characters are skipped by the lexer). */
export function walk(text: string): Walk {
  const w: Walk = { state: { at: "top" }, inModel: false, fields: [], params: [], tokens: [] };
  let topParams: ParamDecl[] = [];
  let pendingParam: ParamDecl | undefined;
  for (const token of HopLexer.tokenize(text).tokens) {
    const type = token.tokenType;
    const role = (r: Role) => w.tokens.push({ token, role: r });
    const rest = (): State => ({ at: w.inModel ? "body" : "top" });
    // Tokens that start or end a construct wherever they stand.
    if (type === Model) {
      role({ kind: "keyword", word: "model" });
      w.inModel = false;
      w.params = [...topParams];
      w.state = { at: "modelName" };
      continue;
    }
    if (type === LBrace) {
      role({ kind: "other" });
      w.inModel = true;
      w.fields = [];
      w.state = { at: "body" };
      continue;
    }
    if (type === RBrace) {
      role({ kind: "other" });
      w.inModel = false;
      w.params = [...topParams];
      w.state = { at: "top" };
      continue;
    }
    if (type === Param) {
      role({ kind: "keyword", word: "param" });
      w.state = { at: "paramName" };
      continue;
    }
    // A token that does not fit the state is taken again as the start of what it can start.
    for (let again = true; again;) {
      again = false;
      const s = w.state;
      switch (s.at) {
        case "modelName":
          if (type === Identifier) {
            role({ kind: "modelName" });
            w.state = { at: "modelBrace" };
          } else {
            role({ kind: "other" });
          }
          break;
        case "paramName":
          if (type === Identifier) {
            role({ kind: "paramName" });
            pendingParam = { name: token.image, value: "", line: line(token) };
            w.state = { at: "paramEquals" };
          } else [w.state, again] = [rest(), true];
          break;
        case "paramEquals":
          if (type === Equals) {
            role({ kind: "other" });
            w.state = { at: "paramValue" };
          } else [w.state, again] = [rest(), true];
          break;
        case "paramValue":
          if (type === NumberLiteral && pendingParam) {
            role({ kind: "other" });
            const decl = { ...pendingParam, value: token.image };
            w.params = [...w.params.filter((p) => p.name !== decl.name), decl];
            if (!w.inModel) topParams = [...w.params];
            w.state = rest();
          } else [w.state, again] = [rest(), true];
          break;
        case "value":
          if (type === NumberLiteral) {
            role({ kind: "other" });
            w.state = rest();
          } else if (type === Identifier && startsField(s, token)) {
            [w.state, again] = [rest(), true];
          } else if (type === Identifier) {
            const isPart = partSpec(s.field, token.image) !== undefined;
            role(isPart ? { kind: "part", field: s.field, part: token.image } : paramRef(token));
            w.state = { at: "afterPart", field: s.field, part: token.image };
          } else [w.state, again] = [rest(), true];
          break;
        case "afterPart":
          if (type === LParen) {
            role({ kind: "other" });
            w.state = { at: "argName", field: s.field, part: s.part, given: [] };
          } else [w.state, again] = [rest(), true];
          break;
        case "argName":
          if (type === Identifier) {
            role({ kind: "arg", field: s.field, part: s.part, arg: token.image });
            w.state = { ...s, at: "argEquals", arg: token.image, given: [...s.given, token.image] };
          } else if (type === Comma) role({ kind: "other" });
          else [w.state, again] = type === RParen ? [closeArgs(w, token), false] : [rest(), true];
          break;
        case "argEquals":
          if (type === Equals) {
            role({ kind: "other" });
            w.state = { ...s, at: "argValue" };
          } else [w.state, again] = argRecover(w, s, token);
          break;
        case "argValue":
          if (type === NumberLiteral || type === Identifier) {
            const spec = argSpec(s.field, s.part, s.arg);
            const isValue = type === Identifier && spec?.kind === "name" &&
              spec.values.includes(token.image);
            role(
              isValue
                ? { kind: "argValue", field: s.field, part: s.part, arg: s.arg, value: token.image }
                : type === Identifier
                ? paramRef(token)
                : { kind: "other" },
            );
            w.state = { at: "argNext", field: s.field, part: s.part, given: s.given };
          } else [w.state, again] = argRecover(w, s, token);
          break;
        case "argNext":
          if (type === Comma) {
            role({ kind: "other" });
            w.state = { at: "argName", field: s.field, part: s.part, given: s.given };
          } else [w.state, again] = argRecover(w, s, token);
          break;
        case "top":
        case "body":
        case "modelBrace":
          if (type === Identifier) {
            // A name where a field may start is a field (a misspelt one too: the checker says so).
            role({ kind: "field", field: token.image });
            w.fields.push(token.image);
            w.state = { at: "value", field: token.image, line: line(token) };
          } else {
            role({ kind: "other" });
          }
          break;
      }
    }
  }
  return w;
}

function line(token: IToken): number {
  return (token.startLine ?? 1) - 1;
}

/**
 * A field name on a later line than the field still waiting for its value: the value is missing
 * (the checker says so) and the user is writing the next field, as in `beta` alone on its line,
 * then `entropy ...`. Newlines are free in hop, but nobody writes a field's value there.
 */
function startsField(s: { field: string; line: number }, token: IToken): boolean {
  return line(token) > s.line && FIELD_NAMES.includes(token.image) &&
    partSpec(s.field, token.image) === undefined;
}

function paramRef(token: IToken): Role {
  return { kind: "paramRef", name: token.image };
}

function closeArgs(w: Walk, token: IToken): State {
  w.tokens.push({ token, role: { kind: "other" } });
  return { at: w.inModel ? "body" : "top" };
}

/**
 * Inside parentheses: `)` closes them, `,` or a name starts the next argument (`alpha, k = 2`
 * lacks a value, not the rest of the list), anything else ends them.
 */
function argRecover(
  w: Walk,
  s: { field: string; part: string; given: string[] },
  token: IToken,
): [State, boolean] {
  if (token.tokenType === RParen) return [closeArgs(w, token), false];
  if (token.tokenType === Comma) {
    w.tokens.push({ token, role: { kind: "other" } });
    return [{ at: "argName", field: s.field, part: s.part, given: s.given }, false];
  }
  if (token.tokenType === Identifier) {
    return [{ at: "argName", field: s.field, part: s.part, given: s.given }, true];
  }
  return [{ at: w.inModel ? "body" : "top" }, true];
}

/** The token whose text contains `offset` (hover), with its role. */
export function tokenAt(w: Walk, offset: number): { token: IToken; role: Role } | undefined {
  return w.tokens.find(({ token }) =>
    token.startOffset <= offset && offset < token.startOffset + token.image.length
  );
}
