/**
 * Rules that span fields, checked after the per-field schemas. They may run on a config that also
 * has field errors (so everything is reported at once), hence the defensive type checks.
 */
import { isLoopbackAddress } from '../core/ip-address.js';
import { natsRules } from './schema-nats.js';
import { syncRules } from './schema-sync.js';

/** One cross-field problem; `plain` messages are printed as-is after the path (no "got …"). */
export interface RuleIssue {
  path: (string | number)[];
  message: string;
  plain: boolean;
}

/** The parts of a parsed config the rules read; `unknown` because a field may have failed. */
export interface RuleInput {
  mode?: unknown;
  http?: unknown;
  tcp?: unknown;
  forward?: unknown;
  peer?: unknown;
  playback?: unknown;
  sync?: unknown;
  api?: unknown;
  nats?: unknown;
}

type Section = Record<string, unknown>;

function section(value: unknown): Section | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Section) : undefined;
}

/** Runs every cross-field rule. */
export function crossFieldIssues(config: RuleInput): RuleIssue[] {
  return [...listenerRules(config), ...peerRules(config), ...tcpTlsRules(config), ...balancingRules(config), ...syncRules(config), ...natsRules(config), ...forwardRules(config), ...portClashes(config)];
}

function listenerRules(config: RuleInput): RuleIssue[] {
  if (config.mode !== 'Record') return [];
  const http = section(config.http);
  const tcp = section(config.tcp);
  if (config.http === undefined && config.tcp === undefined && config.forward === undefined) {
    return [
      {
        path: ['mode'],
        message: '"Record" needs an "http", "tcp" or "forward" section to receive the traffic it records — add one with a port (and a downstream for http/tcp)',
        plain: true,
      },
    ];
  }
  const issues: RuleIssue[] = [];
  if (http && isEmptyList(http.downstream)) {
    issues.push({
      path: ['http', 'downstream'],
      message: 'expected an http:// or https:// URL, or a list of them: a Record node forwards requests there',
      plain: false,
    });
  }
  if (tcp && isEmptyList(tcp.downstream)) {
    issues.push({
      path: ['tcp', 'downstream'],
      message: 'expected a list of "host:port" strings like ["localhost:8083"]: a Record node forwards connections there',
      plain: false,
    });
  }
  return issues;
}

/** An absent downstream is parsed to []; an explicit [] fails its own check (and prints once per path). */
function isEmptyList(value: unknown): boolean {
  return value === undefined || (Array.isArray(value) && value.length === 0);
}

function peerRules(config: RuleInput): RuleIssue[] {
  const peer = section(config.peer);
  if (!peer) return [];
  const issues: RuleIssue[] = [];
  if (peer.cert !== undefined && peer.key === undefined) {
    issues.push({ path: ['peer', 'key'], message: 'expected a path to the private key for peer.cert (mutual TLS needs both)', plain: false });
  }
  if (peer.key !== undefined && peer.cert === undefined) {
    issues.push({ path: ['peer', 'cert'], message: 'expected a path to the certificate for peer.key (mutual TLS needs both)', plain: false });
  }
  const tlsFiles = (['ca', 'cert', 'key'] as const).filter((k) => peer[k] !== undefined);
  if (peer.tls === false && tlsFiles.length > 0) {
    const named = tlsFiles.map((k) => `peer.${k}`).join(', ');
    issues.push({ path: ['peer', 'tls'], message: `is false, but ${named} only apply over TLS — set "tls": true or remove them`, plain: true });
  }
  return issues;
}

function tcpTlsRules(config: RuleInput): RuleIssue[] {
  const tls = section(section(config.tcp)?.downstream_tls);
  if (!tls || tls.enabled !== false) return [];
  const set = (['ca', 'servername'] as const).filter((k) => tls[k] !== undefined);
  if (set.length === 0) return [];
  const named = set.map((k) => `tcp.downstream_tls.${k}`).join(', ');
  return [{ path: ['tcp', 'downstream_tls', 'enabled'], message: `is false, but ${named} only apply over TLS — set "enabled": true or remove them`, plain: true }];
}

