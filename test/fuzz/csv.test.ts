// Property-based hostile-input tests for CSV manifests (parser and file reader).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCsv } from '../../src/data/index.ts';
import { csvTarget } from './targets.ts';
import { params, standardProperties } from './helpers.ts';

test('fuzz csv: random bytes, mutated and quote/comma/newline-edited manifests give a result or a clear error', async () => {
  const t = csvTarget();
  try { await standardProperties(t, { random: 600, mutated: 1000, structured: 1000 }); } finally { t.close?.(); }
});

test('fuzz csv: quoting round-trips any fields', () => {
  const quote = (f: string) => (/[",\r\n]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f);
  fc.assert(fc.property(fc.array(fc.array(fc.string({ maxLength: 10 }), { minLength: 2, maxLength: 4 }), { minLength: 1, maxLength: 5 }), (rows) => {
    const text = rows.map((r) => r.map(quote).join(',')).join('\r\n');
    const recs = parseCsv(text.charCodeAt(0) === 0xfeff ? `\ufeff${text}` : text, 'rt.csv');
    assert.deepEqual(recs.map((r) => r.fields), rows);
  }), params(1000));
});
