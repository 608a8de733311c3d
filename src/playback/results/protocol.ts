import type { CompareOptions, ResponseSide } from '../compare/types.js';
import type { RecordedOutcome } from '../compare/compare-http.js';
import type { WsSide } from '../compare/compare-websocket.js';
import type { MessageIgnore, SessionSides } from '../compare/compare-messages.js';
import type { AppProtocol } from '../../recording/model.js';
import type { ReplayResult, ResultBase } from './result.js';
import type { ReplayRow } from './writer-db.js';

/** What the results thread is started with. */
export interface ResultsInit {
  path: string;
  /** Results are committed at least this often (and at 500 rows). */
  flushIntervalMs: number;
}

/** A TCP session comparison: the server's byte stream as recorded and as replayed. */
export interface TcpCompareJob {
  recorded: Buffer;
  replayed: Buffer;
  mode: 'exact' | 'length';
  /** The recording kept a prefix only (session byte cap). */
  truncated: boolean;
}

/** A protocol session comparison: both sides in the recording's chunk model, read as messages there. */
export interface MessagesCompareJob {
  protocol: AppProtocol;
  sides: SessionSides;
}

/** Messages to the results thread; handled strictly in order. */
export type ToResults =
  | { type: 'rules'; rulesId: number; compare: CompareOptions; maxDecoded: number }
  | { type: 'compareHttp'; jobId: number; rulesId: number; base: ResultBase; recorded: RecordedOutcome; replayed: ResponseSide }
  | { type: 'compareTcp'; jobId: number; base: ResultBase; job: TcpCompareJob }
  | { type: 'tcpRules'; rulesId: number; ignore: MessageIgnore }
  | { type: 'compareMessages'; jobId: number; rulesId: number; base: ResultBase; job: MessagesCompareJob }
  | { type: 'compareWs'; jobId: number; rulesId: number; base: ResultBase; recorded: WsSide; replayed: WsSide }
  | { type: 'result'; result: ReplayResult }
  | { type: 'replay'; row: ReplayRow }
  | { type: 'meta'; key: string; value: string }
  | { type: 'deleteReplay'; opId: number; id: string }
  | { type: 'purge'; before: number; keepReplays: number }
  | { type: 'flush'; opId: number }
  | { type: 'close' };

/** Messages back. */
export type FromResults =
  | { type: 'ready' }
  | { type: 'fatal'; message: string }
  | { type: 'compared'; jobId: number; match: boolean; truncated: boolean; kinds: string[] }
  | { type: 'opDone'; opId: number; error: string | null }
  | { type: 'writeFailed'; count: number; message: string };
