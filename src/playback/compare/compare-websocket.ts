/**
 * @module Compares the server's side of a replayed WebSocket connection with the recorded one:
 * the handshake status, then each server message in order — opcode, payload (text as JSON where
 * both sides parse, with the HTTP body rules' ignored paths and patterns; else as text or bytes),
 * and the close code. Pings and pongs are keep-alives whose count depends on timing: they are
 * left out before this runs. Pure and synchronous, like the HTTP comparison.
 */
import type { WsOpcode } from '../../recording/model.js';
import { MAX_DIFFERENCES, compareJson } from './compare-http.js';
import { DiffList } from './json-diff.js';
import type { CompiledRules } from './rules.js';
import { diffBodies } from './text-diff.js';
import type { CompareOutcome } from './types.js';

/** One server message to compare. */
export interface WsServerMessage {
  /** Position in its connection (the API's `n`): what diffs name. */
  n: number;
  opcode: WsOpcode;
  data: Uint8Array;
  /** The bytes are a prefix (storage.max_body at record time, or the replay's capture limit). */
  truncated: boolean;
  close_code?: number;
}

/** One side of the comparison: the handshake's status and the server's messages. */
export interface WsSide {
  status: number;
  messages: WsServerMessage[];
}

function buf(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

export function compareWebSocket(recorded: WsSide, replayed: WsSide, rules: CompiledRules): CompareOutcome {
  const list = new DiffList(MAX_DIFFERENCES);
  const notes: string[] = [];
  let truncated = false;
  if (recorded.status !== replayed.status) {
    list.add({ kind: 'status', line: `status: ${recorded.status} → ${replayed.status}` });
    return { match: false, truncated, differences: list.items, more: list.more, notes };
  }
  const n = Math.max(recorded.messages.length, replayed.messages.length);
  for (let i = 0; i < n; i++) {
    const a = recorded.messages[i];
    const b = replayed.messages[i];
    if (a === undefined) {
      list.add({ kind: 'ws message', line: `server message ${i + 1} (replay only): ${b!.opcode}${preview(b!)}` });
      continue;
    }
    const name = `message #${a.n}`;
    if (b === undefined) {
      list.add({ kind: 'ws message', line: `${name}: ${a.opcode} → (not received)` });
      continue;
    }
    if (a.opcode !== b.opcode) {
      list.add({ kind: 'ws opcode', line: `${name}: opcode ${a.opcode} → ${b.opcode}` });
      continue;
    }
    if (a.opcode === 'close') {
      if (a.close_code !== b.close_code) list.add({ kind: 'ws close', line: `${name}: close code ${a.close_code ?? '(none)'} → ${b.close_code ?? '(none)'}` });
      continue;
    }
    if (!rules.body) continue;
    const ra = buf(a.data);
    const rb = buf(b.data);
    if (a.truncated || b.truncated) {
      truncated = true;
      if (rules.truncated === 'skip') {
        notes.push(`${name} was truncated: not compared (compare.truncated = "skip")`);
        continue;
      }
      notes.push(`${name} was truncated: compared the first ${Math.min(ra.length, rb.length)} bytes only`);
      const k = Math.min(ra.length, rb.length);
      const d = diffBodies(ra.subarray(0, k), rb.subarray(0, k), rules.patterns, false);
      if (d) list.add({ kind: 'ws body', line: `${name}: ${d.line}` });
      continue;
    }
    if (a.opcode === 'text' && compareJsonMessage(name, ra, rb, rules, list)) continue;
    const d = diffBodies(ra, rb, rules.patterns, false);
    if (d) list.add({ kind: 'ws body', line: `${name}: ${d.line}` });
  }
  if (recorded.messages.length !== replayed.messages.length) {
    notes.push(`server messages: ${recorded.messages.length} recorded, ${replayed.messages.length} replayed`);
  }
  return { match: list.items.length === 0 && list.more === 0, truncated, differences: list.items, more: list.more, notes };
}

/** True when both texts are JSON: their structural differences (named by `name`) are added. */
function compareJsonMessage(name: string, a: Buffer, b: Buffer, rules: CompiledRules, list: DiffList): boolean {
  const inner = new DiffList(MAX_DIFFERENCES);
  if (!compareJson(a, b, rules, inner)) return false;
  for (const d of inner.items) list.add({ kind: `ws ${d.kind}`, line: `${name}: ${d.line}` });
  list.more += inner.more;
  return true;
}

function preview(m: WsServerMessage): string {
  if (m.opcode !== 'text') return ` (${m.data.byteLength} bytes)`;
  const text = buf(m.data).toString('utf8');
  return ` ${JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)}`;
}
