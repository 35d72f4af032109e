#!/usr/bin/env node
// `ipo` entry: registers tsx so the TypeScript CLI runs without a build step, then hands over to bin/ipo.ts.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// Let lib/util/paths.ts find the kit (and ../shared beside it) even when `ipo` runs from another folder.
process.env.IPO_KIT_ROOT ??= resolve(dirname(fileURLToPath(import.meta.url)), '..');
register();
// started by `npx ipo` / `npm run`: stop when that npm process is killed (npm does not pass signals on to us)
(await import('../lib/util/parent-watch.ts')).watchWrapper();
await import('./ipo.ts');
