// The web app's server-sent-events parser (src/server/ui/api.ts), fed the ways a network splits a
// stream: line ends of every kind, CRLF cut between chunks, one byte at a time, comments, no final blank line.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sseParser, type SseEvent } from '../../src/server/ui/api.ts';

function parse(chunks: string[]): SseEvent[] {
  const out: SseEvent[] = [];
  const p = sseParser((e) => out.push(e));
  for (const c of chunks) p.push(c);
  p.end();
  return out;
}

const STREAM = 'event: progress\ndata: {"phase":"classify","step":0,"steps":1}\n\n: keep-alive\n\nevent: result\ndata: {"a":1}\n\n';
const EXPECTED = [{ event: 'progress', data: '{"phase":"classify","step":0,"steps":1}' }, { event: 'result', data: '{"a":1}' }];

test('sseParser: events, comments, default type, multi-line data', () => {
  assert.deepEqual(parse([STREAM]), EXPECTED);
  assert.deepEqual(parse(['data: one\ndata: two\n\n']), [{ event: 'message', data: 'one\ntwo' }]);
  assert.deepEqual(parse(['event: x\n\n']), [], 'no data, no event');
  assert.deepEqual(parse(['event:error\ndata:{"message":"m"}\n\n']), [{ event: 'error', data: '{"message":"m"}' }], 'no space after the colon');
});

test('sseParser: CRLF and CR line ends, split anywhere', () => {
  for (const eol of ['\r\n', '\r']) {
    const s = STREAM.replaceAll('\n', eol);
    assert.deepEqual(parse([s]), EXPECTED, JSON.stringify(eol));
    assert.deepEqual(parse([...s]), EXPECTED, `${JSON.stringify(eol)} one character at a time`);
    for (let i = 1; i < s.length; i++) assert.deepEqual(parse([s.slice(0, i), s.slice(i)]), EXPECTED, `${JSON.stringify(eol)} split at ${i}`);
  }
});

test('sseParser: a last event without the blank line is still delivered at the end', () => {
  assert.deepEqual(parse(['event: result\ndata: {"a":1}']), [{ event: 'result', data: '{"a":1}' }]);
});
