/**
 * Stop the job when the `npx ipo …` (or `npm run …`) process that started it is gone (issue 11).
 *
 * `npx ipo x` is three processes: `npm exec` → `sh -c 'ipo' x` → `node bin/ipo.mjs x`. npm forwards SIGTERM and
 * SIGINT to the shell only, and the shell dies without passing them on, so `kill <pid of npx>` used to leave the real
 * job running as an orphan (and SIGKILL or SIGHUP of npm is forwarded to nobody). So, when started by npm
 * (`npm_lifecycle_event` set), the CLI watches its two ancestors every half second: when the shell is gone (our
 * parent changed) or npm is gone (the shell's parent changed, read from `/proc` on Linux), it prints one line and
 * sends itself SIGTERM, which stops it the way `kill <pid of node>` would (`ipo serve` closes its server first).
 * Elsewhere than Linux only the shell is watched (SIGTERM / SIGINT of npx). `IPO_PARENT_WATCH=0` turns it off, for
 * a job that must outlive the npm process that started it.
 */
import { readFileSync } from 'node:fs';

/** The parent pid of `pid` from `/proc/<pid>/stat`, or null (no such process, or no `/proc`). */
export function procParent(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return Number.isInteger(ppid) ? ppid : null;
}

export interface WrapperWatchOptions {
  /** Poll period (default 500 ms). */
  intervalMs?: number;
  /** What to do when the wrapper is gone (default: one line on stderr, then SIGTERM to this process). */
  onGone?: (why: string) => void;
  /** Watch even when not started by npm (tests). */
  force?: boolean;
}

function stopSelf(why: string): void {
  try {
    process.stderr.write(`ipo: ${why}; stopping (IPO_PARENT_WATCH=0 keeps a job running without it)\n`);
  } catch {
    /* the terminal may be gone too */
  }
  // a SIGTERM handler (ipo serve) gets a few seconds to finish; then the process goes anyway
  setTimeout(() => process.exit(143), 5000).unref();
  process.kill(process.pid, 'SIGTERM');
}

/**
 * Start the watch when this process was started by npm (see the file comment). Returns a function that stops it,
 * or null when there is nothing to watch. The timer does not keep the process alive.
 */
export function watchWrapper(opts: WrapperWatchOptions = {}): (() => void) | null {
  if (process.env.IPO_PARENT_WATCH === '0') return null;
  if (!opts.force && process.env.npm_lifecycle_event === undefined) return null;
  const parent = process.ppid;
  if (parent <= 1) return null; // already orphaned at start: nobody to watch
  const grandparent = procParent(parent);
  const onGone = opts.onGone ?? stopSelf;
  const timer = setInterval(() => {
    let why: string | null = null;
    if (process.ppid !== parent) why = `the process that started this job (pid ${parent}) is gone`;
    else if (grandparent !== null && procParent(parent) !== grandparent) why = `the npm/npx process that started this job (pid ${grandparent}) is gone`;
    if (why) {
      clearInterval(timer);
      onGone(why);
    }
  }, opts.intervalMs ?? 500);
  timer.unref();
  return () => clearInterval(timer);
}
