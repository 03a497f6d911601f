// Pure helpers for test/architecture/imports.test.ts: find the static import specifiers of a
// TypeScript source, build the file- and folder-level graphs of src/, and find a cycle.
import path from 'node:path';

export interface ImportRef {
  specifier: string;
  /** 1-based line of the `import` / `export` keyword. */
  line: number;
  dynamic: boolean;
}

function lineAt(source: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index; i++) if (source.charCodeAt(i) === 10) n++;
  return n;
}

/**
 * Static `import … from '…'`, `import '…'`, `export … from '…'` (statements starting a line, as
 * this project writes them, so specifiers quoted in comments or strings are not picked up), plus
 * `import('…')` with a literal specifier (dynamic: true).
 */
export function parseImports(source: string): ImportRef[] {
  const out: ImportRef[] = [];
  const patterns: [RegExp, boolean][] = [
    [/^[ \t]*(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])([^'"\n]+)\1/gm, false],
    [/^[ \t]*import\s*(['"])([^'"\n]+)\1/gm, false],
    [/\bimport\(\s*(['"])([^'"\n]+)\1\s*\)/g, true],
  ];
  for (const [re, dynamic] of patterns) {
    for (const m of source.matchAll(re)) {
      const at = m.index! + m[0].search(/\S/);
      out.push({ specifier: m[2]!, line: lineAt(source, at), dynamic });
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

/** 'classify' for src/classify/x.ts, 'src' for src/index.ts. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts[1]! : 'src';
}

export interface Edge {
  from: string;
  line: number;
  /** Resolved path relative to the repo root ('src/eval/index.ts'), or the bare specifier. */
  to: string;
  specifier: string;
  dynamic: boolean;
  /** Relative import that lands inside src/. */
  internal: boolean;
}

/** Every import of every file; files are repo-relative paths ('src/eval/report.ts') → source text. */
export function collectEdges(files: ReadonlyMap<string, string>): Edge[] {
  const edges: Edge[] = [];
  for (const [file, source] of files) {
    for (const ref of parseImports(source)) {
      const relative = ref.specifier.startsWith('.');
      const to = relative ? path.posix.normalize(path.posix.join(path.posix.dirname(file), ref.specifier)) : ref.specifier;
      edges.push({ from: file, line: ref.line, to, specifier: ref.specifier, dynamic: ref.dynamic, internal: relative && to.startsWith('src/') });
    }
  }
  return edges;
}

/** Imports into another src folder that do not target that folder's index.ts, as 'file:line → specifier'. */
export function indexViolations(edges: readonly Edge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    if (!e.internal) continue;
    const a = folderOf(e.from), b = folderOf(e.to);
    if (a === b) continue;
    if (b === 'src' || e.to !== `src/${b}/index.ts`) out.push(`${e.from}:${e.line} → ${e.specifier} (import src/${b}/index.ts instead)`);
  }
  return out;
}

export type Graph = Map<string, Set<string>>;

/** Static internal edges as a graph; with `folders`, between folders (self-loops dropped). */
export function graphOf(edges: readonly Edge[], folders: boolean): Graph {
  const g: Graph = new Map();
  for (const e of edges) {
    const from = folders ? folderOf(e.from) : e.from;
    if (!g.has(from)) g.set(from, new Set());
    if (!e.internal || e.dynamic) continue;
    const to = folders ? folderOf(e.to) : e.to;
    if (folders && from === to) continue;
    g.get(from)!.add(to);
    if (!g.has(to)) g.set(to, new Set());
  }
  return g;
}

/** One cycle as [a, b, …, a] (deterministic: nodes and edges visited in sorted order), or null. */
export function findCycle(g: ReadonlyMap<string, ReadonlySet<string>>): string[] | null {
  const state = new Map<string, 1 | 2>(); // 1 = on the stack, 2 = done
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 1);
    stack.push(n);
    for (const m of [...(g.get(n) ?? [])].sort()) {
      const s = state.get(m);
      if (s === 1) return [...stack.slice(stack.indexOf(m)), m];
      if (s === undefined) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return null;
  };
  for (const n of [...g.keys()].sort()) {
    if (state.has(n)) continue;
    const c = visit(n);
    if (c) return c;
  }
  return null;
}

/** Folder → the folders it imports, sorted, for printing. */
export function describe(g: ReadonlyMap<string, ReadonlySet<string>>): string {
  return [...g.keys()].sort().map((n) => `${n} → ${[...(g.get(n) ?? [])].sort().join(', ') || '(nothing)'}`).join('\n');
}
