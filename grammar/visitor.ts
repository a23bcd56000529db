// CST -> AST. chevrotain's concrete tree keeps every token under its token-type name; this visitor
// turns it into the small typed tree of src/ast.ts with a span on every node. With error recovery
// on, the CST may be partial (missing children, tokens inserted by the parser that were never in
// the source): such pieces are dropped or flagged `recovered`, never passed on as if written.
import type { CstNode, IToken } from "chevrotain";
import type {
  ArgAst,
  FieldAst,
  FileAst,
  ModelAst,
  NumberLit,
  ParamAst,
  Span,
  ValueAst,
} from "../src/ast.ts";
import { parser } from "./parser.ts";

type Tokens = IToken[] | undefined;
type Nodes = CstNode[] | undefined;

interface FileCtx {
  model?: CstNode[];
  param?: CstNode[];
}
interface ModelCtx {
  Model?: IToken[];
  Identifier?: IToken[];
  LBrace?: IToken[];
  param?: CstNode[];
  field?: CstNode[];
  RBrace?: IToken[];
}
interface ParamCtx {
  Param?: IToken[];
  Identifier?: IToken[];
  Equals?: IToken[];
  NumberLiteral?: IToken[];
}
interface FieldCtx {
  Identifier?: IToken[];
  value?: CstNode[];
}
interface ValueCtx {
  NumberLiteral?: IToken[];
  Identifier?: IToken[];
  LParen?: IToken[];
  args?: CstNode[];
  RParen?: IToken[];
}
interface ArgsCtx {
  arg?: CstNode[];
  Comma?: IToken[];
}
interface ArgCtx {
  Identifier?: IToken[];
  Equals?: IToken[];
  NumberLiteral?: IToken[];
}

/** The first token of a list that was really in the source (not inserted by error recovery). */
function real(tokens: Tokens): IToken | undefined {
  return tokens?.find((t) => !t.isInsertedInRecovery && Number.isFinite(t.startOffset));
}

export function tokenSpan(t: IToken): Span {
  return {
    line: t.startLine ?? 1,
    col: t.startColumn ?? 1,
    start: t.startOffset,
    end: (t.endOffset ?? t.startOffset) + 1,
  };
}

/** From the start of `a` to the end of `b`. */
function join(a: Span, b: Span): Span {
  return { line: a.line, col: a.col, start: a.start, end: Math.max(a.end, b.end) };
}

function numberLit(t: IToken): NumberLit {
  return { kind: "number", value: Number(t.image), text: t.image };
}

/** A field or arg as the visitor returns it: undefined when too little of it survived. */
type Maybe<T> = { node?: T; recovered: boolean };

class AstBuilder extends parser.getBaseCstVisitorConstructor() {
  constructor() {
    super();
    this.validateVisitor();
  }

  file(ctx: FileCtx): FileAst {
    const params = this.list<ParamAst | undefined>(ctx.param).filter((p) => p !== undefined);
    const models = this.list<ModelAst | undefined>(ctx.model).filter((m) => m !== undefined);
    return { params, models };
  }

  model(ctx: ModelCtx, node: CstNode): ModelAst | undefined {
    const keyword = real(ctx.Model);
    if (!keyword) return undefined;
    const nameTok = real(ctx.Identifier);
    const params = this.list<ParamAst | undefined>(ctx.param);
    const fields = this.list<Maybe<FieldAst>>(ctx.field);
    const close = real(ctx.RBrace);
    const last = close ?? lastToken(node) ?? keyword;
    const recovered = !!node.recoveredNode || !nameTok || !real(ctx.LBrace) || !close ||
      params.some((p) => p === undefined || p.value === null) ||
      fields.some((f) => f.recovered || !f.node);
    return {
      name: nameTok?.image ?? "",
      nameSpan: tokenSpan(nameTok ?? keyword),
      span: join(tokenSpan(keyword), tokenSpan(last)),
      params: params.filter((p) => p !== undefined),
      fields: fields.flatMap((f) => (f.node ? [f.node] : [])),
      recovered,
    };
  }