/** Discovery refuses a max_ejection below ejection at start; say so while reading the file instead. */
function balancingRules(config: RuleInput): RuleIssue[] {
  const issues: RuleIssue[] = [];
  for (const name of ['http', 'tcp'] as const) {
    const passive = section(section(section(config[name])?.balancing)?.passive);
    if (!passive || typeof passive.ejection !== 'number' || typeof passive.max_ejection !== 'number') continue;
    if (passive.max_ejection < passive.ejection) {
      issues.push({
        path: [name, 'balancing', 'passive', 'max_ejection'],
        message: `is shorter than ${name}.balancing.passive.ejection — the longest ejection cannot be shorter than the first; raise it or lower ejection`,
        plain: true,
      });
    }
  }
  return issues;
}

/**
 * An open forward proxy is an open relay into the network it sits in (security.md §2): off loopback
 * it needs a client allow-list or credentials. A Playback node serves intercepted requests from
 * recordings, which needs the CA and serving switched on.
 */
function forwardRules(config: RuleInput): RuleIssue[] {
  const forward = section(config.forward);
  if (!forward) return [];
  const issues: RuleIssue[] = [];
  const host = typeof forward.host === 'string' ? forward.host : '127.0.0.1';
  const clients = Array.isArray(forward.allow_clients) ? forward.allow_clients.length : 0;
  if (!isLoopbackAddress(host) && host !== 'localhost' && clients === 0 && forward.auth === undefined) {
    issues.push({
      path: ['forward', 'host'],
      message: `is "${host}", not a loopback address: an open forward proxy lets anyone who reaches it into your network — set forward.allow_clients (CIDRs), forward.auth, or bind 127.0.0.1`,
      plain: true,
    });
  }
  if (config.mode === 'Playback') {
    if (forward.ca === undefined) {
      issues.push({ path: ['forward', 'ca'], message: 'is required on a Playback node: serving recorded HTTPS answers means intercepting CONNECT with QProxy\'s CA (`qproxy ca create`)', plain: true });
    }
    if (section(section(config.playback)?.serve)?.enabled === false) {
      issues.push({ path: ['forward'], message: 'answers from recordings on a Playback node, but playback.serve.enabled is false — remove the forward section or turn serving on', plain: true });
    }
  }
  return issues;
}

interface Listener {
  name: string;
  host: string;
  port: number;
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** Two listeners on the same port and overlapping addresses would fail at bind time; say so now. */
function portClashes(config: RuleInput): RuleIssue[] {
  const listeners: Listener[] = [];
  const add = (name: string, value: unknown): void => {
    const s = section(value);
    if (s && typeof s.host === 'string' && typeof s.port === 'number' && s.port !== 0) listeners.push({ name, host: s.host, port: s.port });
  };
  add('http', config.http);
  add('tcp', config.tcp);
  add('forward', config.forward);
  // A Playback node that consumes from NATS does not open the sync listener.
  if (config.mode === 'Playback' && !natsEnabled(config.nats)) add('sync', config.sync);
  add('api', config.api);
  const issues: RuleIssue[] = [];
  listeners.forEach((b, i) => {
    const a = listeners.slice(0, i).find((l) => l.port === b.port && overlaps(l.host, b.host));
    if (a) {
      issues.push({
        path: [b.name, 'port'],
        message: `${b.port} is also used by ${a.name} (${a.host}:${a.port}) — give each listener its own port`,
        plain: true,
      });
    }
  });
  return issues;
}

function natsEnabled(nats: unknown): boolean {
  const s = section(nats);
  return s !== undefined && s.enabled !== false;
}

function overlaps(a: string, b: string): boolean {
  return a === b || WILDCARDS.has(a) || WILDCARDS.has(b);
}
