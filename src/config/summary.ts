/**
 * The human summary `qproxy check-config` prints: what the node is, then one line per listener it
 * would open, so an operator can see at a glance what a file will do before running it.
 */
import { formatDuration, formatSize } from './units.js';
import type { QProxyConfig } from './schema.js';

/** Lines describing a validated config (no secrets: tokens are only reported as set or not). */
export function describeConfig(config: QProxyConfig, path: string): string[] {
  const lines = [header(config, path)];
  const { http, tcp } = config;
  if (http) {
    const to = http.downstream.length > 0 ? ` → ${http.downstream.join(', ')}` : ' (serves recordings)';
    lines.push(`http  ${address(http.host, http.port)} ${http.tls ? 'HTTPS (h2, http/1.1)' : 'HTTP/1.1'}${to}`);
  }
  if (tcp) {
    const overTls = tcp.downstream_tls.enabled ? ' over TLS' : '';
    const to = tcp.downstream.length > 0 ? ` → ${tcp.downstream.join(', ')}${overTls}` : ' (serves recordings)';
    lines.push(`tcp   ${address(tcp.host, tcp.port)} ${tcp.tls ? 'TLS' : 'plain'}${to}`);
  }
  const forward = config.forward;
  if (forward) {
    const tls = forward.ca ? 'CONNECT intercepted with the CA' : 'CONNECT tunnelled (no CA)';
    const role = config.mode === 'Playback' ? ', answers from recordings' : '';
    const access = [forward.allow_clients.length > 0 ? `${forward.allow_clients.length} client range(s)` : '', forward.auth ? 'proxy auth' : ''].filter((x) => x !== '');
    lines.push(`fwd   ${address(forward.host, forward.port)} forward proxy, ${tls}${role}${access.length > 0 ? `, ${access.join(' + ')}` : ''}`);
  }
  const nats = config.nats?.enabled ? config.nats : undefined;
  if (nats) {
    const role = config.mode === 'Record' ? 'publishes to' : `consumes (${nats.group ? `group "${nats.group}"` : `durable "${nats.durable ?? `qproxy-${config.node_id}`}"`}) from`;
    const origin = nats.mirror
      ? ` (mirror of domain "${nats.mirror.domain}")`
      : nats.sources
        ? ` (sources: ${nats.sources.map((src) => `"${src.stream ?? nats.stream}" in domain "${src.domain}"`).join(', ')})`
        : '';
    lines.push(`nats  ${role} stream "${nats.stream}" on ${nats.servers.join(', ')}${origin}`);
  } else if (config.mode === 'Playback') {
    const { sync } = config;
    lines.push(`sync  ${address(sync.host, sync.port)} ${sync.tls ? 'TLS' : 'plain'}, ${sync.token ? 'token required' : 'no token'}`);
  }
  lines.push(`api   ${address(config.api.host, config.api.port)} ${config.api.token ? 'token required' : 'no token'}`);
  return lines;
}

function header(config: QProxyConfig, path: string): string {
  const { storage, recording } = config;
  const parts = [`${path}: OK`, `mode ${config.mode}`, `node_id "${config.node_id}"`];
  if (config.mode === 'Record') {
    parts.push(recording.enabled ? `recording on (${recordingDetails(recording).join(', ')})` : 'recording off');
    const peer = config.peer;
    if (config.nats?.enabled) parts.push('records sent through NATS JetStream');
    else parts.push(peer ? `records sent to ${address(peer.host, peer.port)}${peer.tls ? ' over TLS' : ''}` : 'records kept locally');
  }
  const retention = storage.retention === 0 ? 'no age limit' : `retention ${formatDuration(storage.retention)}`;
  const maxSize = storage.max_size === 0 ? 'no size limit' : `max ${formatSize(storage.max_size)}`;
  parts.push(`store ${storage.path} (${retention}, ${maxSize})`);
  return parts.join(', ');
}

function recordingDetails(recording: QProxyConfig['recording']): string[] {
  const out = [`redaction ${recording.redaction.enabled ? 'on' : 'off'}`];
  const rules = (n: number, what: string): string => `${n} ${what} rule${n === 1 ? '' : 's'}`;
  if (recording.include.length > 0) out.push(rules(recording.include.length, 'include'));
  if (recording.exclude.length > 0) out.push(rules(recording.exclude.length, 'exclude'));
  const { sample } = recording;
  if (sample.rate < 1) {
    const key = sample.header !== undefined ? ` by header ${sample.header}` : sample.cookie !== undefined ? ` by cookie ${sample.cookie}` : sample.client_address === true ? ' by client address' : '';
    out.push(`sample ${Math.round(sample.rate * 10_000) / 100}%${key}`);
  }
  return out;
}

function address(host: string, port: number): string {
  const shown = host.includes(':') ? `[${host}]` : host;
  return `${shown}:${port === 0 ? 'any free port' : port}`;
}