  param(ctx: ParamCtx): ParamAst | undefined {
    const name = real(ctx.Identifier);
    if (!name) return undefined;
    const value = real(ctx.NumberLiteral);
    if (!value) {
      // Keep the name: uses of `b` after a broken `param b = ...` are not "undefined params".
      const at = tokenSpan(name);
      return { name: name.image, nameSpan: at, value: null, text: "", valueSpan: at };
    }
    const lit = numberLit(value);
    return {
      name: name.image,
      nameSpan: tokenSpan(name),
      value: lit.value,
      text: lit.text,
      valueSpan: tokenSpan(value),
    };
  }

  field(ctx: FieldCtx): Maybe<FieldAst> {
    const name = real(ctx.Identifier);
    const value = ctx.value?.[0];
    if (!name || !value) return { recovered: true };
    const v = this.node<Maybe<ValueAst>>(value);
    if (!v.node) return { recovered: true };
    const node = {
      name: name.image,
      nameSpan: tokenSpan(name),
      value: v.node,
      recovered: v.recovered,
    };
    return { node, recovered: v.recovered };
  }

  value(ctx: ValueCtx, node: CstNode): Maybe<ValueAst> {
    const num = real(ctx.NumberLiteral);
    if (num) return { node: { ...numberLit(num), span: tokenSpan(num) }, recovered: false };
    const name = real(ctx.Identifier);
    if (!name) return { recovered: true };
    const nameSpan = tokenSpan(name);
    if (!ctx.LParen) {
      return {
        node: { kind: "name", name: name.image, span: nameSpan },
        recovered: !!node.recoveredNode,
      };
    }
    const args = ctx.args
      ? this.node<Maybe<ArgAst[]>>(ctx.args[0])
      : { node: [], recovered: false };
    const close = real(ctx.RParen);
    const end = tokenSpan(close ?? lastToken(node) ?? name);
    return {
      node: { kind: "name", name: name.image, args: args.node ?? [], span: join(nameSpan, end) },
      recovered: !!node.recoveredNode || args.recovered || !close || !real(ctx.LParen),
    };
  }

  args(ctx: ArgsCtx, node: CstNode): Maybe<ArgAst[]> {
    const args = this.list<ArgAst | undefined>(ctx.arg);
    const kept = args.filter((a) => a !== undefined);
    return { node: kept, recovered: !!node.recoveredNode || kept.length < args.length };
  }

  arg(ctx: ArgCtx, node: CstNode): ArgAst | undefined {
    const eq = real(ctx.Equals);
    if (!eq || node.recoveredNode) return undefined;
    // Both identifiers (the name, and a name as value) are collected under `Identifier`; tell
    // them apart by which side of `=` they sit on.
    const idents = (ctx.Identifier ?? []).filter((t) => real([t]));
    const name = idents.find((t) => t.startOffset < eq.startOffset);
    const valueName = idents.find((t) => t.startOffset > eq.startOffset);
    const num = real(ctx.NumberLiteral);
    const valueTok = num ?? valueName;
    if (!name || !valueTok) return undefined;
    return {
      name: name.image,
      nameSpan: tokenSpan(name),
      value: num ? numberLit(num) : { kind: "name", name: valueTok.image },
      valueSpan: tokenSpan(valueTok),
    };
  }

  /**
   * Visit one node. chevrotain hands visitor methods only the node's children; the node itself
   * goes along as the visit parameter so that methods can see its `recoveredNode` flag.
   */
  private node<T>(n: CstNode): T {
    return this.visit(n, n) as T;
  }

  /** Visit each node of a child list, in source order. */
  private list<T>(nodes: Nodes): T[] {
    return (nodes ?? []).map((n) => this.node<T>(n));
  }
}

/** The last real token under a CST node, for the end of a block that lost its `}`. */
function lastToken(node: CstNode): IToken | undefined {
  let best: IToken | undefined;
  for (const children of Object.values(node.children)) {
    for (const child of children) {
      const t = "image" in child ? real([child]) : lastToken(child);
      if (t && (!best || t.startOffset > best.startOffset)) best = t;
    }
  }
  return best;
}

const builder = new AstBuilder();

/** Build the AST of a whole file from the CST of the `file` rule. */
export function buildAst(cst: CstNode): FileAst {
  return builder.visit(cst, cst) as FileAst;
}
