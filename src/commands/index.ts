/**
 * The daily-work commands that talk to a node's API, by name. src/cli.ts dispatches through this
 * table; a new command is one more entry. Each command's module is loaded only when it runs, so
 * `qproxy records` does not pay for loading the proxy, the store and the other commands.
 */
import type { Command, CommandIo } from './command.js';

export type { Command, CommandIo } from './command.js';

export interface CommandEntry {
  /** One line for `qproxy --help`. */
  summary: string;
  run: Command;
}

export const API_COMMANDS: Readonly<Record<string, CommandEntry>> = {
  records: {
    summary: 'list, show or delete records (table or JSON)',
    run: async (args: string[], io: CommandIo) => (await import('./records.js')).recordsCommand(args, io),
  },
  replay: {
    summary: 'replay records on a Playback node; summary, worst diffs, --min-success exit code',
    run: async (args: string[], io: CommandIo) => (await import('./replay.js')).replayCommand(args, io),
  },
  export: {
    summary: 'write HTTP records as a HAR 1.2 file',
    run: async (args: string[], io: CommandIo) => (await import('./export.js')).exportCommand(args, io),
  },
  import: {
    summary: 'import a HAR 1.2 file into a Playback node',
    run: async (args: string[], io: CommandIo) => (await import('./import.js')).importCommand(args, io),
  },
};
