/**
 * Preloaded into the hub by `npm run bench:agents -- --hub-timeline` (`node --import`): when the
 * hub's own work happens on a call's critical path, read from Node's http diagnostics channels, so
 * nothing in the hub is changed or wrapped to measure it. Four instants per call: the caller's
 * request in (headers parsed), the agent's request out (created), the agent's answer in (headers
 * parsed), the caller's answer out (written to the socket). When the process exits they go, as
 * JSON `[kind, epoch ms]` pairs, to the file named by SWITCHBOARD_BENCH_TIMELINE_FILE; the bench
 * pairs them up within its phases (bench/timeline.ts).
 */
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import type { TimelineEvent, TimelineKind } from './timeline.js';

const events: TimelineEvent[] = [];
const at = (kind: TimelineKind) => () => void events.push([kind, performance.timeOrigin + performance.now()]);

subscribe('http.server.request.start', at('in'));
subscribe('http.client.request.start', at('out'));
subscribe('http.client.response.finish', at('back'));
subscribe('http.server.response.finish', at('done'));

const file = process.env.SWITCHBOARD_BENCH_TIMELINE_FILE;
if (file) process.on('exit', () => writeFileSync(file, JSON.stringify(events)));
