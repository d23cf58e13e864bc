/** `--name value` / `--flag` command-line options of the long drill forms, with typed defaults. */
export function parseArgs(argv: string[] = process.argv.slice(2)): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) continue;
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    const next = argv[i + 1];
    if (inline !== undefined) out.set(name, inline);
    else if (next !== undefined && !next.startsWith('--')) {
      out.set(name, next);
      i++;
    } else out.set(name, 'true');
  }
  return out;
}

export function numberArg(args: Map<string, string>, name: string, fallback: number): number {
  const raw = args.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number >= 0, got "${raw}"`);
  return value;
}

/** The traffic flags of the long drill forms: `--rooms`, `--members` (per room), `--interval` (ms between sends). */
export function trafficArgs(
  args: Map<string, string>,
  defaults: { rooms: number; members: number; interval: number },
): { rooms: number; membersPerRoom: number; intervalMs: number } {
  return {
    rooms: numberArg(args, 'rooms', defaults.rooms),
    membersPerRoom: numberArg(args, 'members', defaults.members),
    intervalMs: numberArg(args, 'interval', defaults.interval),
  };
}

/** Runs a long-form drill's main, printing its error and exiting non-zero on failure. */
export function runMain(main: () => Promise<boolean | undefined>): void {
  main().then(
    (ok) => process.exit(ok === false ? 1 : 0),
    (error: unknown) => {
      // The message says what to set or fix; the stack only with DRILL_DEBUG=1.
      const debug = process.env.DRILL_DEBUG === '1';
      console.error(
        error instanceof Error ? (debug ? (error.stack ?? error.message) : error.message) : error,
      );
      process.exit(1);
    },
  );
}
