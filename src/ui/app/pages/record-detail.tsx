/**
 * One record: an HTTP exchange with its headers, bodies and timing (and an upgraded WebSocket's
 * messages), or a TCP session as a conversation of chunks; redaction and truncation marked; download as HAR; delete.
 */
import { useState } from 'preact/hooks';
import { call, download, get } from '../api';
import { base64Bytes, BodyView } from '../components/body-view';
import { HeadersTable } from '../components/headers-table';
import { HexView } from '../components/hex-view';
import { Badge, ErrorBox, Facts, Section } from '../components/ui';
import { bytes, ms, statusClass, time } from '../format';
import { useLoad } from '../hooks';
import { go } from '../route';
import type { FullRecord, HttpRecord, TcpChunk, TcpRecord, WebSocketView, WsMessage } from '../types';

function Redactions({ paths }: { paths: string[] }) {
  if (paths.length === 0) return null;
  return (
    <p class="redactions">
      <Badge kind="info" title="values replaced by REDACTED:… at record time, before storage">
        redacted
      </Badge>{' '}
      {paths.map((p) => (
        <code key={p}>{p}</code>
      ))}
    </p>
  );
}

function Timing({ r }: { r: HttpRecord }) {
  const total = Math.max(r.duration_ms, 0.001);
  const t = r.timings;
  const phases: Array<[string, number | null, number | null, string]> = [
    ['request', 0, t.request_end, 'tm-req'],
    ['waiting for the answer', t.request_end, t.response_start, 'tm-wait'],
    ['response', t.response_start, t.response_end, 'tm-res'],
  ];
  return (
    <div class="timing">
      {phases.map(([label, from, to, cls]) =>
        from === null || to === null ? null : (
          <div class="tm-row" key={label}>
            <span class="tm-label">{label}</span>
            <span class="tm-track">
              <span class={`tm-bar ${cls}`} style={{ marginLeft: `${(from / total) * 100}%`, width: `${Math.max(0.5, ((to - from) / total) * 100)}%` }} />
            </span>
            <span class="tm-ms">{ms(to - from)}</span>
          </div>
        ),
      )}
      <div class="tm-row total">
        <span class="tm-label">total</span>
        <span class="tm-track" />
        <span class="tm-ms">{ms(r.duration_ms)}</span>
      </div>
    </div>
  );
}

function HttpView({ r }: { r: HttpRecord }) {
  return (
    <>
      <Section title="Timing">
        <Timing r={r} />
      </Section>
      <div class="two-col">
        <Section title="Request">
          <HeadersTable headers={r.request.headers} caption="Request headers" />
          <BodyView body={r.request.body} headers={r.request.headers} label="request body" />
          {r.request.trailers.length > 0 && <HeadersTable headers={r.request.trailers} caption="Request trailers" />}
        </Section>
        <Section title={r.response ? `Response ${r.response.status} ${r.response.status_message}` : 'Response'}>
          {r.response === null ? (
            <p class="empty">No response came back{r.error ? ` (${r.error.code})` : ''}.</p>
          ) : (
            <>
              <HeadersTable headers={r.response.headers} caption="Response headers" />
              <BodyView body={r.response.body} headers={r.response.headers} label="response body" />
              {r.response.trailers.length > 0 && <HeadersTable headers={r.response.trailers} caption="Response trailers" />}
            </>
          )}
        </Section>
      </div>
      {r.websocket !== undefined && <WebSocketSection id={r.id} ws={r.websocket} />}
    </>
  );
}

function WsRow({ m }: { m: WsMessage }) {
  const preview =
    m.opcode === 'close' ? (
      <pre class="chunk-text">
        close {m.close_code ?? '(no code)'}
        {m.close_reason ? ` ${m.close_reason}` : ''}
      </pre>
    ) : m.text !== undefined ? (
      <pre class="chunk-text">{m.text}</pre>
    ) : (
      <HexView bytes={base64Bytes(m.data)} />
    );
  return (
    <li class={`chunk ws-message ${m.dir}`}>
      <div class="chunk-head">
        <span>
          #{m.n} {m.dir === 'c2s' ? 'client → server' : 'server → client'} <code class="ws-opcode">{m.opcode}</code>
        </span>
        <span class="muted">
          +{ms(m.t_us / 1000)} · {bytes(m.size)}
          {m.truncated ? ' · truncated' : ''}
        </span>
      </div>
      {preview}
    </li>
  );
}

