import type { AppProtocol } from '../recording/model.js';
import { describeMysql } from './mysql/describe.js';
import { MYSQL_DEFAULTS, MysqlFields } from './mysql/fields.js';
import { MysqlSplitter } from './mysql/splitter.js';
import { describePostgres } from './postgres/describe.js';
import { POSTGRES_DEFAULTS, PostgresFields } from './postgres/fields.js';
import { PostgresSplitter } from './postgres/splitter.js';
import { describeRedis } from './redis/describe.js';
import { REDIS_DEFAULTS, RedisFields } from './redis/fields.js';
import { RedisSplitter } from './redis/splitter.js';
import { openMysql } from './mysql/opening.js';
import { MysqlRewriter } from './mysql/rewrite.js';
import { openPostgres } from './postgres/opening.js';
import { openRedis } from './redis/opening.js';
import { RedisRewriter } from './redis/rewrite.js';
import type { ProtocolModule, RequestRewriter } from './types.js';

/** PostgreSQL requests go as recorded: statement and portal names are the client's own. */
const AS_RECORDED: RequestRewriter = { request: (m) => m.data, answer: () => undefined };

const MODULES: Record<AppProtocol, ProtocolModule> = {
  postgres: {
    name: 'postgres',
    splitter: () => new PostgresSplitter(),
    describe: describePostgres,
    fieldReader: () => new PostgresFields(),
    defaults: POSTGRES_DEFAULTS,
    open: openPostgres,
    rewriter: () => AS_RECORDED,
  },
  redis: {
    name: 'redis',
    splitter: () => new RedisSplitter(),
    describe: describeRedis,
    fieldReader: () => new RedisFields(),
    defaults: REDIS_DEFAULTS,
    open: openRedis,
    rewriter: (_recorded, creds) => new RedisRewriter(creds),
  },
  mysql: {
    name: 'mysql',
    splitter: () => new MysqlSplitter(),
    describe: describeMysql,
    fieldReader: () => new MysqlFields(),
    defaults: MYSQL_DEFAULTS,
    open: openMysql,
    rewriter: (recorded) => new MysqlRewriter(recorded),
  },
};

/** The reader of one application protocol. */
export function protocolModule(protocol: AppProtocol): ProtocolModule {
  return MODULES[protocol];
}
