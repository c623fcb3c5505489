/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `bench:proxy --hub-cpu-prof DIR`):
 * self time by function and by package, and inclusive time of chosen frames.
 *
 *   node dist/bench/cpuprofile.js FILE.cpuprofile [--top 40] [--match REGEX]... [--callers REGEX]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';

const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number(), columnNumber: z.number() }),
      children: z.array(z.number()).optional(),
    }),
  ),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

type Profile = z.infer<typeof profileSchema>;
type ProfileNode = Profile['nodes'][number];

/** node_modules/<pkg> or node_modules/@scope/pkg, the project's own dist paths, or node internals. */
function packageOf(url: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith('node:')) return 'node:internal';
  const own = /\/dist\/(src|servers|bench|test)\/(.*)$/.exec(url);
  if (own) return `(own) ${own[1]}/${own[2]!.split('/').slice(0, -1).join('/') || '.'}`;
  return url === '' ? '(native/gc/idle)' : url;
}

function frameLabel(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/');
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
}

function summarise(profile: Profile, top: number, matches: RegExp[], callers: RegExp | undefined): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idleUs = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, v]) => a + v, 0);
  const busyUs = totalUs - idleUs;

  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  const inclusive = new Map<string, number>(matches.map((m) => [m.source, 0]));
  const stacks = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') continue;
    byFn.set(frameLabel(n), (byFn.get(frameLabel(n)) ?? 0) + us);
    byPkg.set(packageOf(n.callFrame.url), (byPkg.get(packageOf(n.callFrame.url)) ?? 0) + us);
    // Inclusive time: charge the sample once to each pattern that matches a frame on its stack.
    const hit = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const label = frameLabel(byId.get(cur)!);
      for (const m of matches) if (m.test(label)) hit.add(m.source);
    }
    for (const h of hit) inclusive.set(h, (inclusive.get(h) ?? 0) + us);
    if (callers?.test(frameLabel(n))) {
      const chain: string[] = [];
      for (let cur = parent.get(id); cur !== undefined && chain.length < 10; cur = parent.get(cur)) chain.push(frameLabel(byId.get(cur)!));
      const key = `${frameLabel(n)}\n           <- ${chain.join('\n           <- ')}`;
      stacks.set(key, (stacks.get(key) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${((100 * us) / busyUs).toFixed(1).padStart(5)}%`;
  const rank = (m: Map<string, number>, k: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, us]) => `${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${name}`);
  return [
    `busy ${(busyUs / 1000).toFixed(0)} ms of ${(totalUs / 1000).toFixed(0)} ms sampled`,
    '',
    'self time by package',
    ...rank(byPkg, 25),
    '',
    `self time by function (top ${top})`,
    ...rank(byFn, top),
    ...(matches.length ? ['', 'inclusive time of frames matching', ...rank(inclusive, matches.length)] : []),
    ...(callers ? ['', `callers of ${callers.source} (self time by stack)`, ...rank(stacks, 8)] : []),
  ].join('\n');
}

const { values, positionals } = parseArgs({
  options: { top: { type: 'string', default: '40' }, match: { type: 'string', multiple: true, default: [] }, callers: { type: 'string' } },
  allowPositionals: true,
});
if (positionals.length === 0) {
  process.stderr.write('usage: node dist/bench/cpuprofile.js FILE.cpuprofile [--top N] [--match REGEX]...\n');
  process.exitCode = 2;
} else {
  for (const file of positionals) {
    const profile = profileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    process.stdout.write(
      `== ${file}\n${summarise(
        profile,
        Number(values.top),
        values.match.map((m) => new RegExp(m)),
        values.callers === undefined ? undefined : new RegExp(values.callers),
      )}\n`,
    );
  }
}