/** The messages of an upgraded WebSocket, paged from GET /api/records/{id}/websocket. */
function WebSocketSection({ id, ws }: { id: string; ws: WebSocketView }) {
  const [messages, setMessages] = useState<WsMessage[]>(ws.messages);
  const [next, setNext] = useState<number | null>(ws.next);
  const [error, setError] = useState<Error | null>(null);
  const more = async (): Promise<void> => {
    try {
      const page = await get<WebSocketView>(`/api/records/${encodeURIComponent(id)}/websocket?offset=${next}&limit=500`);
      setMessages([...messages, ...page.messages]);
      setNext(page.next);
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <Section title={`WebSocket messages (${ws.messages_total})`}>
      <ErrorBox error={error} />
      <p>
        {ws.deflate && <Badge kind="info" title="payloads were compressed on the wire and are shown inflated">permessage-deflate</Badge>}{' '}
        {ws.dropped > 0 && (
          <Badge kind="warn" title="recording.websocket.max_bytes was reached: later messages were counted, not kept">
            {ws.dropped} messages not kept
          </Badge>
        )}{' '}
        {ws.stopped && (
          <Badge kind="warn" title={ws.stopped.reason}>
            frames unreadable from +{ms(ws.stopped.t_us / 1000)} ({ws.stopped.dir})
          </Badge>
        )}
      </p>
      {messages.length === 0 ? (
        <p class="empty">No messages were exchanged.</p>
      ) : (
        <ol class="conversation websocket">
          {messages.map((m) => (
            <WsRow key={m.n} m={m} />
          ))}
        </ol>
      )}
      {next !== null && (
        <button type="button" onClick={() => void more()}>
          Show more messages
        </button>
      )}
    </Section>
  );
}

function Chunk({ c, hex }: { c: TcpChunk; hex: boolean }) {
  return (
    <li class={`chunk ${c.dir}`}>
      <div class="chunk-head">
        <span>{c.dir === 'c2s' ? 'client → server' : 'server → client'}</span>
        <span class="muted">
          +{ms(c.t_us / 1000)} · {bytes(c.size)}
        </span>
      </div>
      {hex || c.text === undefined ? <HexView bytes={base64Bytes(c.data)} /> : <pre class="chunk-text">{c.text}</pre>}
    </li>
  );
}

function TcpView({ r }: { r: TcpRecord }) {
  const [hex, setHex] = useState(false);
  const [shown, setShown] = useState(200);
  return (
    <Section
      title={`Conversation (${r.chunks.length} chunks)`}
      actions={
        <label class="check">
          <input type="checkbox" checked={hex} onChange={(e) => setHex((e.target as HTMLInputElement).checked)} /> hex for every chunk
        </label>
      }
    >
      {r.truncated && (
        <p>
          <Badge kind="warn" title="the per-session byte cap was reached: later bytes were counted, not kept">
            truncated: the session went on beyond what was kept
          </Badge>
        </p>
      )}
      {r.chunks.length === 0 ? (
        <p class="empty">No bytes were exchanged.</p>
      ) : (
        <ol class="conversation">
          {r.chunks.slice(0, shown).map((c, i) => (
            <Chunk key={i} c={c} hex={hex} />
          ))}
        </ol>
      )}
      {r.chunks.length > shown && (
        <button type="button" onClick={() => setShown(shown + 500)}>
          Show {Math.min(500, r.chunks.length - shown)} more chunks
        </button>
      )}
    </Section>
  );
}

export function RecordDetail({ id }: { id: string }) {
  const { data: r, error } = useLoad(() => get<FullRecord>(`/api/records/${encodeURIComponent(id)}`), id);
  const [actionError, setActionError] = useState<Error | null>(null);

  const har = async (): Promise<void> => {
    try {
      download(`qproxy-${id}.har`, await get<unknown>(`/api/records/${encodeURIComponent(id)}?format=har`));
    } catch (e) {
      setActionError(e as Error);
    }
  };
  const remove = async (): Promise<void> => {
    if (!confirm('Delete this record from the store? This cannot be undone.')) return;
    try {
      await call('DELETE', `/api/records/${encodeURIComponent(id)}`);
      go({ page: 'records' });
    } catch (e) {
      setActionError(e as Error);
    }
  };

  return (
    <main class="page">
      <p class="crumbs">
        <a href="#/records">← Records</a>
      </p>
      <ErrorBox error={error ?? actionError} />
      {r === null ? (
        !error && <p class="muted">Loading…</p>
      ) : (
        <>
          <header class="record-head panel">
            <h1 class="record-title">
              {r.protocol === 'http' ? (
                <>
                  <span class="method">{r.request.method}</span> <span class="url">{r.request.url}</span>{' '}
                  <span class={`status ${statusClass(r.status)}`}>{r.status ?? 'no answer'}</span>
                </>
              ) : (
                <>
                  <span class="badge badge-tcp">TCP</span>{' '}
                  <span class="url">
                    {r.client.address}:{r.client.port} → {r.downstream ?? '?'}
                  </span>{' '}
                  <span class="muted">{r.state === 'open' ? 'open' : r.close_reason}</span>
                </>
              )}
            </h1>
            <div class="actions">
              {r.protocol === 'http' && (
                <button type="button" onClick={() => void har()}>
                  Download HAR
                </button>
              )}
              <button type="button" class="danger" onClick={() => void remove()}>
                Delete
              </button>
            </div>
            <Facts
              rows={[
                ['id', <code>{r.id}</code>],
                ['started', time(r.started_at)],
                ['duration', ms(r.duration_ms)],
                ['node', r.node_id],
                ['client', `${r.client.address}:${r.client.port}`],
                ['downstream', r.downstream ?? '–'],
                ['TLS', r.tls ? [r.tls.version, r.tls.sni && `SNI ${r.tls.sni}`, r.tls.alpn && `ALPN ${r.tls.alpn}`].filter(Boolean).join(' · ') : 'no'],
                ...(r.protocol === 'tcp'
                  ? ([
                      ['bytes in / out', `${bytes(r.bytes_in)} / ${bytes(r.bytes_out)}`],
                      ['TLS to downstream', r.downstream_tls ? 'yes' : 'no'],
                    ] as Array<[string, string]>)
                  : []),
              ]}
            />
            {r.error && (
              <p class="error-box">
                <code>{r.error.code}</code> {r.error.message}
              </p>
            )}
            <Redactions paths={r.redacted} />
          </header>
          {r.protocol === 'http' ? <HttpView r={r} /> : <TcpView r={r} />}
        </>
      )}
    </main>
  );
}
