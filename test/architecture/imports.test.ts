import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectEdges, describe, findCycle, folderOf, graphOf, indexViolations, parseImports, type Edge } from './graph.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(path.join(root, d), { withFileTypes: true })) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) out.set(p, fs.readFileSync(path.join(root, p), 'utf8'));
    }
  };
  walk(dir);
  return out;
}

const edges = collectEdges(sources('src'));

test('an import into another src folder targets that folder\'s index.ts', () => {
  const bad = indexViolations(edges);
  assert.deepEqual(bad, [], `imports past a folder's index.ts:\n  ${bad.join('\n  ')}`);
});

test('the folder graph of src/ has no cycle', () => {
  const g = graphOf(edges, true);
  const cycle = findCycle(g);
  assert.equal(cycle, null, `folder cycle: ${cycle?.join(' → ')}\n${describe(g)}`);
});

test('the file graph of src/ has no cycle', () => {
  const cycle = findCycle(graphOf(edges, false));
  assert.equal(cycle, null, `file cycle: ${cycle?.join(' → ')}`);
});

test('src/util and src/stats are leaves: nothing outside themselves but node: builtins (stats: not even those)', () => {
  const bad = edges
    .filter((e) => e.from.startsWith('src/util/') || e.from.startsWith('src/stats/'))
    .filter((e: Edge) => {
      const own = folderOf(e.from);
      if (e.internal) return folderOf(e.to) !== own;
      if (e.specifier.startsWith('@tensorflow') || e.specifier === 'sharp') return true;
      // The one exception: the module-worker starter's bootstrap registers tsx inside a worker run
      // from the .ts sources (tests, development); compiled code never loads it.
      if (e.from === 'src/util/worker.ts' && e.specifier === 'tsx/esm/api' && e.dynamic) return false;
      return !(own === 'util' && e.specifier.startsWith('node:'));
    })
    .map((e) => `${e.from}:${e.line} → ${e.specifier}${e.dynamic ? ' (dynamic)' : ''}`);
  assert.deepEqual(bad, [], `leaf folders importing outside themselves:\n  ${bad.join('\n  ')}`);
  assert.ok(edges.some((e) => e.from === 'src/util/index.ts'), 'src/util/index.ts was scanned');
  assert.ok(edges.some((e) => e.from === 'src/stats/index.ts'), 'src/stats/index.ts was scanned');
});

test('the checker sees imports and catches a synthetic cycle and a reach past an index', () => {
  const src = [
    "import fs from 'node:fs';",
    'import {',
    '  a,',
    "  type B,",
    "} from '../b/index.ts';",
    "export { c } from './c.ts';",
    "import './side.ts';",
    "// import { no } from '../commented/index.ts';",
    "const later = await import('../d/index.ts');",
  ].join('\n');
  assert.deepEqual(parseImports(src).map((r) => [r.specifier, r.line, r.dynamic]), [
    ['node:fs', 1, false], ['../b/index.ts', 2, false], ['./c.ts', 6, false], ['./side.ts', 7, false], ['../d/index.ts', 9, true],
  ]);
  const files = new Map([
    ['src/classify/window.ts', "import { auroc } from '../eval/index.ts';"],
    ['src/classify/index.ts', "export { searchTimeWindow } from './window.ts';"],
    ['src/eval/index.ts', "export { summarize } from './metrics.ts';"],
    ['src/eval/metrics.ts', "import type { ImageResult } from '../classify/index.ts';\nimport { pairVote } from '../classify/vote.ts';"],
    ['src/classify/vote.ts', ''],
  ]);
  const e = collectEdges(files);
  assert.deepEqual(findCycle(graphOf(e, true)), ['classify', 'eval', 'classify']);
  assert.deepEqual(findCycle(graphOf(e, false)), ['src/classify/index.ts', 'src/classify/window.ts', 'src/eval/index.ts', 'src/eval/metrics.ts', 'src/classify/index.ts']);
  assert.deepEqual(indexViolations(e), ['src/eval/metrics.ts:2 → ../classify/vote.ts (import src/classify/index.ts instead)']);
  assert.equal(findCycle(new Map([['a', new Set(['b'])], ['b', new Set(['c'])], ['c', new Set()]])), null);
});
